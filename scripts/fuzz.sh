#!/usr/bin/env bash
# Runs each fuzz target for N seconds (default 60) from the fixture corpus plus the kept corpus.
# Exits non-zero when a target finds a crash or an invariant violation.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-60}"
build="$root/build/fuzz"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/request_fuzzer" "$work/router_fuzzer" "$work/connection_fuzzer" "$work/journal_fuzzer"
"$build/tests/fuzz/fixtures_to_corpus" "$work/request_fuzzer" "$work/router_fuzzer"
for target in request_fuzzer router_fuzzer connection_fuzzer journal_fuzzer; do
    cp -r "$root/tests/fuzz/corpus/$target/." "$work/$target/" 2>/dev/null || true
    rm -f "$work/$target/.keep"
    echo "--- $target: ${seconds}s"
    dict=()
    [[ $target == request_fuzzer || $target == connection_fuzzer ]] && dict=(-dict="$root/tests/fuzz/http.dict")
    mkdir -p "$build/artifacts"
    (cd "$work" && "$build/tests/fuzz/$target" "$work/$target" "${dict[@]}" -max_total_time="$seconds" \
        -artifact_prefix="$build/artifacts/$target-" \
        -max_len=8192 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 2>&1 | tail -n 15)
done
