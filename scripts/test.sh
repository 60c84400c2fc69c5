#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, build, unit and end-to-end tests, and
# the generated man pages and completions. Installs what the tests need when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests use: SIPp (sip-tester) plays SIP phones and providers; baresip-core is
# a real softphone (tests/tests/sip_baresip.rs; the core package has every module the test loads,
# without the GTK/ffmpeg/gstreamer extras). The browser (chromium, chromium-driver) joins this
# list with the tests that use it.
packages=(sip-tester baresip-core tmux)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installeren: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo build --workspace --locked
cargo test --workspace --locked --no-fail-fast
scripts/check-generated.sh
