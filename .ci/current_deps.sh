#!/usr/bin/env bash
# A service on today's crates can add hookspec with every feature: the scratch crate in
# .ci/current-deps (hookspec plus the newest sqlx, reqwest and utoipa, resolved afresh) builds,
# and no crate that such a service shares with hookspec comes in two major versions.
set -euo pipefail
cd "$(dirname "$0")/current-deps"
export CARGO_TARGET_DIR=../../target/current-deps
rm -f Cargo.lock
cargo build --quiet
# Crates a service shares with hookspec. Not listed: sha2 and digest 0.10, which sqlx 0.9 brings
# itself beside the 0.11 of hmac 0.13, and base64, of which sqlx 0.9 uses 0.22 and hyper-util
# 0.23: a service on these has both whatever we pick.
shared='sqlx|sqlx-core|libsqlite3-sys|reqwest|hyper|http|rustls|utoipa|axum|tokio|serde|serde_json|schemars|hmac|ed25519-dalek|rand|rand_core'
# `cargo tree -d` also lists one version built with two feature sets; a name with two versions is the fault.
twice=$(cargo tree -d -e normal --depth 0 --prefix none | awk '{print $1, $2}' | sort -u |
    awk '{n[$1]++; v[$1] = v[$1] " " $2} END {for (k in n) if (n[k] > 1) print k v[k]}' |
    grep -E "^($shared) " || true)
if [ -n "$twice" ]; then
    echo "current deps: hookspec brings a second major version of a shared crate:"
    echo "$twice"
    exit 1
fi
echo "current deps: hookspec with every feature builds beside the newest sqlx, reqwest and utoipa, one major of each shared crate"
