#!/usr/bin/env bash
# Builds the release server and runs it on 127.0.0.1:8080 (arguments are passed on: --help).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/deps.sh --server
cmake --preset release >/dev/null
cmake --build --preset release --target http_server
exec build/release/http_server "$@"
