#!/usr/bin/env python3
"""Benchmark runner: our server against nginx, A B A B, server pinned to CPU 0, wrk to CPU 1.

Server CPU per response comes from /proc/PID/task/*/schedstat (nanoseconds on CPU, all threads
of the server, the access-log writer included) divided by the responses wrk counted.
"""
import argparse
import json
import os
import re
import resource
import selectors
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def cpu_ns(pid):
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on {port}")


class Server:
    def __init__(self, kind, binary, log, workdir):
        self.kind, self.binary, self.log, self.workdir = kind, binary, log, workdir
        self.port = free_port()
        self.proc = None

    def start(self):
        if self.kind == "ours":
            log = os.path.join(self.workdir, "ours-access.log") if self.log else "off"
            cmd = [self.binary, "--port", str(self.port), "--threads", "1", "--access-log", log,
                   "--max-connections", "50000"]
        else:
            d = tempfile.mkdtemp(dir=self.workdir)
            with open(os.path.join(HERE, "nginx.conf.in")) as f:
                conf = f.read()
            access = (f"access_log {d}/access.log combined buffer=64k flush=1s;" if self.log
                      else "access_log off;")
            conf = conf.replace("@DIR@", d).replace("@PORT@", str(self.port)).replace("@ACCESS_LOG@", access)
            path = os.path.join(d, "nginx.conf")
            with open(path, "w") as f:
                f.write(conf)
            cmd = [shutil.which("nginx") or "/usr/sbin/nginx", "-c", path, "-p", d]
        self.proc = subprocess.Popen(["taskset", "-c", "0"] + cmd, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, preexec_fn=raise_nofile)
        wait_port(self.port)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    @property
    def pid(self):
        return self.proc.pid


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def parse_duration(text):
    m = re.match(r"([\d.]+)(us|ms|s|m)", text)
    v, unit = float(m.group(1)), m.group(2)
    return v * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}[unit]  # in ms


def wrk(port, conns, seconds, path="/", script=None, headers=(), env=None):
    cmd = ["taskset", "-c", "1", "wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    if script:
        cmd += ["-s", os.path.join(HERE, script)]
    for h in headers:
        cmd += ["-H", h]
    cmd.append(f"http://127.0.0.1:{port}{path}")
    e = dict(os.environ, **(env or {}))
    out = subprocess.run(cmd, capture_output=True, text=True, env=e, preexec_fn=raise_nofile).stdout
    r = {"requests": int(re.search(r"(\d+) requests in", out).group(1)),
         "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
         "errors": 0, "non2xx": 0}
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    r["p50_ms"] = parse_duration(lat["50"]) if "50" in lat else None
    r["p99_ms"] = parse_duration(lat["99"]) if "99" in lat else None
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        r["errors"] = sum(int(x) for x in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        r["non2xx"] = int(m.group(1))
    return r


def measure(server, **kw):
    c0 = cpu_ns(server.pid)
    r = wrk(server.port, **kw)
    c1 = cpu_ns(server.pid)
    r["cpu_us"] = (c1 - c0) / 1000.0 / max(r["requests"], 1)
    r["rss_peak_kib"] = status_kib(server.pid, "VmHWM")
    return r


def preload(port, n, batch=1000):
    """POSTs n items over one pipelined connection."""
    body = b'{"name":"item","value":12345,"pad":"xxxxxxxxxxxxxxxxxxxx"}'
    req = (b"POST /data HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\nContent-Length: "
           + str(len(body)).encode() + b"\r\n\r\n" + body)
    s = socket.create_connection(("127.0.0.1", port))
    mark = b"HTTP/1.1 201"
    done = 0
    while done < n:
        k = min(batch, n - done)
        s.sendall(req * k)
        seen, buf = 0, b""
        while seen < k:
            chunk = s.recv(1 << 20)
            if not chunk:
                raise RuntimeError("server closed during preload")
            buf += chunk
            seen += buf.count(mark)
            # keep only what could be the start of a mark cut by the read
            last = buf.rfind(mark)
            buf = buf[max(last + len(mark) if last >= 0 else 0, len(buf) - len(mark) + 1):]
        done += k
    s.close()


def http_get(port, path):
    """One GET on a fresh connection: status, ETag and body (Content-Length framed)."""
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: b\r\n\r\n".encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += s.recv(65536)
    head, _, body = buf.partition(b"\r\n\r\n")
    fields = dict(l.split(": ", 1) for l in head.decode().split("\r\n")[1:])
    length = int(fields.get("Content-Length", "0"))
    while len(body) < length:
        body += s.recv(65536)
    s.close()
    return {"status": int(head[9:12]), "etag": fields.get("ETag", ""), "body": body}


def idle_connections(server, n):
    """Opens n keep-alive connections, one request each, then holds them: RSS per connection."""
    raise_nofile()
    before = status_kib(server.pid, "VmRSS")
    sel = selectors.DefaultSelector()
    socks = []
    req = b"GET / HTTP/1.1\r\nHost: b\r\n\r\n"
    for _ in range(n):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", server.port))
        socks.append(s)
        sel.register(s, selectors.EVENT_WRITE)
    pending = n
    end = time.time() + 60
    state = {}
    while pending and time.time() < end:
        for key, ev in sel.select(timeout=1):
            s = key.fileobj
            if ev & selectors.EVENT_WRITE and s not in state:
                s.send(req)
                state[s] = b""
                sel.modify(s, selectors.EVENT_READ)
            elif ev & selectors.EVENT_READ:
                data = s.recv(4096)
                state[s] += data
                if b"\r\n\r\n" in state[s] or not data:
                    sel.unregister(s)
                    pending -= 1
    time.sleep(0.5)
    after = status_kib(server.pid, "VmRSS")
    for s in socks:
        s.close()
    return {"connections": n - pending, "rss_before_kib": before, "rss_after_kib": after,
            "bytes_per_conn": (after - before) * 1024.0 / max(n - pending, 1)}


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else float("nan")


def spread(xs):
    return (max(xs) - min(xs)) / statistics.median(xs) * 100 if xs and statistics.median(xs) else 0.0


VS_NGINX = {
    "keepalive": dict(conns=64),
    "pipelined": dict(conns=64, script="pipeline.lua"),
    "close": dict(conns=64, headers=("Connection: close",)),
    "conns1000": dict(conns=1000),
    "log": dict(conns=64),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--baseline", default="",
                    help="an earlier build of ours, run as a third contender in the nginx rows "
                         "(before/after comparisons in the same run)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--only", default="")
    ap.add_argument("--idle", type=int, default=10000)
    ap.add_argument("--big", type=int, default=1_000_000)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    a = ap.parse_args()
    only = set(filter(None, a.only.split(",")))
    want = lambda name: not only or name in only
    os.makedirs(a.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="hs-bench-")
    results = {"meta": {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "rounds": a.rounds, "seconds": a.seconds,
                        "cpu": open("/proc/cpuinfo").read().split("model name")[1].split("\n")[0].strip(": "),
                        "nginx": subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()},
               "runs": {}}

    def run(scenario, kind, log, **kw):
        if kind == "base":
            s = Server("ours", a.baseline, log, work).start()
        else:
            s = Server(kind, a.server, log, work).start()
        try:
            wrk(s.port, conns=8, seconds=1, path=kw.get("path", "/"))  # warm-up
            return measure(s, seconds=a.seconds, **kw)
        finally:
            s.stop()

    for name, kw in VS_NGINX.items():
        if not want(name):
            continue
        kinds = ("ours", "base", "nginx") if a.baseline else ("ours", "nginx")
        for rnd in range(a.rounds):
            for kind in kinds:
                r = run(name, kind, name == "log", **kw)
                results["runs"].setdefault(name, {}).setdefault(kind, []).append(r)
                print(f"{name:10s} round {rnd + 1} {kind:5s} {r['rps']:>10.0f} req/s  {r['cpu_us']:6.2f} us/resp"
                      f"  p99 {r['p99_ms']} ms  errors {r['errors']} non2xx {r['non2xx']}", flush=True)

    if want("idle"):
        for rnd in range(min(a.rounds, 3)):
            for kind in ("ours", "nginx"):
                s = Server(kind, a.server, False, work).start()
                try:
                    r = idle_connections(s, a.idle)
                finally:
                    s.stop()
                results["runs"].setdefault("idle", {}).setdefault(kind, []).append(r)
                print(f"idle       round {rnd + 1} {kind:5s} {r['connections']} conns  {r['bytes_per_conn']:.0f} B/conn", flush=True)

    # Our API alone: mix vs our own GET /, item lookups at 1k and 1M items, GET /data on 10k.
    if want("api"):
        servers = {}
        try:
            for label, items in (("1k", 1000), ("big", a.big), ("10k", 10000)):
                servers[label] = Server("ours", a.server, False, work).start()
                t0 = time.time()
                preload(servers[label].port, items)
                print(f"preloaded {items} items in {time.time() - t0:.1f}s", flush=True)
            big = str(a.big)
            for rnd in range(a.rounds):
                runs = {
                    "api_get_root": measure(servers["1k"], conns=64, seconds=a.seconds),
                    "api_mix": measure(servers["1k"], conns=64, seconds=a.seconds, script="data_mix.lua",
                                       env={"BENCH_ITEMS": "1000"}),
                    "item_1k": measure(servers["1k"], conns=64, seconds=a.seconds, script="get_item.lua",
                                       env={"BENCH_ITEMS": "1000"}),
                    "item_big": measure(servers["big"], conns=64, seconds=a.seconds, script="get_item.lua",
                                        env={"BENCH_ITEMS": big}),
                    "list_10k": measure(servers["10k"], conns=4, seconds=a.seconds, path="/data"),
                }
                # GET / latency on the same server while GET /data (10k items) runs beside it.
                bg = subprocess.Popen(["taskset", "-c", "1", "wrk", "-t1", "-c4", f"-d{a.seconds + 2}s",
                                       f"http://127.0.0.1:{servers['10k'].port}/data"],
                                      stdout=subprocess.DEVNULL)
                time.sleep(1)
                runs["root_beside_list"] = measure(servers["10k"], conns=16, seconds=a.seconds)
                bg.wait()
                runs["root_alone"] = measure(servers["10k"], conns=16, seconds=a.seconds)
                for k, r in runs.items():
                    results["runs"].setdefault(k, {}).setdefault("ours", []).append(r)
                print(f"api round {rnd + 1}: " + ", ".join(f"{k} {r['rps']:.0f} req/s {r['cpu_us']:.2f} us"
                                                          for k, r in runs.items()), flush=True)
            for label, s in servers.items():
                results["meta"][f"rss_kib_{label}"] = status_kib(s.pid, "VmRSS")
        finally:
            for s in servers.values():
                s.stop()

    # The store interface v2 rows: GET /data/{id} with its ETag against the baseline build (the
    # one before versions), a 304 and the mix with PATCH against our own GET / on the same
    # server, fresh servers each round (A B A B).
    if want("store"):
        kinds = ("ours", "base") if a.baseline else ("ours",)
        for rnd in range(a.rounds):
            for kind in kinds:
                s = Server("ours", a.baseline if kind == "base" else a.server, False, work).start()
                try:
                    preload(s.port, 1000)
                    env = {"BENCH_ITEMS": "1000"}
                    wrk(s.port, conns=8, seconds=1, script="get_item.lua", env=env)  # warm-up
                    runs = {"item_etag": measure(s, conns=64, seconds=a.seconds, script="get_item.lua", env=env)}
                    if kind == "ours":
                        etag = http_get(s.port, "/data/1")["etag"]
                        runs["root_same_server"] = measure(s, conns=64, seconds=a.seconds)
                        runs["not_modified"] = measure(s, conns=64, seconds=a.seconds, script="not_modified.lua",
                                                       env=dict(env, BENCH_ETAG=etag))
                        runs["mix_patch"] = measure(s, conns=64, seconds=a.seconds, script="data_mix_patch.lua",
                                                    env=env)
                finally:
                    s.stop()
                for k, r in runs.items():
                    results["runs"].setdefault(k, {}).setdefault(kind, []).append(r)
                print(f"store round {rnd + 1} {kind:5s}: " + ", ".join(
                    f"{k} {r['rps']:.0f} req/s {r['cpu_us']:.2f} us non2xx {r['non2xx']}" for k, r in runs.items()),
                    flush=True)

    # GET /data of a large store (--big items): peak RSS beyond the store while it is read again
    # and again, and GET / p99 on the same server beside it against GET / alone.
    if want("list_big"):
        s = Server("ours", a.server, False, work).start()
        try:
            t0 = time.time()
            preload(s.port, a.big)
            print(f"preloaded {a.big} items in {time.time() - t0:.1f}s", flush=True)
            store_kib = status_kib(s.pid, "VmRSS")
            for rnd in range(a.rounds):
                alone = measure(s, conns=16, seconds=a.seconds)
                with open(f"/proc/{s.pid}/clear_refs", "w") as f:
                    f.write("5")  # VmHWM back to the current RSS
                before_kib = status_kib(s.pid, "VmRSS")
                reader = subprocess.Popen(["taskset", "-c", "1", "nice", "-n", "19", sys.executable, os.path.join(HERE, "list_reader.py"),
                                           str(s.port), str(a.seconds + 2)], stdout=subprocess.PIPE, text=True)
                time.sleep(1)
                beside = measure(s, conns=16, seconds=a.seconds)
                out, _ = reader.communicate()
                lr = json.loads(out)
                peak_kib = status_kib(s.pid, "VmHWM")
                r = {"alone": alone, "beside": beside, "listings": lr, "store_kib": store_kib,
                     "before_kib": before_kib, "peak_kib": peak_kib}
                results["runs"].setdefault("list_big", {}).setdefault("ours", []).append(r)
                print(f"list_big round {rnd + 1}: {lr['listings']} listings of {lr['bytes'] / max(lr['listings'], 1) / 1e6:.1f} MB"
                      f" in {lr['seconds']:.1f}s, peak RSS +{(peak_kib - before_kib) / 1024:.1f} MiB over"
                      f" {before_kib / 1024:.0f} MiB; GET / p99 {beside['p99_ms']} ms beside, {alone['p99_ms']} ms alone",
                      flush=True)
        finally:
            s.stop()

    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = os.path.join(a.out, f"bench-{stamp}.json")
    with open(path, "w") as f:
        json.dump(results, f, indent=1)
    report(results, a.out, stamp)
    print(f"\nresults: {path}")


def report(results, out, stamp):
    runs = results["runs"]
    lines = ["| scenario | server | req/s median | spread | p50 ms | p99 ms | CPU µs/resp | peak RSS MiB | errors |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    ratios = ["| scenario | CPU/resp ours÷nginx (median of rounds) | req/s ours÷nginx | target |",
              "|---|---:|---:|---|"]
    targets = {"keepalive": "CPU ≤ 0.75", "pipelined": "req/s ≥ 1.5", "close": "CPU ≤ 0.9",
               "conns1000": "CPU ≤ 0.8, no errors", "log": "CPU ≤ 0.8"}
    csv = []
    for name, by in runs.items():
        if name in ("idle", "list_big"):
            continue
        for kind, rs in by.items():
            lines.append(f"| {name} | {kind} | {med([r['rps'] for r in rs]):,.0f} | {spread([r['rps'] for r in rs]):.1f}% "
                         f"| {med([r['p50_ms'] for r in rs]):.3f} | {med([r['p99_ms'] for r in rs]):.3f} "
                         f"| {med([r['cpu_us'] for r in rs]):.2f} | {max(r['rss_peak_kib'] for r in rs) / 1024:.1f} "
                         f"| {sum(r['errors'] for r in rs)} |")
        if "nginx" in by:
            o, n = by["ours"], by["nginx"]
            cr = med([x["cpu_us"] / y["cpu_us"] for x, y in zip(o, n)])
            rr = med([x["rps"] / y["rps"] for x, y in zip(o, n)])
            ratios.append(f"| {name} | {cr:.2f} | {rr:.2f} | {targets.get(name, '')} |")
            csv.append(f"{name} {med([r['rps'] for r in o]):.0f} {med([r['rps'] for r in n]):.0f} "
                       f"{med([r['cpu_us'] for r in o]):.3f} {med([r['cpu_us'] for r in n]):.3f}")
        if "base" in by:
            o, b = by["ours"], by["base"]
            cr = med([x["cpu_us"] / y["cpu_us"] for x, y in zip(o, b)])
            rr = med([x["rps"] / y["rps"] for x, y in zip(o, b)])
            ratios.append(f"| {name}: this build vs baseline | {cr:.3f} | {rr:.3f} | within 3% |")
    if "idle" in runs:
        for kind, rs in runs["idle"].items():
            lines.append(f"| idle keep-alive ({rs[0]['connections']:,} conns) | {kind} | | | | | | "
                         f"{med([r['bytes_per_conn'] for r in rs]):.0f} B/conn | |")
    if "api_mix" in runs and "api_get_root" in runs:
        mix = med([m["cpu_us"] / g["cpu_us"] for m, g in zip(runs["api_mix"]["ours"], runs["api_get_root"]["ours"])])
        ratios.append(f"| data API mix vs our GET / | {mix:.2f} | | CPU ≤ 1.5 |")
    if "item_1k" in runs and "item_big" in runs:
        big = med([b["cpu_us"] / s["cpu_us"] for b, s in zip(runs["item_big"]["ours"], runs["item_1k"]["ours"])])
        ratios.append(f"| GET /data/{{id}} 1M vs 1k items | {big:.2f} | | 0.9 – 1.1 |")
    if "root_beside_list" in runs:
        b = med([r["p99_ms"] for r in runs["root_beside_list"]["ours"]])
        al = med([r["p99_ms"] for r in runs["root_alone"]["ours"]])
        ratios.append(f"| GET / p99 beside GET /data (10k) vs alone | {b:.3f} ms vs {al:.3f} ms | | no stall |")
    if "item_etag" in runs and "base" in runs["item_etag"]:
        o, b = runs["item_etag"]["ours"], runs["item_etag"]["base"]
        ratios.append(f"| GET /data/{{id}} with ETag vs the build before versions | "
                      f"{med([x['cpu_us'] / y['cpu_us'] for x, y in zip(o, b)]):.3f} | "
                      f"{med([x['rps'] / y['rps'] for x, y in zip(o, b)]):.3f} | CPU ≤ 1.05 |")
    if "not_modified" in runs:
        g = runs["root_same_server"]["ours"]
        nm = med([x["cpu_us"] / y["cpu_us"] for x, y in zip(runs["not_modified"]["ours"], g)])
        mp = med([x["cpu_us"] / y["cpu_us"] for x, y in zip(runs["mix_patch"]["ours"], g)])
        ratios.append(f"| 304 (If-None-Match) vs our GET / | {nm:.3f} | | CPU ≤ 1.0 |")
        ratios.append(f"| data mix with PATCH (20/20/60) vs our GET / | {mp:.3f} | | CPU ≤ 1.5 |")
    if "list_big" in runs:
        rs = runs["list_big"]["ours"]
        grow = max((r["peak_kib"] - r["before_kib"]) / 1024 for r in rs)
        p99 = med([r["beside"]["p99_ms"] / r["alone"]["p99_ms"] for r in rs])
        ratios.append(f"| GET /data of the big store: peak RSS beyond the store (max of rounds) | {grow:.1f} MiB | | ≤ 16 MiB |")
        ratios.append(f"| GET / p99 beside GET /data of the big store vs alone | "
                      f"{med([r['beside']['p99_ms'] for r in rs]):.3f} ms vs {med([r['alone']['p99_ms'] for r in rs]):.3f} ms"
                      f" = {p99:.2f}× | | ≤ 2× |")
    text = "\n".join(lines) + "\n\n" + "\n".join(ratios) + "\n"
    print("\n" + text)
    with open(os.path.join(out, f"bench-{stamp}.md"), "w") as f:
        f.write(text)
    with open(os.path.join(out, "latest.dat"), "w") as f:
        f.write("# scenario ours_rps nginx_rps ours_cpu_us nginx_cpu_us\n" + "\n".join(csv) + "\n")
    if shutil.which("gnuplot") and csv:
        subprocess.run(["gnuplot", "-e", f"datafile='{os.path.join(out, 'latest.dat')}'; "
                        f"outfile='{os.path.join(out, 'latest.png')}'", os.path.join(HERE, "plot.gp")])


if __name__ == "__main__":
    sys.exit(main())
