#!/usr/bin/env bash
# REGISTER with digest authentication: pbxd against Kamailio (Debian package), the same SIPp load
# on loopback in the same run. Prints CPU time per registration for both, the ratio, the
# throughput and the memory per registration. Not a test; numbers go into voip_module_log.md.
# Every registration is a full digest round (REGISTER, 401, REGISTER with credentials, 200) for
# the same extension (SIPp 3.6 takes one user from -s/-au/-ap); each server replaces the binding.
# Usage: bench/sip/register.sh [REGISTRATIONS] [RATE_PER_S]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
n=${1:-20000}
rate=${2:-1000}
password="Bench-Zonnebloem-7"
for cmd in sipp kamailio bc; do
  command -v "$cmd" >/dev/null || { echo "$cmd ontbreekt (apt-get install sip-tester kamailio bc)" >&2; exit 69; }
done
[ -n "${NOBUILD:-}" ] || cargo build -q --release -p pbxd -p pbxctl --manifest-path "$root/Cargo.toml"
bin="$root/target/release"
tmp=$(mktemp -d)
cleanup() {
  [ -f "$tmp/pbxd.pid" ] && kill "$(cat "$tmp/pbxd.pid")" 2>/dev/null || true
  [ -f "$tmp/kam.pid" ] && kill "$(cat "$tmp/kam.pid")" 2>/dev/null || true
  sleep 0.5
  [ -n "${KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"


# pbxd
p_port=$(free_port)
mkdir -p "$tmp/conf/tenants"
cat > "$tmp/conf/pbxd.toml" <<TOML
[[listen]]
transport = "udp"
address = "127.0.0.1:$p_port"
[sip]
digest = ["MD5"]
rate_per_second = 1000000
rate_burst = 1000000
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
echo $! > "$tmp/pbxd.pid"
for _ in $(seq 100); do [ -S "$tmp/control.sock" ] && break; sleep 0.05; done
ctl() { "$bin/pbxctl" --socket "$tmp/control.sock" "$@"; }
ctl tenant add bench --domain bench.example --max-extensions 100000 --max-calls 1000 --max-outside-calls 100 >/dev/null
printf '%s' "$password" | ctl extension add bench 20000 --password-stdin >/dev/null

# Kamailio
k_port=$(free_port)
# Kamailio gets the credential as HA1 (flag 1 of pv_www_authenticate), as pbxd stores it.
ha1=$(printf '20000:bench.example:%s' "$password" | md5sum | cut -d' ' -f1)
sed -e "s/__PORT__/$k_port/" -e "s/__HA1__/$ha1/" "$here/kamailio-registrar.cfg" > "$tmp/kamailio.cfg"
kamailio -f "$tmp/kamailio.cfg" -DD -E -P "$tmp/kam.pidfile" -w "$tmp" 2>"$tmp/kam.err" &
echo $! > "$tmp/kam.pid"
sleep 1

run() { # name pid port
  local name=$1 pid=$2 port=$3
  local t0 t1 r0 r1 start end
  if [ -n "${PERF:-}" ] && [ "$name" = pbxd ]; then
    (sleep 2; perf record -F 1999 -g -p "$pid" -o "$PERF" -- sleep 3 >/dev/null 2>&1) &
  fi
  r0=$(rss_kb "$pid")
  t0=$(ticks "$pid")
  start=$(date +%s.%N)
  sipp "127.0.0.1:$port" -sf "$here/register_load.xml" -s 20000 -au 20000 -ap "$password" -set domain bench.example \
    -auth_uri bench.example -r "$rate" -m "$n" -i 127.0.0.1 -p "$(free_port)" -nostdin -timeout 300s -timeout_error \
    -trace_stat -stf "$tmp/$name.stat.csv" >/dev/null 2>"$tmp/$name.sipp.err" || {
      echo "$name: SIPp meldt mislukte registraties (zie $tmp/$name.sipp.err)" >&2; }
  end=$(date +%s.%N)
  t1=$(ticks "$pid")
  r1=$(rss_kb "$pid")
  local failed
  failed=$(stat_col "$tmp/$name.stat.csv" "FailedCall(C)")
  local us
  us=$(echo "($t1 - $t0) * 1000000 / $hz / $n" | bc -l)
  printf '%-9s %6d registraties in %6.1f s (%.0f/s), mislukt %s, CPU %.1f µs per registratie, RSS %d kB (+%d kB)\n' \
    "$name" "$n" "$(echo "$end - $start" | bc -l)" "$(echo "$n / ($end - $start)" | bc -l)" "$failed" "$us" "$r1" "$((r1 - r0))"
  echo "$us"
}
p_us=$(run pbxd "$(cat "$tmp/pbxd.pid")" "$p_port" | tee /dev/stderr | tail -1)
k_us=$(run kamailio "$(cat "$tmp/kam.pid")" "$k_port" | tee /dev/stderr | tail -1)
printf 'verhouding CPU per registratie pbxd/Kamailio = %.2f (doel <= 1)\n' "$(echo "$p_us / $k_us" | bc -l)"
printf 'pbxd-tellers: %s\n' "$(ctl --json status | tr -d '\n ' | grep -o '"sip":{[^}]*}')"
printf 'registraties bij pbxd: %s\n' "$(ctl --json registrations | grep -c '"contact"')"
