#!/usr/bin/env bash
# Announcements and keuzemenu media cost (no I/O): WAV read + resample per input format, RTP
# packets from the prompt player, in-band DTMF (Goertzel) per 20 ms frame. Not a test; numbers go
# into voip_module_log.md.
# Usage: bench/media/prompt.sh [SECONDS_OF_AUDIO]   (default 60)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
exec cargo run -q --release --manifest-path "$root/Cargo.toml" -p pbx-media --example prompt_cost -- "${1:-60}"
