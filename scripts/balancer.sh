#!/usr/bin/env bash
# nginx as the load balancer in front of server instances, on loopback.
#   balancer.sh start DIR PORT...   writes DIR/nginx.conf, starts nginx in the background on a
#                                   free port (printed) spreading requests over 127.0.0.1:PORT...
#   balancer.sh stop DIR            stops it (by the PID it wrote)
# Upstream keep-alive; an instance that refuses or times out is skipped for 2 s, and the request
# is retried on another only if it is idempotent (nginx never resends a POST or PATCH). A 503 is
# passed on, not retried: the instances share one database, and one 503 must not mark them down.
set -euo pipefail
cmd=${1:?usage: balancer.sh start DIR PORT... | stop DIR}
dir=${2:?usage: balancer.sh $cmd DIR}
shift 2
nginx=$(command -v nginx || echo /usr/sbin/nginx)
[[ -x "$nginx" ]] || { echo "balancer.sh: nginx is not installed (apt-get install nginx-light)" >&2; exit 1; }
case "$cmd" in
start)
    (($# > 0)) || { echo "balancer.sh: no instance ports" >&2; exit 2; }
    mkdir -p "$dir"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    servers=""
    for p in "$@"; do servers+="        server 127.0.0.1:$p max_fails=1 fail_timeout=2s;"$'\n'; done
    user_line=""
    [[ $(id -u) -eq 0 ]] && user_line="user root;"
    cat >"$dir/nginx.conf" <<CONF
daemon off;
master_process off;
$user_line
worker_processes 1;
error_log $dir/error.log warn;
pid $dir/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    upstream instances {
$servers        keepalive 32;
    }
    server {
        listen 127.0.0.1:$port;
        client_max_body_size 0;
        location / {
            proxy_pass http://instances;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_next_upstream error timeout;
            proxy_next_upstream_tries 2;
            proxy_connect_timeout 1s;
            proxy_buffering off;
        }
    }
}
CONF
    "$nginx" -t -q -c "$dir/nginx.conf" -p "$dir" 2>>"$dir/error.log"
    nohup "$nginx" -c "$dir/nginx.conf" -p "$dir" >/dev/null 2>>"$dir/error.log" &
    for _ in $(seq 100); do
        if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$port),0.2)" 2>/dev/null; then
            echo "$port"
            exit 0
        fi
        sleep 0.05
    done
    echo "balancer.sh: nginx did not start; see $dir/error.log" >&2
    exit 1
    ;;
stop)
    [[ -f "$dir/nginx.pid" ]] && kill "$(cat "$dir/nginx.pid")" 2>/dev/null || true
    ;;
*) echo "balancer.sh: unknown command $cmd" >&2; exit 2 ;;
esac
