#!/usr/bin/env bash
# Calls with proxy digest authentication: pbxd (B2BUA, media anchored: every call gets two relay
# sockets) against Kamailio (Debian package, a stateful proxy: bench/sip/kamailio-proxy.cfg), the
# same SIPp load on loopback in the same run. Not a test; numbers go into voip_module_log.md.
#
# Every call (bench/sip/call_uac.xml → server → bench/sip/call_uas.xml): INVITE with SDP, 407,
# ACK, INVITE with Proxy-Authorization, 100/180/200 from the SIPp UAS, ACK, HOLD_MS of call, BYE,
# 200. The callee 1002 is the SIPp UAS: it registers with pbxd (digest) from its own port first;
# Kamailio forwards to that port as a fixed destination ($du, no usrloc).
#
# Prints, per server: CPU time per call (utime+stime from /proc of the server process and its
# children, before and after the load), calls/s achieved and failed calls; the ratio pbxd/Kamailio.
# Then for pbxd (each in a fresh pbxd, so that freed heap of an earlier phase does not hide
# growth): memory per active call (HELD calls held open at once: RSS minus idle RSS, divided by
# the answered calls pbxd lists, once when all are up and once after their set-up transactions
# expired), the CPU per call set-up while they pile up, the event path (time from a call's
# start/answer in pbxd to its event at a control-API client, p50/p99, also with ≥ 1000 calls
# active), pbxtop's CPU use while it shows the calls (when tmux is there), and memory per
# registration (REGS
# extensions each registered once; same two moments). Exit code 1 when any call or
# registration failed (the work directory is then kept).
#
# Usage: bench/sip/calls.sh [CALLS] [RATE_PER_S]
# Environment: HOLD_MS (call length in the CPU phase, default 500), HELD (calls held open for the
# memory, default 2000), HELD_RATE (their set-up rate, default 200/s), REGS (registrations for
# the memory, default 2000), PHASES (any of "cpu mem reg", default all), NOBUILD=1 (skip the
# release build), KEEP=1 (keep the work directory with SIPp logs and statistics), STATE_TMPFS=1
# (pbxd's state directory on /dev/shm: shows what the flushes to disk cost), PERF=FILE (perf
# record of pbxd, cpu-clock with DWARF call graphs, 20 s of the CPU phase, from 5 s on).
# PBXD_WRAP="valgrind --tool=callgrind --callgrind-out-file=F" runs pbxd under that command (use
# a low rate, e.g. HOLD_MS=20000 PHASES=cpu calls.sh 400 10). BIN_DIR=DIR takes pbxd and pbxctl
# from DIR instead of target/release (to compare two builds).
# Machine needed: sipp (Debian sip-tester), kamailio (Debian kamailio), bc, python3; install with
# apt-get install sip-tester kamailio bc python3. Defaults take about 5 minutes on 2 cores.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
calls=${1:-6000}
rate=${2:-200}
hold_ms=${HOLD_MS:-500}
held=${HELD:-2000}
held_rate=${HELD_RATE:-200}
regs=${REGS:-2000}
phases=${PHASES:-cpu mem reg}
password="Bench-Zonnebloem-7"
domain=bench.example
for cmd in sipp kamailio bc python3; do
  command -v "$cmd" >/dev/null || {
    echo "$cmd ontbreekt (installeer met: apt-get install sip-tester kamailio bc python3)" >&2
    exit 69
  }
done
if [ $(((held + held_rate - 1) / held_rate)) -gt 18 ]; then
  echo "HELD/HELD_RATE mag hoogstens 18 s zijn (gesprekken moeten binnen de mediatime-out van 60 s blijven)" >&2
  exit 64
fi
# Every held call takes two relay sockets of two ports each (RTP/RTCP pair).
if [ $((4 * (held + 2 * rate))) -gt 22000 ]; then
  echo "HELD ($held) en RATE ($rate) vragen meer RTP-poorten dan het bereik 10000-31999 heeft" >&2
  exit 64
fi
[ -n "${NOBUILD:-}" ] || cargo build -q --release -p pbxd -p pbxctl -p pbxtop --manifest-path "$root/Cargo.toml"
tmp=$(mktemp -d)
# Private copies: other builds may replace target/release while this runs.
mkdir -p "$tmp/bin"
cp "${BIN_DIR:-$root/target/release}/pbxd" "${BIN_DIR:-$root/target/release}/pbxctl" "$tmp/bin/"
# pbxtop is optional (its CPU use is measured in the mem phase when it and tmux are there).
cp "${BIN_DIR:-$root/target/release}/pbxtop" "$tmp/bin/" 2>/dev/null || true
bin="$tmp/bin"
pids=()
shm_dirs=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$tmp/kam.pid" ] && kill "$(cat "$tmp/kam.pid")" 2>/dev/null || true
  sleep 0.5
  for p in "${shm_dirs[@]}"; do rm -rf "$p"; done
  if [ -n "${KEEP:-}" ] || [ "${failures:-0}" != 0 ]; then echo "werkmap bewaard: $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
# SIPp binds its media port and the three above it (RTCP, video, video RTCP): four free in a row.
free_media_port() {
  python3 - <<'PY'
import random, socket
for _ in range(1000):
    p = random.randrange(40000, 60000, 4)
    try:
        socks = []
        for q in range(p, p + 4):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            socks.append(s)
            s.bind(("127.0.0.1", q))
    except OSError:
        continue
    finally:
        for s in socks:
            s.close()
    print(p)
    break
PY
}
now() { date +%s.%N; }
# Waits for a background process at most $2 seconds; gives its exit code (124 after the time).
wait_for() {
  local pid=$1 secs=$2 i
  for ((i = 0; i < secs * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" && return 0 || return $?; }
    sleep 0.1
  done
  kill "$pid" 2>/dev/null || true
  return 124
}

# A fresh pbxd in $tmp/$1 with tenant "bench", 1001 (caller) and 1002 (callee), same password.
# Sets p_pid, p_port, p_dir.
start_pbxd() {
  p_dir="$tmp/$1"
  p_port=$(free_port)
  mkdir -p "$p_dir/conf/tenants"
  local state="$p_dir/state"
  if [ -n "${STATE_TMPFS:-}" ]; then
    state=$(mktemp -d /dev/shm/pbxd-bench.XXXXXX)
    shm_dirs+=("$state")
  fi
  cat > "$p_dir/conf/pbxd.toml" <<TOML
[[listen]]
transport = "udp"
address = "127.0.0.1:$p_port"
[rtp]
port_min = 10000
port_max = 31999
[sip]
digest = ["MD5"]
rate_per_second = 1000000
rate_burst = 1000000
[control]
socket = "$p_dir/control.sock"
[state]
dir = "$state"
[log]
dir = "$p_dir/log"
level = "warn"
stderr = false
TOML
  # shellcheck disable=SC2086 # PBXD_WRAP is a command line (valgrind …)
  ${PBXD_WRAP:-} "$bin/pbxd" --config "$p_dir/conf" 2>"$p_dir/pbxd.err" &
  p_pid=$!
  pids+=("$p_pid")
  for _ in $(seq 600); do [ -S "$p_dir/control.sock" ] && break; sleep 0.05; done
  ctl tenant add bench --domain "$domain" --max-extensions 100000 --max-calls 100000 --max-outside-calls 100 >/dev/null
  local e
  for e in 1001 1002; do
    printf '%s' "$password" | ctl extension add bench "$e" --password-stdin >/dev/null
  done
}
ctl() { "$bin/pbxctl" --socket "$p_dir/control.sock" "$@"; }
stop_pbxd() {
  kill "$p_pid" 2>/dev/null || true
  wait "$p_pid" 2>/dev/null || true
}

# SIPp with the common options: scenario, local port, then more options. An unexpected message
# (a 180 that a proxy with several workers passes on after the 200, a BYE before the late ACK, a
# retransmission after a stall on this shared machine) is ignored instead of aborting the call;
# retransmissions and -recv_timeout still decide, and the ignored messages are counted.
sipp_run() {
  local sf=$1 port=$2
  shift 2
  sipp -sf "$here/$sf" -p "$port" -mp "$(free_media_port)" -i 127.0.0.1 -nostdin -timeout 600s -timeout_error \
    -default_behaviors all,-abortunexp "$@"
}
# Messages a SIPp run ignored (unexpected, or for a call that already ended): name of the run.
ignored() {
  local n
  n=$(cat "$tmp/$1".*.errors 2>/dev/null | grep -c -E "unexpected message|Dead call" || true)
  echo "${n:-0}"
}
failures=0
# The SIPp UAS (1002) registers with the current pbxd from port $1.
register_uas() {
  sipp_run register_load.xml "$1" "127.0.0.1:$p_port" -s 1002 -au 1002 -ap "$password" -set domain "$domain" \
    -auth_uri "$domain" -m 1 >"$tmp/reg1002.out" 2>&1 || {
    echo "de UAS (1002) kon zich niet registreren bij pbxd (zie $tmp/reg1002.out)" >&2
    exit 70
  }
}
# The UAC (1001) against a server: name, server port, number of calls, rate, hold (ms), more options.
uac() {
  local name=$1 port=$2 n=$3 r=$4 d=$5
  shift 5
  sipp_run call_uac.xml "$(free_port)" "127.0.0.1:$port" -s 1001 -au 1001 -ap "$password" \
    -set domain "$domain" -set callee 1002 -auth_uri "1002@$domain" -recv_timeout $((d + 40000)) \
    -r "$r" -m "$n" -d "$d" -trace_stat -stf "$tmp/$name.uac.csv" \
    -trace_err -error_file "$tmp/$name.uac.errors" "$@" >/dev/null 2>"$tmp/$name.uac.err"
}
# The UAS in the background: name, port, number of calls, hold (ms). Sets uas_pid.
uas() {
  sipp_run call_uas.xml "$2" -m "$3" -recv_timeout $(($4 + 40000)) -trace_stat -stf "$tmp/$1.uas.csv" \
    -trace_err -error_file "$tmp/$1.uas.errors" >/dev/null 2>"$tmp/$1.uas.err" &
  uas_pid=$!
  pids+=("$uas_pid")
  sleep 0.3
  kill -0 "$uas_pid" 2>/dev/null || {
    echo "$1: de SIPp-UAS start niet (zie $tmp/$1.uas.err en $tmp/$1.uas.errors)" >&2
    failures=$((failures + 1))
    exit 70
  }
}

# Runs the CPU load against a server: name, pid, port, UAS port. Prints the result line; the CPU
# µs per call go to $tmp/<name>.us.
cpu_run() {
  local name=$1 pid=$2 port=$3 uas_port t0 t1 start end code=0 ucode=0
  uas_port=$4
  uas "$name" "$uas_port" "$calls" "$hold_ms"
  if [ -n "${PERF:-}" ] && [ "$name" = pbxd ]; then
    (sleep 5; perf record -e cpu-clock -F 499 --call-graph dwarf,8192 -p "$pid" -o "$PERF" -- sleep 20 >/dev/null 2>&1) &
  fi
  t0=$(ticks "$pid")
  start=$(now)
  uac "$name" "$port" "$calls" "$rate" "$hold_ms" -l $((rate * (hold_ms / 1000 + 3))) || code=$?
  end=$(now)
  t1=$(ticks "$pid")
  wait_for "$uas_pid" 60 || ucode=$?
  local ok failed us secs
  ok=$(stat_col "$tmp/$name.uac.csv" "SuccessfulCall(C)")
  failed=$(stat_col "$tmp/$name.uac.csv" "FailedCall(C)")
  secs=$(echo "$end - $start" | bc -l)
  us=$(echo "($t1 - $t0) * 1000000 / $hz / $calls" | bc -l)
  printf '%-9s %6d gesprekken in %5.1f s (%.0f/s gehaald), geslaagd %s, mislukt %s (%.2f %%), CPU %.0f µs per gesprek; SIPp negeerde %s berichten\n' \
    "$name" "$calls" "$secs" "$(echo "$ok / $secs" | bc -l 2>/dev/null || echo 0)" "$ok" "$failed" \
    "$(echo "100 * ($calls - $ok) / $calls" | bc -l 2>/dev/null || echo 100)" "$us" "$(ignored "$name")"
  [ "$ok" = "$calls" ] && [ "$code" = 0 ] && [ "$ucode" = 0 ] || failures=$((failures + 1))
  [ "$code" = 0 ] || echo "$name: SIPp (beller) eindigde met $code (zie $tmp/$name.uac.err)" >&2
  [ "$ucode" = 0 ] || echo "$name: SIPp (gebelde) eindigde met $ucode (zie $tmp/$name.uas.err)" >&2
  echo "$us" > "$tmp/$name.us"
}

echo "machine: $(nproc) cores; ${calls} gesprekken per server, ${rate}/s, ${hold_ms} ms per gesprek"

if [[ " $phases " == *" cpu "* ]]; then
  start_pbxd cpu
  uas_port=$(free_port)
  register_uas "$uas_port"
  k_port=$(free_port)
  ha1=$(printf '1001:%s:%s' "$domain" "$password" | md5sum | cut -d' ' -f1)
  sed -e "s/__PORT__/$k_port/" -e "s/__UAS_PORT__/$uas_port/" -e "s/__HA1__/$ha1/" \
    "$here/kamailio-proxy.cfg" > "$tmp/kamailio.cfg"
  kamailio -f "$tmp/kamailio.cfg" -DD -E -P "$tmp/kam.pidfile" -w "$tmp" >"$tmp/kam.err" 2>&1 &
  echo $! > "$tmp/kam.pid"
  sleep 1
  cpu_run pbxd "$p_pid" "$p_port" "$uas_port"
  printf 'pbxd-tellers: %s\n' "$(ctl --json status | tr -d '\n ' | grep -o '"sip":{[^}]*}')"
  stop_pbxd
  cpu_run kamailio "$(cat "$tmp/kam.pid")" "$k_port" "$uas_port"
  kill "$(cat "$tmp/kam.pid")" 2>/dev/null || true
  printf 'verhouding CPU per gesprek pbxd/Kamailio = %.2f (doel <= 2)\n' \
    "$(echo "$(cat "$tmp/pbxd.us") / $(cat "$tmp/kamailio.us")" | bc -l)"
fi

if [[ " $phases " == *" mem "* ]]; then
  # Hold HELD calls at once: set up at HELD_RATE, each held long enough that all are up and
  # their set-up transactions (Timer H/L/M, 32 s) have expired before the first hangs up, and
  # shorter than pbxd's media timeout (60 s without RTP; SIPp sends none here).
  start_pbxd mem
  uas_port=$(free_port)
  register_uas "$uas_port"
  sleep 1
  idle=$(rss_kb "$p_pid")
  ramp=$(((held + held_rate - 1) / held_rate))
  hold=$((ramp + 40))
  uas mem "$uas_port" "$held" $((hold * 1000))
  # The event path while the calls pile up: a control-API client records how long each
  # started/answered event took to reach it (bench/events/listen.py).
  python3 "$here/../events/listen.py" "$p_dir/control.sock" $((ramp + 8)) "$tmp/events.txt" \
    >"$tmp/events.summary" 2>&1 &
  events_pid=$!
  pids+=("$events_pid")
  # pbxtop watching the Gesprekken tab in a detached tmux terminal, for its CPU use.
  top_pid=""
  if [ -x "$bin/pbxtop" ] && command -v tmux >/dev/null; then
    tmux new-session -d -s "pbxbench$$" -x 120 -y 40 \
      "env PBXCTL_SOCKET=$p_dir/control.sock $bin/pbxtop" 2>/dev/null || true
    sleep 1
    tmux send-keys -t "pbxbench$$" 2 2>/dev/null || true
    top_pid=$(pgrep -n -f "$bin/pbxtop" || true)
    [ -n "$top_pid" ] && top_t0=$(ticks "$top_pid")
  fi
  sleep 0.5
  t0=$(ticks "$p_pid")
  uac mem "$p_port" "$held" "$held_rate" $((hold * 1000)) -l "$held" &
  uac_pid=$!
  pids+=("$uac_pid")
  # Measure when the set-up is over (+3 s), and again when the transactions of the last set-up
  # have expired (32 s later); count the answered calls in pbxd each time.
  sleep $((ramp + 3))
  t1=$(ticks "$p_pid")
  rss_up=$(rss_kb "$p_pid")
  up=$(ctl --json calls | grep -c '"answered_ms": [0-9]' || true)
  wait_for "$events_pid" 30 || true
  sed 's/^/pbxd      /' "$tmp/events.summary"
  if [ -n "$top_pid" ]; then
    # 20 s with all calls up: pbxtop's CPU share while it shows them.
    top_a=$(ticks "$top_pid")
    sleep 20
    top_b=$(ticks "$top_pid")
    printf 'pbxtop    CPU bij %d lopende gesprekken (tabblad Gesprekken, 120x40): %.1f %% van een core (20 s), opzetfase %.1f %%\n' \
      "$up" "$(echo "($top_b - $top_a) * 100 / $hz / 20" | bc -l)" \
      "$(echo "($top_a - $top_t0) * 100 / $hz / ($ramp + 3)" | bc -l)"
    tmux kill-session -t "pbxbench$$" 2>/dev/null || true
    sleep 8
  else
    sleep 28
  fi
  rss_steady=$(rss_kb "$p_pid")
  up2=$(ctl --json calls | grep -c '"answered_ms": [0-9]' || true)
  code=0
  wait_for "$uac_pid" $((hold + 60)) || code=$?
  ucode=0
  wait_for "$uas_pid" 30 || ucode=$?
  failed=$(stat_col "$tmp/mem.uac.csv" "FailedCall(C)")
  [ "$failed" = 0 ] && [ "$code" = 0 ] && [ "$ucode" = 0 ] || failures=$((failures + 1))
  printf 'pbxd      %d gesprekken tegelijk opgezet (%d/s); beantwoord in pbxd: %d na %d s, %d na %d s; mislukt %s; SIPp negeerde %s berichten; RSS leeg %d kB\n' \
    "$held" "$held_rate" "$up" $((ramp + 3)) "$up2" $((ramp + 36)) "$failed" "$(ignored mem)" "$idle"
  if [ "$up" -gt 0 ] && [ "$up2" -gt 0 ]; then
    printf 'pbxd      geheugen per actief gesprek: %.1f kB met lopende transacties (RSS %d kB), %.1f kB na het verlopen ervan (RSS %d kB)\n' \
      "$(echo "($rss_up - $idle) / $up" | bc -l)" "$rss_up" "$(echo "($rss_steady - $idle) / $up2" | bc -l)" "$rss_steady"
    # Set-up only (INVITE, 407, ACK, INVITE, 100/180/200, ACK), while more and more calls are open.
    printf 'pbxd      CPU per opgezet gesprek bij oplopend tot %d open gesprekken: %.0f µs (zonder BYE)\n' \
      "$up" "$(echo "($t1 - $t0) * 1000000 / $hz / $up" | bc -l)"
  fi
  [ "$code" = 0 ] || echo "mem: SIPp (beller) eindigde met $code (zie $tmp/mem.uac.err)" >&2
  [ "$ucode" = 0 ] || echo "mem: SIPp (gebelde) eindigde met $ucode (zie $tmp/mem.uas.err)" >&2
  stop_pbxd
fi

if [[ " $phases " == *" reg "* ]]; then
  # REGS extensions, each registered once from the same SIPp port (another Contact user each).
  start_pbxd reg
  echo SEQUENTIAL > "$tmp/users.csv"
  for ((i = 0; i < regs; i++)); do
    e=$((30000 + i))
    printf '%s' "$password" | ctl extension add bench "$e" --password-stdin >/dev/null
    echo "$e;[authentication username=$e password=$password];" >> "$tmp/users.csv"
  done
  sleep 2
  idle=$(rss_kb "$p_pid")
  start=$(now)
  code=0
  sipp_run register_users.xml "$(free_port)" "127.0.0.1:$p_port" -inf "$tmp/users.csv" -set domain "$domain" \
    -auth_uri "$domain" -r 500 -m "$regs" -trace_stat -stf "$tmp/reg.csv" >/dev/null 2>"$tmp/reg.err" || code=$?
  secs=$(echo "$(now) - $start" | bc -l)
  sleep 1
  rss_up=$(rss_kb "$p_pid")
  # Non-INVITE server transactions live 32 s (Timer J).
  sleep 33
  rss_steady=$(rss_kb "$p_pid")
  live=$(ctl --json registrations | grep -c '"contact"' || true)
  printf 'pbxd      %d registraties (%d extensies) in %.1f s, %d live, mislukt %s; RSS leeg %d kB\n' \
    "$regs" "$regs" "$secs" "$live" "$(stat_col "$tmp/reg.csv" "FailedCall(C)")" "$idle"
  printf 'pbxd      geheugen per registratie: %.2f kB met lopende transacties, %.2f kB na het verlopen ervan\n' \
    "$(echo "($rss_up - $idle) / $regs" | bc -l)" "$(echo "($rss_steady - $idle) / $regs" | bc -l)"
  [ "$code" = 0 ] || { echo "reg: SIPp eindigde met $code (zie $tmp/reg.err)" >&2; failures=$((failures + 1)); }
  stop_pbxd
fi
[ "$failures" = 0 ] || { echo "$failures fase(n) met mislukte gesprekken of registraties" >&2; exit 1; }
