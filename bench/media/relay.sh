#!/usr/bin/env bash
# RTP relay: pbxd against rtpengine (Debian package, userspace only, no kernel module), the same
# load generator (bench/rtpload) on loopback in the same run. Not a test; numbers go into
# voip_module_log.md.
#
# Per relay: N calls (pbxd over real SIP: REGISTER, INVITE with 407, ACK, BYE; rtpengine over its
# ng protocol: offer, answer, delete), then G.711 RTP (160 bytes per 20 ms) both ways on every
# call. After a warm-up the generator marks a measuring window on its stdout; this script reads
# the relay's CPU time (utime+stime from /proc) at both marks, and the generator counts the
# packets sent in the window and how many arrived, with their one-way latency (kernel arrival
# stamp − send time; on loopback the stamp is taken at the relay's sendto). A baseline run
# without a relay (each leg sends straight to the other) gives the generator's own latency, so
# that "added latency" = relay − baseline.
# The generator and the relay share the machine: on 2 cores N = 2000 (200,000 packets/s) does not
# keep up; the script prints the achieved rate (tempo%) and warns below 95 %, when latency and
# loss no longer describe the relay.
#
# Prints, per relay: µs CPU per relayed packet, loss, added latency p50/p99/p99.9; the ratio of CPU
# per packet pbxd/rtpengine (target ≤ 0.5), and pbxd's memory per active call.
# Usage: bench/media/relay.sh [CALLS] [WINDOW_S]     (NOBUILD=1 skips building, KEEP=1 keeps the
# temp dir, WARMUP=s changes the warm-up, PERF=file records a perf profile of pbxd in the window)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
n=${1:-2000}
secs=${2:-20}
warmup=${WARMUP:-3}
password="Bench-Zonnebloem-7"
for cmd in rtpengine bc python3; do
  command -v "$cmd" >/dev/null || { echo "$cmd ontbreekt (apt-get install rtpengine-daemon bc python3)" >&2; exit 69; }
done
[ -n "${NOBUILD:-}" ] || cargo build -q --release -p pbxd -p pbxctl -p pbx-rtpload --manifest-path "$root/Cargo.toml"
bin="$root/target/release"
tmp=$(mktemp -d)
cleanup() {
  [ -f "$tmp/pbxd.pid" ] && kill "$(cat "$tmp/pbxd.pid")" 2>/dev/null || true
  [ -f "$tmp/rtpe.pid" ] && kill "$(cat "$tmp/rtpe.pid")" 2>/dev/null || true
  sleep 0.5
  [ -n "${KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
# Its own free_port (replaces the one of lib.sh): a free UDP port below the RTP range
# (20000-59999) and above the generator's own RTP/RTCP ports (from 10000, four per call).
free_port() {
  python3 - "$1" <<'PY'
import random, socket, sys
lo = int(sys.argv[1])
for p in random.sample(range(lo, 20000), 20000 - lo):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("127.0.0.1", p))
        print(p)
        break
    except OSError:
        pass
    finally:
        s.close()
PY
}
low=$((10000 + 4 * n + 100))
[ "$low" -lt 19000 ] || { echo "te veel gesprekken voor de poortindeling (max. ~2200)" >&2; exit 64; }
# CPU ticks per thread group of a process ("name ticks" lines; thread names without a trailing
# number, so pbx-relay-0 and pbx-relay-1 count together).
thread_ticks() {
  local t
  for t in /proc/"$1"/task/*; do
    [ -r "$t/stat" ] && sed -e 's/^[0-9]* (\(.*\)) /\1\t/' "$t/stat" | awk -F'\t' '{split($2, f, " "); n=$1; sub(/[-_ ]?[0-9]+$/, "", n); print n, f[12] + f[13]}'
  done | awk '{s[$1] += $2} END {for (k in s) print k, s[k]}' | sort
}
# Busy ticks of the whole machine (user, nice, system, irq, softirq): what other processes
# used during a window = this − relay − generator (the machine is shared).
busy() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat; }
# Generous fd limit: the generator holds 4 sockets per call, each relay 2–4.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# pbxd: RTP range wide enough for 4 ports per call per leg, SIP rate limits out of the way.
p_port=$(free_port "$low")
mkdir -p "$tmp/conf/tenants"
cat > "$tmp/conf/pbxd.toml" <<TOML
[[listen]]
transport = "udp"
address = "127.0.0.1:$p_port"
[rtp]
port_min = 20000
port_max = 59999
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
ctl tenant add bench --domain bench.example --max-extensions 100 --max-calls $((n + 100)) --max-outside-calls 100 >/dev/null
printf '%s' "$password" | ctl extension add bench 1000 --password-stdin >/dev/null
printf '%s' "$password" | ctl extension add bench 2000 --password-stdin >/dev/null

# rtpengine: userspace only (table -1), loopback, ng on UDP, the same port range, its default
# number of worker threads. Its media timeout is raised so that no call ends during the run.
ng_port=$(free_port "$low")
rtpengine --config-file=none --table=-1 --interface=127.0.0.1 --listen-ng="127.0.0.1:$ng_port" \
  --port-min=20000 --port-max=59999 --timeout=600 --foreground --log-stderr --log-level=4 \
  --pidfile="$tmp/rtpe.pidfile" 2>"$tmp/rtpe.err" &
echo $! > "$tmp/rtpe.pid"
sleep 1
kill -0 "$(cat "$tmp/rtpe.pid")" 2>/dev/null || { echo "rtpengine start niet:" >&2; cat "$tmp/rtpe.err" >&2; exit 69; }

declare -A R
# run NAME MODE PID: one generator run; fills R[NAME.key] with its results and the CPU/RSS figures.
run() {
  local name=$1 mode=$2 pid=${3:-} line gpid="" t0=0 t1=0 g0=0 g1=0 o0=0 o1=0 rss_idle=0 rss_up=0 perfpid=""
  [ -n "$pid" ] && rss_idle=$(rss_kb "$pid")
  while IFS= read -r line; do
    case $line in
      "@pid "*) gpid=${line#@pid } ;;
      "@meten-start"*)
        if [ -n "$pid" ]; then
          t0=$(ticks "$pid"); rss_up=$(rss_kb "$pid"); thread_ticks "$pid" > "$tmp/$name.threads0"
          if [ -n "${PERF:-}" ] && [ "$name" = pbxd ]; then
            perf record -F 999 -g -p "$pid" -o "$PERF" -- sleep "$(echo "$secs * 0.8" | bc -l)" >/dev/null 2>&1 &
            perfpid=$!
          fi
        fi
        g0=$(ticks "$gpid"); o0=$(busy) ;;
      "@meten-einde"*)
        [ -n "$pid" ] && { t1=$(ticks "$pid"); thread_ticks "$pid" > "$tmp/$name.threads1"; }
        g1=$(ticks "$gpid"); o1=$(busy) ;;
      "@opgezet "*|"@afgebroken "*|"@resultaat "*)
        local kind=${line%% *} kv
        kind=${kind#@}
        echo "  $name: $line" >&2
        for kv in ${line#* }; do R[$name.$kind.${kv%%=*}]=${kv#*=}; done ;;
      *) echo "  $name: $line" >&2 ;;
    esac
  done < <(RTPLOAD_PASSWORD="$password" "$bin/rtpload" --mode "$mode" --calls "$n" --duration "$secs" \
             --warmup "$warmup" --sip "127.0.0.1:$p_port" --ng "127.0.0.1:$ng_port" 2>&1)
  [ -n "$perfpid" ] && wait "$perfpid" 2>/dev/null || true
  R[$name.cpu_ticks]=$((t1 - t0))
  R[$name.gen_ticks]=$((g1 - g0))
  R[$name.other_pct]=$(echo "($o1 - $o0 - ($t1 - $t0) - ($g1 - $g0)) * 100 / $hz / ${R[$name.resultaat.venster_s]:-$secs}" | bc -l)
  R[$name.rss_idle]=$rss_idle
  R[$name.rss_up]=$rss_up
  R[$name.rss_after]=$([ -n "$pid" ] && rss_kb "$pid" || echo 0)
}

echo "nulmeting (geen relay), $n gesprekken, venster $secs s" >&2
run baseline baseline
echo "pbxd" >&2
run pbxd pbxd "$(cat "$tmp/pbxd.pid")"
echo "rtpengine $(rtpengine --version 2>&1 | awk '{print $2}')" >&2
run rtpengine rtpengine "$(cat "$tmp/rtpe.pid")"

b() { echo "${R[baseline.resultaat.$1]}"; }
printf '\nnulmeting: latentie (kernelstempel) p50 %s µs, p99 %s µs, p99.9 %s µs; gelezen p50 %s µs, p99 %s µs; verlies %s %%; generator %.2f µs CPU per pakket\n' \
  "$(b p50_us)" "$(b p99_us)" "$(b p999_us)" "$(b lees_p50_us)" "$(b lees_p99_us)" "$(b verlies_pct)" \
  "$(echo "${R[baseline.gen_ticks]} * 1000000 / $hz / ($(b ontvangen) + 1)" | bc -l)"
printf '%-10s %6s %9s %6s %8s %8s %8s %8s %9s %10s %8s\n' relay calls pakketten tempo% verlies% "CPU µs" "+p50 µs" "+p99 µs" "+p99.9 µs" "+p99 lees" "gen µs"
for name in pbxd rtpengine; do
  pk=${R[$name.resultaat.ontvangen]:-0}
  us=$(echo "${R[$name.cpu_ticks]} * 1000000 / $hz / ($pk + (${pk} == 0))" | bc -l)
  R[$name.us]=$us
  v() { echo "${R[$name.resultaat.$1]:-0} - $(b "$1")" | bc -l; }
  printf '%-10s %6s %9s %6s %8s %8.2f %8.1f %8.1f %9.1f %10.1f %8.2f\n' "$name" "${R[$name.opgezet.ok]:-0}" "$pk" \
    "${R[$name.resultaat.tempo_pct]:-?}" "${R[$name.resultaat.verlies_pct]:-?}" "$us" "$(v p50_us)" "$(v p99_us)" "$(v p999_us)" "$(v lees_p99_us)" \
    "$(echo "${R[$name.gen_ticks]} * 1000000 / $hz / ($pk + (${pk} == 0))" | bc -l)"
done
printf 'andere processen tijdens het venster (schatting uit /proc/stat, %% van één core; 0 = stille machine): nulmeting %.0f, pbxd %.0f, rtpengine %.0f; load %s\n' \
  "${R[baseline.other_pct]}" "${R[pbxd.other_pct]}" "${R[rtpengine.other_pct]}" "$(cut -d' ' -f1-3 /proc/loadavg)"
for name in baseline pbxd rtpengine; do
  if (( $(echo "${R[$name.resultaat.tempo_pct]:-0} < 95" | bc -l) )); then
    printf 'LET OP: %s haalde %s %% van het nominale pakkettempo: de machine is verzadigd (generator + relay + anderen);' \
      "$name" "${R[$name.resultaat.tempo_pct]:-?}"
    printf ' latentie en verlies zeggen dan weinig, CPU per pakket is te hoog door de drukte\n'
  fi
done
echo "(tempo% = verzonden pakketten in het venster t.o.v. 50 per stroom per seconde;" \
  "CPU µs = CPU-tijd van de relay per doorgegeven pakket in het venster; +pXX = latentie min nulmeting, kernelstempel" \
  "bij aankomst; '+p99 lees' = zelfde met de tijd waarop de generator het pakket las; gen µs = CPU van de generator per pakket)"
for name in pbxd rtpengine; do
  [ -s "$tmp/$name.threads1" ] || continue
  printf '%s: CPU per draadgroep in het venster (µs per pakket):' "$name"
  join -a 2 -e 0 -o 0,1.2,2.2 "$tmp/$name.threads0" "$tmp/$name.threads1" | while read -r th a b; do
    if [ $((b - a)) -gt 0 ]; then
      printf ' %s %.2f' "$th" "$(echo "($b - $a) * 1000000 / $hz / (${R[$name.resultaat.ontvangen]:-0} + 1)" | bc -l)"
    fi
  done
  echo
done
ratio=$(echo "${R[pbxd.us]} / ${R[rtpengine.us]}" | bc -l)
printf 'verhouding CPU per pakket pbxd/rtpengine = %.2f (doel <= 0,5)\n' "$ratio"
for name in pbxd rtpengine; do
  up=${R[$name.opgezet.ok]:-0}
  printf '%s: geheugen per actief gesprek %.1f kB (RSS %d kB leeg, %d kB met %d gesprekken, %d kB na afbraak); opzetten %ss, afbreken %ss\n' \
    "$name" "$(echo "(${R[$name.rss_up]} - ${R[$name.rss_idle]}) / ($up + ($up == 0))" | bc -l)" \
    "${R[$name.rss_idle]}" "${R[$name.rss_up]}" "$up" "${R[$name.rss_after]}" \
    "${R[$name.opgezet.s]:-?}" "${R[$name.afgebroken.s]:-?}"
done
printf 'doelen: verlies < 0,1 %%, +p99 < 1000 µs, verhouding <= 0,5\n'
