# Shared helpers of the benchmark scripts (sourced, not run).

# A free UDP port on loopback, chosen by the kernel.
free_port() { python3 -c 'import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# CPU ticks (user + system) of a process and all its descendants.
ticks() {
  local total=0 p
  for p in $1 $(pgrep -P "$1" 2>/dev/null); do
    if [ -r "/proc/$p/stat" ]; then
      total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat")))
    fi
  done
  echo "$total"
}

# Resident memory (kB) of a process and all its descendants.
rss_kb() {
  local total=0 p
  for p in $1 $(pgrep -P "$1" 2>/dev/null); do
    [ -r "/proc/$p/status" ] && total=$((total + $(awk '/^VmRSS/ {print $2}' "/proc/$p/status")))
  done
  echo "$total"
}

# Clock ticks per second, for ticks().
hz=$(getconf CLK_TCK)

# A column of the last line of a SIPp statistics file (-trace_stat), by its header name.
stat_col() {
  awk -F';' -v col="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i } END { print (c ? $c : "?") }' "$1" 2>/dev/null || echo "?"
}
