#!/usr/bin/env bash
# The whole test suite: unit + end-to-end under debug and ASan+UBSan, the concurrency tests
# under TSan, and a fuzz smoke run of each libFuzzer target (FUZZ_SECONDS, default 60).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/deps.sh
jobs="$(nproc)"

for preset in debug asan-ubsan tsan; do
    echo "=== $preset: build"
    cmake --preset "$preset" >/dev/null
    cmake --build --preset "$preset" -j "$jobs"
    echo "=== $preset: test"
    # TSan runs only the tests labelled "concurrency" (see CMakePresets.json).
    TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
    ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
        ctest --preset "$preset" -j "$jobs"
done

echo "=== fuzz: build and smoke"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$jobs"
scripts/fuzz.sh "${FUZZ_SECONDS:-60}"
echo "=== all suites passed"
