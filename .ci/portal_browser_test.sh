#!/usr/bin/env bash
# Browser test of the customer portal: the portal example in Debian's headless Chromium,
# driven by playwright-core (installed here, under target/, from npm). A customer adds an
# endpoint, sends a test event, sees it delivered 2xx, disables the endpoint; another
# tenant's link does not show it; a description `<script>alert(1)</script>` is text and
# opens no dialog; posts without the session's CSRF token are refused. Screenshots of the
# main pages go to target/portal-browser/.
set -euo pipefail
cd "$(dirname "$0")/.."

port="${PORTAL_TEST_PORT:-18474}"
out=target/portal-browser
node_dir=target/portal-browser-node
mkdir -p "$out" "$node_dir"

if ! command -v chromium > /dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null
fi
if [ ! -f "$node_dir/node_modules/playwright-core/package.json" ]; then
    npm install --silent --no-audit --no-fund --prefix "$node_dir" playwright-core@1.65.1
fi

cargo build --quiet --example portal
target/debug/examples/portal --port "$port" > "$out/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 1 150); do
    if grep -q "portal link for initech" "$out/server.log"; then break; fi
    sleep 0.2
done
link() { grep "portal link for $1 " "$out/server.log" | sed 's/.*: //'; }

PORTAL_BASE="http://127.0.0.1:$port" \
    PORTAL_LINK_A="$(link acme)" PORTAL_LINK_B="$(link globex)" \
    PORTAL_OUT="$out" CHROMIUM="$(command -v chromium)" \
    NODE_PATH="$node_dir/node_modules" \
    node .ci/portal_browser_test.cjs
