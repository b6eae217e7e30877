#!/usr/bin/env bash
# Browser test: the payments example's /docs page, rendered by headless Chromium with every host
# but loopback unresolvable, must list the webhooks `new-event` and `payments` and the route /create.
set -euo pipefail
cd "$(dirname "$0")/.."

port="${BROWSER_TEST_PORT:-18473}"
out=target/browser-test
mkdir -p "$out"
cargo build --quiet --example payments
target/debug/examples/payments --class-based --port "$port" > "$out/server.log" 2>&1 &
server=$!
profile=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$profile"' EXIT

for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$port/openapi.json" > /dev/null 2>&1; then break; fi
    sleep 0.2
done
curl -fsS "http://127.0.0.1:$port/openapi.json" > /dev/null

flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
    --disable-component-update --disable-sync --disable-default-apps --disable-extensions
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1" "--user-data-dir=$profile"
    --virtual-time-budget=20000 --window-size=1280,2400)
chromium "${flags[@]}" --dump-dom "http://127.0.0.1:$port/docs/" > "$out/docs.html" 2> "$out/chromium.log"
chromium "${flags[@]}" --screenshot="$out/docs.png" "http://127.0.0.1:$port/docs/" >> "$out/chromium.log" 2>&1 || true

# Swagger UI renders each operation's path (or webhook name) in `opblock-summary-path`.
paths=$(grep -o 'data-path="[^"]*"' "$out/docs.html" | sort -u || true)
failed=0
for expected in 'data-path="new-event"' 'data-path="payments"' 'data-path="/create"'; do
    if grep -qF "$expected" <<< "$paths"; then
        echo "browser: found $expected"
    else
        echo "browser: MISSING $expected in the rendered /docs page (see $out/docs.html)"
        failed=1
    fi
done
if ! grep -q '>Webhooks<' "$out/docs.html"; then
    echo "browser: MISSING the Webhooks section heading"
    failed=1
fi
[ "$failed" = 0 ] && echo "browser: 4 passed, 0 failed"
exit "$failed"
