#!/usr/bin/env bash
# Browser test of the webhook reference (/webhook-docs): the payments and ftrack-like examples'
# pages, rendered by headless Chromium with every host but loopback unresolvable, must show
# their tag groups and a payload example (and, for the signed ftrack-like one, how to verify),
# and the page must ask for nothing but loopback (Chromium's network log says so).
set -euo pipefail
cd "$(dirname "$0")/.."

port="${BROWSER_TEST_PORT:-18474}"
out=target/browser-test
mkdir -p "$out"
cargo build --quiet --example payments --example ftrack_like
profile=$(mktemp -d)
server=
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$profile"' EXIT

flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
    --disable-component-update --disable-sync --disable-default-apps --disable-extensions
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1" "--user-data-dir=$profile"
    --virtual-time-budget=10000 --window-size=1280,2400)
passed=0
failed=0

# render NAME COMMAND...: starts the example, renders /webhook-docs to $out/NAME.html and .png.
render() {
    local name=$1
    shift
    "$@" > "$out/$name-server.log" 2>&1 &
    server=$!
    for _ in $(seq 1 100); do
        if curl -fsS "http://127.0.0.1:$port/webhook-docs" > /dev/null 2>&1; then break; fi
        sleep 0.2
    done
    local url="http://127.0.0.1:$port/webhook-docs"
    curl -fsS "$url" > /dev/null
    chromium "${flags[@]}" --log-net-log="$out/$name-netlog.json" --dump-dom "$url" \
        > "$out/$name.html" 2> "$out/$name-chromium.log"
    chromium "${flags[@]}" --screenshot="$out/$name.png" "$url" >> "$out/$name-chromium.log" 2>&1 || true
    kill "$server"
    wait "$server" 2>/dev/null || true
    server=
}

# expect NAME TEXT: the rendered DOM of NAME contains TEXT.
expect() {
    if grep -qF -- "$2" "$out/$1.html"; then
        echo "browser: $1 shows $2"
        passed=$((passed + 1))
    else
        echo "browser: MISSING $2 in the rendered $1 page (see $out/$1.html)"
        failed=$((failed + 1))
    fi
}

# offline NAME: the page requested nothing but loopback. Chromium's own background requests
# (its update, account and autofill services) are not the page's and are left out.
offline() {
    local others
    others=$(grep -o '"url":"[a-z]*://[^"/]*' "$out/$1-netlog.json" | sed 's/"url":"//' | sort -u |
        grep -v -E '^[a-z]+://(127\.0\.0\.1(:[0-9]+)?)$' |
        grep -v -E '\.(google\.com|googleapis\.com|gstatic\.com)$' || true)
    if [ -z "$others" ]; then
        echo "browser: $1 asked for nothing but loopback"
        passed=$((passed + 1))
    else
        echo "browser: $1 asked for other hosts: $others"
        failed=$((failed + 1))
    fi
}

render payments target/debug/examples/payments --class-based --port "$port"
expect payments '<h2>Webhooks</h2>'
expect payments '<code class="event">new-event</code>'
expect payments '<code class="event">payments</code>'
expect payments '"is_paid": true'
offline payments

render ftrack target/debug/examples/ftrack_like --serve "$port"
expect ftrack '<h2>entities</h2>'
expect ftrack '<h2>webhook management</h2>'
expect ftrack '<code class="event">entity.changed</code>'
expect ftrack '"entity_type": "string"'
expect ftrack 'Verify the signature of <code>entity.changed</code>'
offline ftrack

echo "browser: $passed passed, $failed failed (screenshots: $out/payments.png, $out/ftrack.png)"
[ "$failed" = 0 ]
