#!/usr/bin/env python3
"""Reads GET /data whole, again and again, for SECONDS: the load beside which GET / latency is
measured. Checks each listing is a complete chunked body ending in ']' and prints one JSON line:
listings, bytes, seconds."""
import json
import socket
import sys
import time


def read_listing(s, buf):
    s.sendall(b"GET /data HTTP/1.1\r\nHost: b\r\n\r\n")
    while b"\r\n\r\n" not in buf:
        buf += s.recv(1 << 20)
    head, _, buf = buf.partition(b"\r\n\r\n")
    if b"Transfer-Encoding: chunked" not in head:
        raise RuntimeError("not streamed: " + head.decode(errors="replace"))
    body = 0
    last = b""
    while True:
        while b"\r\n" not in buf:
            buf += s.recv(1 << 20)
        line, _, buf = buf.partition(b"\r\n")
        size = int(line, 16)
        while len(buf) < size + 2:
            buf += s.recv(1 << 20)
        if size == 0:
            return body, last, buf[2:]
        last = buf[size - 1:size]
        body += size
        buf = buf[size + 2:]


def main():
    port, seconds = int(sys.argv[1]), float(sys.argv[2])
    s = socket.create_connection(("127.0.0.1", port))
    end = time.time() + seconds
    n, total, buf = 0, 0, b""
    t0 = time.time()
    while time.time() < end:
        size, last, buf = read_listing(s, buf)
        if last != b"]":
            raise RuntimeError("a listing did not end with ]")
        n += 1
        total += size
    print(json.dumps({"listings": n, "bytes": total, "seconds": time.time() - t0}))


if __name__ == "__main__":
    main()
