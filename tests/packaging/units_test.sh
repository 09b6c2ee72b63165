#!/usr/bin/env bash
# The systemd units in packaging/systemd: `systemd-analyze verify` passes (with ExecStart
# pointed at the binary just built), and the service's exposure is 2.0 ("OK") or better in
# `systemd-analyze --offline=true security`.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
binary=${1:?usage: units_test.sh SERVER_BINARY}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$here/packaging/systemd/http_server.socket" "$tmp/"
sed "s|^ExecStart=/usr/bin/http_server|ExecStart=$binary|" \
    "$here/packaging/systemd/http_server.service" >"$tmp/http_server.service"
out=$(cd "$tmp" && systemd-analyze verify http_server.socket http_server.service 2>&1) || {
    echo "$out"; exit 1; }
# verify prints warnings on stderr without failing: any line about our units is a failure.
if grep -E "http_server\.(service|socket)" <<<"$out"; then
    exit 1
fi
score=$(systemd-analyze --offline=true security "$tmp/http_server.service" 2>&1 |
    sed -n 's/.*Overall exposure level for http_server.service: \([0-9.]*\).*/\1/p')
echo "exposure: $score"
[[ -n "$score" ]] && awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'
