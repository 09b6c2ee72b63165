#!/usr/bin/env bash
# The benchmark suite: installs wrk, nginx and gnuplot if missing, builds the release server,
# and runs every scenario against it and nginx (server on CPU 0, wrk on CPU 1, A B A B rounds).
#   bench/run.sh                 full run (5 rounds of 5 s per scenario, ~10 min)
#   bench/run.sh --rounds 3 --seconds 3 --only keepalive,pipelined
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/deps.sh --bench
cmake --preset release >/dev/null
cmake --build --preset release --target http_server
exec python3 bench/run.py --server build/release/http_server "$@"
