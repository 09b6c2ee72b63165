#!/usr/bin/env python3
"""The durable store against Redis 7 (appendfsync always) and SQLite (WAL, synchronous=FULL) on
the same disk, same run, A B A B: server on CPU 0, load generator on CPU 1, medians of rounds.

  bench/durable.py --server build/release/http_server [--rounds 5] [--seconds 5] [--big 1000000]

Rows: POST /data of 100-byte objects at 1 and 64 connections (Redis: redis-benchmark SET -d 100;
SQLite: one writer inserting 100-byte rows, each its own transaction), p99 at 64; restart with
--big items after kill -9, to the first 2xx (Redis: AOF replay of as many keys); write p99 while
a snapshot runs vs without; GET /data/{id} durable vs memory; disk bytes per item after
compaction; the flusher's batch sizes from its counters (stderr at exit).
"""
import argparse
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run as b  # noqa: E402  (wrk, cpu_ns, free_port, wait_port)

BODY = b'{"name":"item","value":12345,"pad":"' + b"x" * 62 + b'"}'


def start_ours(binary, data_dir, extra=()):
    port = b.free_port()
    cmd = ["taskset", "-c", "0", binary, "--port", str(port), "--threads", "1",
           "--access-log", "off", "--max-connections", "50000"]
    if data_dir:
        cmd += ["--data-dir", data_dir]
    cmd += list(extra)
    err = open(os.path.join(tempfile.gettempdir(), f"hs-durable-bench-{port}.err"), "w+")
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, preexec_fn=b.raise_nofile)
    b.wait_port(port, timeout=60)
    return p, port, err


def stop(p, sig=signal.SIGTERM):
    if p.poll() is None:
        p.send_signal(sig)
        p.wait(timeout=60)


def preload(port, n, conns=64, batch=200):
    """POSTs n items over `conns` pipelined connections (batches share flushes)."""
    req = (b"POST /data HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\nContent-Length: "
           + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)
    mark = b"HTTP/1.1 201"

    def one(k_total):
        s = socket.create_connection(("127.0.0.1", port))
        done = 0
        while done < k_total:
            k = min(batch, k_total - done)
            s.sendall(req * k)
            seen, buf = 0, b""
            while seen < k:
                chunk = s.recv(1 << 20)
                if not chunk:
                    raise RuntimeError("server closed during preload")
                buf += chunk
                seen += buf.count(mark)
                last = buf.rfind(mark)
                buf = buf[max(last + len(mark) if last >= 0 else 0, len(buf) - len(mark) + 1):]
            done += k
        s.close()

    per = n // conns
    ts = [threading.Thread(target=one, args=(per + (1 if i < n % conns else 0),)) for i in range(conns)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def redis_rounds(data_dir, conns, n):
    port = b.free_port()
    d = tempfile.mkdtemp(dir=data_dir)
    p = subprocess.Popen(["taskset", "-c", "0", "redis-server", "--port", str(port), "--dir", d,
                          "--appendonly", "yes", "--appendfsync", "always", "--save", "",
                          "--bind", "127.0.0.1", "--protected-mode", "no"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    b.wait_port(port)
    out = subprocess.run(["taskset", "-c", "1", "redis-benchmark", "-p", str(port), "-t", "set",
                          "-d", "100", "-c", str(conns), "-n", str(n), "-r", "100000000", "--csv"],
                         capture_output=True, text=True).stdout
    p.terminate()
    p.wait()
    shutil.rmtree(d, ignore_errors=True)
    for line in out.splitlines():
        f = [x.strip('"') for x in line.split(",")]
        if f and f[0] == "SET":
            return {"rps": float(f[1]), "p99_ms": float(f[6])}
    raise RuntimeError("redis-benchmark: " + out)


def redis_replay(data_dir, n):
    """Writes n distinct keys with appendfsync always, kill -9, then times the restart."""
    port = b.free_port()
    d = tempfile.mkdtemp(dir=data_dir)
    args = ["redis-server", "--port", str(port), "--dir", d, "--appendonly", "yes",
            "--appendfsync", "always", "--save", "", "--bind", "127.0.0.1",
            "--auto-aof-rewrite-percentage", "0"]
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    b.wait_port(port)
    subprocess.run(["redis-benchmark", "-p", str(port), "-t", "set", "-d", "100", "-c", "64",
                    "-n", str(n), "-r", str(n * 10), "-P", "64", "-q"], capture_output=True)
    p.kill()
    p.wait()
    t0 = time.monotonic()
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        r = subprocess.run(["redis-cli", "-p", str(port), "PING"], capture_output=True, text=True)
        if r.stdout.strip() == "PONG":
            break
        time.sleep(0.005)
    dt = time.monotonic() - t0
    p.terminate()
    p.wait()
    shutil.rmtree(d, ignore_errors=True)
    return dt


def sqlite_writes(data_dir, seconds):
    d = tempfile.mkdtemp(dir=data_dir)
    db = sqlite3.connect(os.path.join(d, "b.db"), isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, body TEXT)")
    n, lat = 0, []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t = time.monotonic()
        db.execute("INSERT INTO items (body) VALUES (?)", (BODY.decode(),))
        lat.append(time.monotonic() - t)
        n += 1
    db.close()
    shutil.rmtree(d, ignore_errors=True)
    lat.sort()
    return {"rps": n / seconds, "p99_ms": lat[int(len(lat) * 0.99)] * 1000}


def first_2xx(port, timeout=120):
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=1)
            s.sendall(b"GET /data/1 HTTP/1.1\r\nHost: b\r\n\r\n")
            if s.recv(64).startswith(b"HTTP/1.1 2"):
                s.close()
                return
            s.close()
        except OSError:
            pass
        time.sleep(0.002)
    raise RuntimeError("no 2xx")


def disk_bytes(d):
    total = 0
    for name in os.listdir(d):
        st = os.stat(os.path.join(d, name))
        total += st.st_blocks * 512
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--big", type=int, default=1_000_000)
    ap.add_argument("--dir", default=None, help="where the data goes (default: build/bench-durable)")
    ap.add_argument("--only", default="writes,restart,snapshot,get")
    a = ap.parse_args()
    only = set(a.only.split(","))
    root = os.path.dirname(HERE)
    work = a.dir or os.path.join(root, "build", "bench-durable")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    rows = {}

    def add(name, v):
        rows.setdefault(name, []).append(v)

    # Writes: ours, Redis, SQLite, alternating.
    for r in range(a.rounds if "writes" in only else 0):
        for conns in (1, 64):
            d = tempfile.mkdtemp(dir=work)
            p, port, err = start_ours(a.server, d)
            b.wrk(port, conns=conns, seconds=1, script="post_100.lua")  # warm-up
            res = b.wrk(port, conns=conns, seconds=a.seconds, script="post_100.lua")
            stop(p)
            err.seek(0)
            add(f"ours POST c={conns} rps", res["rps"])
            add(f"ours POST c={conns} p99 ms", res["p99_ms"])
            stats = [l for l in err.read().splitlines() if "flushes" in l]
            if stats:
                add(f"ours c={conns} flusher", stats[-1])
            shutil.rmtree(d, ignore_errors=True)
            rr = redis_rounds(work, conns, int(max(2000, res["rps"] * a.seconds)))
            add(f"redis SET c={conns} rps", rr["rps"])
            add(f"redis SET c={conns} p99 ms", rr["p99_ms"])
        s = sqlite_writes(work, a.seconds)
        add("sqlite INSERT c=1 rps", s["rps"])
        add("sqlite INSERT c=1 p99 ms", s["p99_ms"])

    # Restart with --big items, after kill -9.
    d = tempfile.mkdtemp(dir=work)
    p, port, err = start_ours(a.server, d)
    preload(port, a.big)
    text_bytes = a.big * (len(BODY) + 10)
    p.kill()
    p.wait()
    for r in range(a.rounds if "restart" in only else 0):
        t0 = time.monotonic()
        p, port, err = start_ours(a.server, d)
        first_2xx(port)
        add(f"ours restart {a.big} items s (journal)", time.monotonic() - t0)
        p.kill()
        p.wait()
    # Compaction: one snapshot of everything, then restart from it.
    p, port, err = start_ours(a.server, d, ["--snapshot-after-bytes", "1"])
    b.wrk(port, conns=8, seconds=1, script="post_100.lua")
    time.sleep(10)  # the snapshot of --big items
    stop(p)
    snaps = [f for f in os.listdir(d) if f.endswith(".snap")]
    add("disk bytes per item after compaction (all files)", disk_bytes(d) / a.big)
    if snaps:
        add("snapshot bytes per item", os.path.getsize(os.path.join(d, snaps[0])) / a.big)
    add("item text bytes", text_bytes / a.big)
    for r in range(a.rounds if "restart" in only else 0):
        t0 = time.monotonic()
        p, port, err = start_ours(a.server, d)
        first_2xx(port)
        add(f"ours restart {a.big} items s (snapshot)", time.monotonic() - t0)
        p.kill()
        p.wait()
    if "restart" in only:
        add(f"redis restart {a.big} keys s", redis_replay(work, a.big))

    # Write p99 with and without a snapshot running (of --big items).
    for r in range(a.rounds if "snapshot" in only else 0):
        for snap in (False, True):
            extra = ["--snapshot-after-bytes", "1" if snap else str(1 << 40)]
            p, port, err = start_ours(a.server, d, extra)
            res = b.wrk(port, conns=64, seconds=a.seconds, script="post_100.lua")
            stop(p)
            add(f"ours POST c=64 p99 ms, snapshot {'running' if snap else 'off'}", res["p99_ms"])

    # GET /data/{id}: durable vs memory, same items.
    env = {"BENCH_ITEMS": "1000"}
    for r in range(a.rounds if "get" in only else 0):
        for durable in (False, True):
            p, port, err = start_ours(a.server, d if durable else None)
            if not durable:
                preload(port, 1000, conns=4)
            c0 = b.cpu_ns(p.pid)
            res = b.wrk(port, conns=64, seconds=a.seconds, script="get_item.lua", env=env)
            cpu = (b.cpu_ns(p.pid) - c0) / 1000.0 / max(res["requests"], 1)
            stop(p)
            kind = "durable" if durable else "memory"
            add(f"GET /data/{{id}} {kind} rps", res["rps"])
            add(f"GET /data/{{id}} {kind} cpu us", cpu)

    print("| row | median | rounds |")
    print("|---|---|---|")
    for k, v in rows.items():
        if isinstance(v[0], str):
            print(f"| {k} | {v[-1]} | |")
        else:
            print(f"| {k} | {statistics.median(v):.3f} | {', '.join(f'{x:.3f}' for x in v)} |")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
