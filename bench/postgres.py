#!/usr/bin/env python3
"""The PostgreSQL store against pgbench and against Fastify + pg, same database, same run.

  bench/postgres.py --server build/release/http_server [--rounds 3] [--seconds 10]

PostgreSQL (a throwaway cluster, scripts/pg.sh) and the server under test share CPU 0; the load
generators (wrk, pgbench) run on CPU 1. The table holds 100k items of ~100 B. The data mix is
20% POST /data, 80% GET /data/{id} at 64 connections (bench/data_mix.lua); pgbench -M prepared
runs the same two statements with 64 clients; Fastify + pg (bench/node, a Pool of 16) serves the
same two routes on the same table. A B C A B C; medians. Our server's own counters (stderr at
exit) give queries per operation and queries per flush.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import run as b  # noqa: E402

ITEMS = 100_000
MEMBERS = '"name":"widget","price":12.5,"tags":["a","b","c"],"stock":1234,"note":"a hundred bytes or so."'


def sh(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw).stdout


def psql(pgdir, sql):
    return sh("bash", os.path.join(ROOT, "scripts", "pg.sh"), "psql", pgdir, "-Atqc", sql)


def start_ours(binary, url, connections):
    port = b.free_port()
    err = open(os.path.join(tempfile.gettempdir(), f"hs-pg-bench-{port}.err"), "w+")
    p = subprocess.Popen(["taskset", "-c", "0", binary, "--port", str(port), "--threads", "1",
                          "--access-log", "off", "--database-url", url,
                          "--database-connections", str(connections)],
                         stdout=subprocess.DEVNULL, stderr=err, preexec_fn=b.raise_nofile)
    b.wait_port(port, timeout=30)
    for _ in range(200):  # connected: a read answers (404 on an empty table)
        if b.http_get(port, "/data/1")["status"] != 503:
            break
        time.sleep(0.05)
    p.port, p.err = port, err
    return p


def start_fastify(url):
    port = b.free_port()
    env = dict(os.environ, DATABASE_URL=url, PORT=str(port))
    p = subprocess.Popen(["taskset", "-c", "0", "node", os.path.join(HERE, "node", "server.js")],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    b.wait_port(port, timeout=30)
    p.port = port
    return p


def stop(p):
    p.terminate()
    p.wait(timeout=30)


def pgbench(url, seconds, clients=64):
    script = os.path.join(tempfile.gettempdir(), "hs-pgbench-mix.sql")
    with open(script, "w") as f:
        f.write("\\set r random(1, 100)\n\\set id random(1, %d)\n" % ITEMS)
        f.write("\\if :r <= 20\nINSERT INTO hs.items (version, members) VALUES (1, '%s') "
                "RETURNING id;\n\\else\nSELECT version, members FROM hs.items WHERE id = :id;\n"
                "\\endif\n" % MEMBERS.replace("'", "''"))
    out = sh("taskset", "-c", "1", "pgbench", "-n", "-M", "prepared", "-c", str(clients), "-j", "1",
             "-T", str(seconds), "-f", script, "-r", url)
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))
    lat = float(re.search(r"latency average = ([\d.]+) ms", out).group(1))
    return {"rps": tps, "avg_ms": lat}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", default=os.path.join(ROOT, "build", "release", "http_server"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=8, help="ours: per worker")
    a = ap.parse_args()
    if not os.path.isdir(os.path.join(HERE, "node", "node_modules")):
        sh("npm", "install", "--no-audit", "--no-fund", "--silent", cwd=os.path.join(HERE, "node"))
    pgdir = tempfile.mkdtemp(prefix="hs-pg-bench-")
    os.chmod(pgdir, 0o755)
    url = sh("taskset", "-c", "0", "bash", os.path.join(ROOT, "scripts", "pg.sh"), "start",
             pgdir).strip()
    try:
        s = start_ours(a.server, url, a.connections)  # creates the schema
        stop(s)
        psql(pgdir, "INSERT INTO hs.items (version, members) SELECT 1, '%s' FROM "
             "generate_series(1, %d)" % (MEMBERS, ITEMS))
        psql(pgdir, "VACUUM ANALYZE hs.items")
        env = {"BENCH_ITEMS": str(ITEMS)}
        res = {"pgbench": [], "ours": [], "fastify": []}
        counters = []
        for r in range(a.rounds):
            res["pgbench"].append(pgbench(url, a.seconds))
            s = start_ours(a.server, url, a.connections)
            res["ours"].append(b.measure(s, conns=64, seconds=a.seconds, script="data_mix.lua",
                                         env=env))
            stop(s)
            s.err.seek(0)
            counters.append(s.err.read().strip().splitlines()[-1])
            f = start_fastify(url)
            res["fastify"].append(b.wrk(f.port, conns=64, seconds=a.seconds,
                                        script="data_mix.lua", env=env))
            stop(f)
            print(f"round {r + 1}: pgbench {res['pgbench'][-1]['rps']:.0f} tps, ours "
                  f"{res['ours'][-1]['rps']:.0f}/s (p99 {res['ours'][-1]['p99_ms']} ms, "
                  f"server CPU {res['ours'][-1]['cpu_us']:.1f} us/request, "
                  f"non-2xx {res['ours'][-1]['non2xx']}), fastify {res['fastify'][-1]['rps']:.0f}/s "
                  f"(p99 {res['fastify'][-1]['p99_ms']} ms, non-2xx {res['fastify'][-1]['non2xx']})",
                  flush=True)
        med = {k: statistics.median(x["rps"] for x in v) for k, v in res.items()}
        p99 = {k: statistics.median(x["p99_ms"] for x in v) for k in ("ours", "fastify")
               for v in [res[k]]}
        print("\n| row | ours | anchor | ratio | target |\n|---|---|---|---|---|")
        print(f"| data mix, 64 conns, req/s vs pgbench tps | {med['ours']:,.0f} | "
              f"{med['pgbench']:,.0f} | {med['ours'] / med['pgbench']:.2f}x | >= 0.8x |")
        print(f"| data mix vs Fastify + pg (Pool 16) | {med['ours']:,.0f} | {med['fastify']:,.0f} | "
              f"{med['ours'] / med['fastify']:.2f}x | >= 3x |")
        print(f"| p99 vs Fastify | {p99['ours']} ms | {p99['fastify']} ms | | lower |")
        cpu = statistics.median(x["cpu_us"] for x in res["ours"])
        print(f"\nour server's CPU per request: {cpu:.1f} us (the rest of CPU 0 is PostgreSQL's)")
        print("our counters (last round):", counters[-1])
    finally:
        subprocess.run(["bash", os.path.join(ROOT, "scripts", "pg.sh"), "destroy", pgdir])


if __name__ == "__main__":
    main()
