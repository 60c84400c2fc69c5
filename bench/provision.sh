#!/usr/bin/env bash
# Benchmarks of the foundation (not a test; run by hand, numbers go into voip_module_log.md):
#  1. provision N extensions (default 10,000) through the real pbxctl binary against a real pbxd,
#     one process per command as an operator's script would do, every change flushed before the
#     answer; the same requests once more through curl on the same socket as the peer baseline,
#     so the ratio shows what pbxctl itself costs;
#  2. `pbxctl check` of a generated conf.d with 100 organisations x 100 extensions (target < 1 s).
# Usage: bench/provision.sh [N]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-10000}
cd "$root"
cargo build -q --release -p pbxd -p pbxctl
cargo build -q --release -p pbx-config --example gen_corpus
bin="$root/target/release"
tmp=$(mktemp -d)
trap 'kill $(cat "$tmp/pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$tmp"' EXIT
mkdir -p "$tmp/conf/tenants"
cat > "$tmp/conf/pbxd.toml" <<TOML
[control]
socket = "$tmp/control.sock"
[state]
dir = "$tmp/state"
[log]
dir = "$tmp/log"
stderr = false
TOML
"$bin/pbxd" --config "$tmp/conf" 2>"$tmp/pbxd.err" &
echo $! > "$tmp/pid"
for _ in $(seq 100); do [ -S "$tmp/control.sock" ] && break; sleep 0.05; done
ctl() { "$bin/pbxctl" --socket "$tmp/control.sock" "$@"; }
ctl tenant add bench --name Bench --domain bench.example --max-extensions 100000 --max-calls 1000 --max-outside-calls 100 >/dev/null
ctl tenant add peer --name Peer --domain peer.example --max-extensions 100000 --max-calls 1000 --max-outside-calls 100 >/dev/null

start=$(date +%s.%N)
for i in $(seq 1 "$n"); do
  ctl extension add bench $((100000 + i)) --name "Toestel $i" >/dev/null
done
end=$(date +%s.%N)
ctl_s=$(echo "$end - $start" | bc -l)

start=$(date +%s.%N)
if command -v curl >/dev/null; then
  for i in $(seq 1 "$n"); do
    curl -s -o /dev/null --unix-socket "$tmp/control.sock" -H 'content-type: application/json' \
      -d "{\"number\":\"$((100000 + i))\",\"name\":\"Toestel $i\"}" http://pbxd/v1/tenants/peer/extensions
  done
fi
end=$(date +%s.%N)
curl_s=$(echo "$end - $start" | bc -l)
count=$(ctl --json tenant show bench | grep -o '"extensions": [0-9]*' | grep -o '[0-9]*$')

printf 'provisioning: %d extensies via pbxctl in %.1f s (%.0f/s, %.2f ms per commando); opgeslagen: %s\n' \
  "$n" "$ctl_s" "$(echo "$n / $ctl_s" | bc -l)" "$(echo "$ctl_s * 1000 / $n" | bc -l)" "$count"
printf 'peer (curl op dezelfde socket): %.1f s (%.2f ms per verzoek); verhouding pbxctl/curl = %.2f\n' \
  "$curl_s" "$(echo "$curl_s * 1000 / $n" | bc -l)" "$(echo "$ctl_s / $curl_s" | bc -l)"

awk 'BEGIN { print "name,company,phone,phone2,tags,notes,klantnummer";
  for (i = 1; i <= 100000; i++) printf "Contact %d,Bedrijf %d BV,06%08d,020%07d,lead;nl,notitie %d,K%06d\n", i, i % 997, i, i, i, i }' > "$tmp/contacts.csv"
start=$(date +%s.%N)
ctl contact import bench "$tmp/contacts.csv" >/dev/null
end=$(date +%s.%N)
printf 'contact import: 100000 contacten (CSV, batches van 1000) in %.1f s; gevonden op nummer: %s\n' \
  "$(echo "$end - $start" | bc -l)" "$(ctl contact find bench --phone 0600012345 | tail -n +2 | wc -l)"

"$bin/examples/gen_corpus" "$tmp/corpus" 100 100 >/dev/null
best=999
for _ in 1 2 3 4 5; do
  s=$(date +%s.%N)
  "$bin/pbxctl" check "$tmp/corpus" >/dev/null
  e=$(date +%s.%N)
  t=$(echo "$e - $s" | bc -l)
  if (( $(echo "$t < $best" | bc -l) )); then best=$t; fi
done
printf 'pbxctl check van 100 organisaties x 100 extensies: beste van 5 = %.3f s (doel < 1 s)\n' "$best"
