#!/usr/bin/env bash
# Writes the man pages (man/) and shell completions (completions/) from the clap definitions.
# Usage: scripts/generate.sh [OUT_ROOT]   (default: the repository itself)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root}
cargo build -q -p pbxd -p pbxctl -p pbxtop --manifest-path "$root/Cargo.toml"
bin="${CARGO_TARGET_DIR:-$root/target}/debug"
mkdir -p "$out/man" "$out/completions"
for b in pbxd pbxctl pbxtop; do
  "$bin/$b" --generate man --out "$out/man"
  "$bin/$b" --generate complete-bash --out "$out/completions"
  "$bin/$b" --generate complete-zsh --out "$out/completions"
  "$bin/$b" --generate complete-fish --out "$out/completions"
done
