#!/usr/bin/env python3
"""Event-path latency of pbxd: subscribes to GET /v1/events on the control socket and, for every
call event that carries the moment it happened (started: started_ms, answered: answered_ms),
records how long it took to reach this client (its receive time minus that moment, same machine
clock). Keeps a count of active calls (started minus ended) so latencies can be split by load.

Usage: listen.py SOCKET SECONDS OUT_FILE
Writes one line per event to OUT_FILE: "<change> <latency_ms> <active_calls>"; on exit prints a
summary (count, p50, p99, max; overall and with at least 1000 active calls).
"""
import json
import socket
import sys
import time


def recv(sock, end):
    """The next bytes; b"" when the stream ended or the time is up (timeouts are waited out)."""
    while time.time() < end:
        try:
            return sock.recv(65536)
        except socket.timeout:
            continue
    return b""


def chunks(sock, end):
    buf = b""
    # Skip the response head.
    while b"\r\n\r\n" not in buf:
        data = recv(sock, end)
        if not data:
            return
        buf += data
    head, buf = buf.split(b"\r\n\r\n", 1)
    chunked = b"chunked" in head.lower()
    while True:
        if not chunked:
            yield buf
            buf = b""
        else:
            while True:
                if b"\r\n" not in buf:
                    break
                size_line, rest = buf.split(b"\r\n", 1)
                try:
                    size = int(size_line.split(b";")[0], 16)
                except ValueError:
                    return
                if len(rest) < size + 2:
                    break
                yield rest[:size]
                buf = rest[size + 2:]
                if size == 0:
                    return
        data = recv(sock, end)
        if not data:
            return
        buf += data


def main():
    path, seconds, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.settimeout(1.0)
    s.sendall(b"GET /v1/events HTTP/1.1\r\nHost: pbxd\r\nAccept: application/x-ndjson\r\n\r\n")
    end = time.time() + seconds
    active = 0
    lines = []
    pending = b""
    try:
        for chunk in chunks(s, end):
            now_ms = time.time() * 1000.0
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                line = line.strip()
                if not line.startswith(b"{"):
                    continue
                try:
                    ev = json.loads(line)
                except ValueError:
                    continue
                if ev.get("type") != "call":
                    continue
                change = ev.get("change")
                call = ev.get("call", {})
                if change == "started":
                    active += 1
                    at = call.get("started_ms")
                elif change == "answered":
                    at = call.get("answered_ms")
                elif change == "ended":
                    active = max(0, active - 1)
                    at = None
                else:
                    at = None
                if at is not None:
                    lines.append((change, now_ms - at, active))
            if time.time() > end:
                break
    except socket.timeout:
        pass
    with open(out, "w") as f:
        for c, l, a in lines:
            f.write(f"{c} {l:.2f} {a}\n")

    def summary(label, xs):
        if not xs:
            print(f"{label}: geen events")
            return
        xs = sorted(xs)
        p = lambda q: xs[min(len(xs) - 1, int(q * len(xs)))]
        print(f"{label}: {len(xs)} events, p50 {p(0.50):.1f} ms, p99 {p(0.99):.1f} ms, max {xs[-1]:.1f} ms")

    summary("eventpad alle", [l for _, l, _ in lines])
    summary("eventpad bij >= 1000 actieve gesprekken", [l for _, l, a in lines if a >= 1000])


if __name__ == "__main__":
    main()
