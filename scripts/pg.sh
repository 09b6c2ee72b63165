#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on loopback, for the tests, the benchmarks and cluster.sh.
#   pg.sh start DIR     initdb (first time) + pg_ctl start; prints the connection URL
#   pg.sh stop DIR      fast shutdown (pg_ctl -m fast)
#   pg.sh kill DIR      immediate shutdown (a crash, as far as clients can tell)
#   pg.sh restart DIR   stop -m fast, then start again on the same port
#   pg.sh destroy DIR   stop it at once and remove DIR
#   pg.sh url DIR       the URL of a started cluster
#   pg.sh psql DIR ...  psql against it
# Run as root, the cluster belongs to the unprivileged user "nobody" (PostgreSQL refuses root).
set -euo pipefail
cmd=${1:?usage: pg.sh start|stop|kill|restart|url|psql DIR}
dir=${2:?usage: pg.sh $cmd DIR}
shift 2
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[[ -x "$bin/pg_ctl" ]] || { echo "pg.sh: PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }
as_owner() {
    if [[ $(id -u) -eq 0 ]]; then runuser -u nobody -- "$@"; else "$@"; fi
}
url() { echo "postgresql://hs@127.0.0.1:$(cat "$dir/port")/hs"; }
start() {
    mkdir -p "$dir"
    if [[ -f "$dir/data/postmaster.pid" ]] && as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
        url
        return
    fi
    if [[ ! -f "$dir/data/PG_VERSION" ]]; then
        [[ $(id -u) -eq 0 ]] && chown nobody "$dir"
        as_owner "$bin/initdb" -D "$dir/data" -U hs -A trust -E UTF8 --no-locale --no-sync >/dev/null
        # A free port: the kernel's pick for a socket that is then closed.
        python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' >"$dir/port"
        cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $(cat "$dir/port")
unix_socket_directories = '$dir'
max_connections = 200
shared_buffers = 128MB
fsync = on
synchronous_commit = on
logging_collector = off
CONF
    fi
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 start >/dev/null
    if ! as_owner "$bin/psql" -h 127.0.0.1 -p "$(cat "$dir/port")" -U hs -d postgres -Atqc \
        "SELECT 1 FROM pg_database WHERE datname = 'hs'" | grep -q 1; then
        as_owner "$bin/createdb" -h 127.0.0.1 -p "$(cat "$dir/port")" -U hs hs
    fi
    url
}
case "$cmd" in
    start) start ;;
    stop) as_owner "$bin/pg_ctl" -D "$dir/data" -w -t 60 -m fast stop >/dev/null ;;
    destroy) as_owner "$bin/pg_ctl" -D "$dir/data" -w -t 60 -m immediate stop >/dev/null 2>&1 || true
             rm -rf "$dir" ;;
    kill) as_owner "$bin/pg_ctl" -D "$dir/data" -w -t 60 -m immediate stop >/dev/null ;;
    restart) as_owner "$bin/pg_ctl" -D "$dir/data" -w -t 60 -m fast stop >/dev/null; start >/dev/null ;;
    url) url ;;
    psql) as_owner "$bin/psql" -h 127.0.0.1 -p "$(cat "$dir/port")" -U hs -d hs "$@" ;;
    *) echo "pg.sh: unknown command $cmd" >&2; exit 2 ;;
esac
