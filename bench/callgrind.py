#!/usr/bin/env python3
"""User-space instructions per request under callgrind (deterministic, unlike wall-clock CPU on
a shared machine). Starts the server under valgrind with one worker and the access log off,
creates ITEMS items, then sends N sequential keep-alive requests of each kind on one connection
and reads the totals from callgrind's dump after each kind.

  bench/callgrind.py BINARY [N]   prints: kind, instructions per request
"""
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

KINDS = {
    "GET /": b"GET / HTTP/1.1\r\nHost: b\r\n\r\n",
    "GET /data/1": b"GET /data/1 HTTP/1.1\r\nHost: b\r\n\r\n",
    "GET /data/1 -> 304": None,  # filled in with the item's ETag
    "PATCH /data/1": b"PATCH /data/1 HTTP/1.1\r\nHost: b\r\nContent-Type: application/merge-patch+json\r\n"
                     b"Content-Length: 11\r\n\r\n{\"stock\":7}",
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_response(s, buf):
    while b"\r\n\r\n" not in buf:
        buf += s.recv(65536)
    head, _, rest = buf.partition(b"\r\n\r\n")
    m = re.search(rb"Content-Length: (\d+)", head)
    n = int(m.group(1)) if m else 0
    while len(rest) < n:
        rest += s.recv(65536)
    return head, rest[:n], rest[n:]


def total_instructions(out_dir, pid):
    subprocess.run(["callgrind_control", "--dump", str(pid)], capture_output=True)
    time.sleep(0.5)
    total = 0
    for name in os.listdir(out_dir):
        if name.startswith("callgrind.out"):
            with open(os.path.join(out_dir, name)) as f:
                for line in f:
                    if line.startswith("summary:") or line.startswith("totals:"):
                        total += int(line.split()[1])
                        break
    return total


def main():
    binary, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    d = tempfile.mkdtemp(prefix="hs-cg-")
    port = free_port()
    p = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={d}/callgrind.out.%p",
                          binary, "--port", str(port), "--threads", "1", "--access-log", "off"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=60)
                break
            except OSError:
                time.sleep(0.1)
        body = b'{"name":"widget","price":12.5,"stock":1234}'
        s.sendall(b"POST /data HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\nContent-Length: "
                  + str(len(body)).encode() + b"\r\n\r\n" + body)
        head, _, buf = read_response(s, b"")
        etag = re.search(rb"ETag: (\S+)", head)
        last = total_instructions(d, p.pid)
        for kind, req in KINDS.items():
            if req is None:
                if not etag:
                    continue
                req = b"GET /data/1 HTTP/1.1\r\nHost: b\r\nIf-None-Match: " + etag.group(1) + b"\r\n\r\n"
            for _ in range(n):
                s.sendall(req)
                head, _, buf = read_response(s, buf)
                if kind.endswith("304"):
                    req = req  # the item does not change
            now = total_instructions(d, p.pid)
            print(f"{kind:24s} {(now - last) / n:8.0f} instructions/request  ({head.split(b' ')[1].decode()})",
                  flush=True)
            last = now
            if kind.startswith("PATCH"):
                break
    finally:
        p.terminate()
        p.wait()
        print(f"callgrind dumps (one per kind, in order): {d}")


if __name__ == "__main__":
    main()
