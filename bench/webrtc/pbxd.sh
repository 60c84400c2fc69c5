#!/usr/bin/env bash
# Browser legs (WebRTC) against a real pbxd: how many concurrent softphone calls two cores carry.
# Not a test; numbers go into voip_module_log.md.
#
# Starts a release pbxd on loopback (a fresh conf.d: UDP listener, [http] on a free port, RTP
# ports 10000-31999), provisions organisation "bench" with users agent0 … agent(2N-1) (role
# agent, one password) owning extensions 2000 … 2000+2N-1, and runs the driver
# (bench/softphone, `softphone-bench`) for every N pairs in NS and both codecs: agent(2i) dials
# agent(2i+1)'s extension from its page (call:dial with a WebRTC offer), agent(2i+1) answers
# (call:incoming → call:answer), both clients send 20 ms frames both ways for SECS seconds. Every
# pair is two browser legs: two WebRTC bridges in pbxd with pbxd's relay between their plain sides.
#
# Columns: legs (browser legs = 2 × pairs), codec (what the clients offer: pcmu = no transcoding,
# opus = both bridges transcode Opus <-> PCMU), up (legs with media at both ends), setup p50/p99
# (call:dial sent → first packet at both clients), loss (received by the clients vs sent by their
# peers over the steady phase), pbxd CPU % and driver CPU % (of one core, /proc ticks over the
# steady phase), pbxd CPU % during set-up, pbxd RSS at the end of the steady phase (and before the
# run). The driver runs on the same two cores: it is a browser per leg (ICE, DTLS, SRTP), so the
# machine carries both sides.
#
# Usage: bench/webrtc/pbxd.sh
# Environment: NS (pairs per run, default "25 50 100"), CODECS (default "pcmu opus"), SECS
# (steady phase, default 20), RATE (set-up pace in legs/s, default 20), NOBUILD=1 (skip the
# release build), KEEP=1 (keep the work directory with pbxd's log).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
ns=${NS:-25 50 100}
codecs=${CODECS:-pcmu opus}
secs=${SECS:-20}
rate=${RATE:-20}
password="Bench-Zonnebloem-7-Web"
target=${CARGO_TARGET_DIR:-$root/target}
[ -n "${NOBUILD:-}" ] || cargo build -q --release -p pbxd -p pbxctl -p pbx-bench-softphone --manifest-path "$root/Cargo.toml"
tmp=$(mktemp -d)
mkdir -p "$tmp/bin" "$tmp/conf/tenants"
# Private copies: other builds may replace target/release while this runs.
cp "$target/release/pbxd" "$target/release/pbxctl" "$target/release/softphone-bench" "$tmp/bin/"
bin="$tmp/bin"
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  sleep 0.3
  if [ -n "${KEEP:-}" ]; then echo "werkmap bewaard: $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
http_port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
sip_port=$(free_port)
cat > "$tmp/conf/pbxd.toml" <<TOML
[[listen]]
transport = "udp"
address = "127.0.0.1:$sip_port"
[rtp]
port_min = 10000
port_max = 31999
[sip]
digest = ["MD5"]
rate_per_second = 1000000
rate_burst = 1000000
[http]
address = "127.0.0.1:$http_port"
tls = false
[control]
socket = "$tmp/control.sock"
[state]
dir = "$tmp/state"
[log]
dir = "$tmp/log"
level = "warn"
stderr = false
TOML
"$bin/pbxd" --config "$tmp/conf" 2>"$tmp/pbxd.err" &
pid=$!
for _ in $(seq 600); do [ -S "$tmp/control.sock" ] && break; sleep 0.05; done
ctl() { "$bin/pbxctl" --socket "$tmp/control.sock" "$@"; }
max=0
for n in $ns; do [ "$n" -gt "$max" ] && max=$n; done
users=$((2 * max))
ctl tenant add bench --name Bench --domain bench.example --max-extensions $((users + 10)) \
  --max-calls $((4 * users)) --max-outside-calls 10 >/dev/null
start=$(date +%s.%N)
for ((i = 0; i < users; i++)); do
  printf '%s\n' "$password" | ctl user add bench "agent$i" --role agent --password-stdin >/dev/null
  ctl extension add bench $((2000 + i)) --name "Agent $i" --owner "agent$i" >/dev/null
done
printf 'provisioning: %d gebruikers + extensies in %.1f s\n' "$users" "$(echo "$(date +%s.%N) - $start" | bc -l)" >&2
printf 'pbxd leeg: RSS %d MB\n' $(($(rss_kb "$pid") / 1024)) >&2

echo "| benen | codec | op | opzet p50 | opzet p99 | verlies % | pbxd CPU % | driver CPU % | pbxd CPU % opzet | pbxd RSS MB (voor) |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for n in $ns; do
  for codec in $codecs; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "pbxd draait niet meer; laatste regels van zijn stderr:" >&2
      tail -20 "$tmp/pbxd.err" >&2
      exit 1
    fi
    BENCH_PASSWORD="$password" "$bin/softphone-bench" --http "127.0.0.1:$http_port" --org bench \
      --pairs "$n" --rate "$rate" --secs "$secs" --codec "$codec" --pid "$pid" --row \
      || echo "| $((2 * n)) | $codec | driver faalde (exit $?) | | | | | | | |"
    sleep 3
  done
done
if ! kill -0 "$pid" 2>/dev/null; then
  echo "pbxd is gestopt; laatste regels van zijn stderr:" >&2
  tail -20 "$tmp/pbxd.err" >&2
  exit 1
fi
errs=$(cat "$tmp"/log/* 2>/dev/null | grep -c -E 'ERROR|WARN' || true)
echo "pbxd-log: $errs waarschuwingen/fouten (KEEP=1 bewaart de log)" >&2
