#!/usr/bin/env bash
# Per-statement cost of the dispatcher's bookkeeping on PostgreSQL, without HTTP or Rust:
# claim 128 deliveries, then record them as successes, 900 times over on a scratch outbox of
# 130,000 pending deliveries, beside HISTORY delivered messages (history.sql; none unless
# given). Prints pgbench's average latency per statement (ms per batch of 128). Then the cost
# of one publish in a transaction of its own (publish.sql), from one client and from 16 at
# once, with its rate.
#   [HISTORY=N] bash bench/pgbench/run.sh [postgres://user@host:port/db]
set -euo pipefail
cd "$(dirname "$0")"
server=${1:-${HOOKSPEC_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}}
pgbench=$(command -v pgbench || ls /usr/lib/postgresql/*/bin/pgbench | sort -V | tail -1)
db=hookspec_pgbench_$$
# `server` with its database replaced by `$1` (any query string kept).
on() { sed -E "s#^(postgres(ql)?://[^/?]*)(/[^?]*)?#\1/$1#" <<< "$server"; }
psql_on() { psql -q -v ON_ERROR_STOP=1 "$@"; }
cleanup() {
    psql_on "$server" -c "SET client_min_messages = warning" \
        -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"
}
trap cleanup EXIT
psql_on "$server" -c "CREATE DATABASE $db"
# PostgreSQL's migrations, as the store applies them (core/migrations/postgres/).
cat ../../core/migrations/postgres/*.sql history.sql setup.sql |
    psql_on -v history="${HISTORY:-0}" "$(on "$db")" > /dev/null
# The fill written out first, or a large history's pages are written out during the run.
psql_on "$(on "$db")" -c "CHECKPOINT" || echo "no CHECKPOINT (a superuser's right): measured as it is" >&2
# The session settings of the dispatcher's bookkeeping connections (store/postgres/mod.rs, `connect`).
export PGOPTIONS="-c synchronous_commit=off -c enable_bitmapscan=off -c enable_sort=off -c enable_seqscan=off -c plan_cache_mode=force_generic_plan"
echo "== claim, then record the batch as successes (beside ${HISTORY:-0} delivered messages)"
# Each statement's line: its latency, a count of failures (PostgreSQL 15 on), its text.
cat claim.sql record.sql |
    "$pgbench" -n -r -M prepared -t 900 -f /dev/stdin "$(on "$db")" |
    awk '/^ +[0-9]+\.[0-9]+ +/ {
        text = $0; sub(/^ +[0-9.]+ +([0-9]+ +)?/, "", text)
        printf "%8.3f ms  %s\n", $1, substr(text, 1, 60)
    }'
echo "== one publish in its own transaction, full durability"
psql_on "$(on "$db")" -c "UPDATE hookspec_subscriptions SET owner = 'bench'"
for clients in 1 16; do
    echo "-- $clients client(s)"
    PGOPTIONS="" "$pgbench" -n -r -M prepared -c "$clients" -j 2 -t $((4000 / clients)) \
        -f publish.sql "$(on "$db")" |
        awk '/^tps/ { printf "%8.0f publishes/s\n", $3 }
            /^ +[0-9]+\.[0-9]+ +/ {
            text = $0; sub(/^ +[0-9.]+ +([0-9]+ +)?/, "", text)
            printf "%8.3f ms  %s\n", $1, substr(text, 1, 60)
        }'
done
