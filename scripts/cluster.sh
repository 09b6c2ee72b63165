#!/usr/bin/env bash
# Several instances sharing one PostgreSQL, behind nginx, on one machine and loopback only.
#   scripts/cluster.sh start [DIR] [N]   a throwaway PostgreSQL (scripts/pg.sh), N instances
#                                        (default 2) and nginx in front; prints the balancer's URL
#   scripts/cluster.sh stop [DIR]        stops them all and removes DIR
# DIR defaults to /tmp/hs-cluster. The server binary is $HS_SERVER, else build/release's (built
# when missing). Each instance logs to DIR/instance-K.{log,err}.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cmd=${1:?usage: cluster.sh start|stop [DIR] [N]}
dir=${2:-/tmp/hs-cluster}
n=${3:-2}
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
case "$cmd" in
start)
    server=${HS_SERVER:-$root/build/release/http_server}
    if [[ ! -x "$server" ]]; then
        (cd "$root" && scripts/deps.sh --server && cmake --preset release >/dev/null &&
            cmake --build --preset release --target http_server >/dev/null)
    fi
    "$root/scripts/deps.sh" --cluster
    mkdir -p "$dir"
    url=$("$root/scripts/pg.sh" start "$dir/pg")
    ports=()
    for k in $(seq 1 "$n"); do
        port=$(free_port)
        nohup "$server" --port "$port" --database-url "$url" --access-log "$dir/instance-$k.log" \
            >/dev/null 2>"$dir/instance-$k.err" &
        echo $! >"$dir/instance-$k.pid"
        for _ in $(seq 200); do
            grep -q "listening" "$dir/instance-$k.err" 2>/dev/null && break
            sleep 0.05
        done
        grep -q "listening" "$dir/instance-$k.err" ||
            { echo "cluster.sh: instance $k did not start; see $dir/instance-$k.err" >&2; exit 1; }
        ports+=("$port")
    done
    lb=$("$root/scripts/balancer.sh" start "$dir/lb" "${ports[@]}")
    echo "PostgreSQL: $url; instances on ports ${ports[*]}" >&2
    echo "http://127.0.0.1:$lb"
    ;;
stop)
    "$root/scripts/balancer.sh" stop "$dir/lb" 2>/dev/null || true
    for f in "$dir"/instance-*.pid; do
        [[ -f "$f" ]] || continue
        pid=$(cat "$f")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        rm -f "$f"
    done
    "$root/scripts/pg.sh" destroy "$dir/pg" 2>/dev/null || true
    rm -rf "$dir"
    ;;
*) echo "cluster.sh: unknown command $cmd" >&2; exit 2 ;;
esac
