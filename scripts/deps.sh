#!/usr/bin/env bash
# Installs the Debian packages the build, the tests and the fuzzers need, if any is missing.
#   --server   only what the server needs (scripts/run.sh)
#   --cluster  what scripts/cluster.sh runs besides the server (PostgreSQL, nginx)
#   --bench    the test suite's packages plus the benchmarks' (wrk, nginx, Redis, gnuplot)
set -euo pipefail
packages=(g++ cmake ninja-build pkg-config libgtest-dev libgmock-dev libbenchmark-dev
          rapidjson-dev libcli11-dev libpq-dev nlohmann-json3-dev libsimdjson-dev clang libclang-rt-14-dev curl
          postgresql nginx-light python3 systemd)
if [[ "${1:-}" == "--server" ]]; then
    # What building and running the server needs, nothing of the test suite's.
    packages=(g++ cmake ninja-build pkg-config rapidjson-dev libcli11-dev libpq-dev)
elif [[ "${1:-}" == "--cluster" ]]; then
    packages=(postgresql nginx-light python3)
elif [[ "${1:-}" == "--bench" ]]; then
    packages+=(wrk nginx-light gnuplot-nox util-linux redis-server redis-tools)
fi
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "installing: ${missing[*]}"
    sudo=""
    [[ $(id -u) -ne 0 ]] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
