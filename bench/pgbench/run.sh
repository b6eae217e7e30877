#!/usr/bin/env bash
# Per-statement cost of the dispatcher's bookkeeping on PostgreSQL, without HTTP or Rust:
# claim 128 deliveries, then record them as successes, 900 times over on a scratch outbox of
# 130,000 pending deliveries; and the same with the batch recorded by deleting the rows.
# Prints pgbench's average latency per statement (ms per batch of 128).
#   bash bench/pgbench/run.sh [postgres://user@host:port/db]
set -euo pipefail
cd "$(dirname "$0")"
server=${1:-${HOOKSPEC_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}}
pgbench=$(command -v pgbench || ls /usr/lib/postgresql/*/bin/pgbench | tail -1)
db=hookspec_pgbench_$$
url=${server%/*}/$db
trap 'psql -q "$server" -c "DROP DATABASE IF EXISTS ${db}_run" -c "DROP DATABASE IF EXISTS $db" 2> /dev/null' EXIT
psql -q "$server" -c "CREATE DATABASE $db"
# The migrations as the store applies them on PostgreSQL (store.rs, `migrate`).
cat ../../core/migrations/*.sql setup.sql |
    sed -e 's/INTEGER PRIMARY KEY AUTOINCREMENT/BIGSERIAL PRIMARY KEY/' -e 's/^-- postgres: //' |
    psql -q "$url" > /dev/null
# The session settings of the dispatcher's bookkeeping connections (store.rs, `postgres`).
export PGOPTIONS="-c synchronous_commit=off -c enable_bitmapscan=off -c enable_sort=off -c plan_cache_mode=force_generic_plan"
for record in record_update record_delete; do
    psql -q "$server" -c "SET client_min_messages = warning" \
        -c "DROP DATABASE IF EXISTS ${db}_run" -c "CREATE DATABASE ${db}_run TEMPLATE $db"
    cat claim.sql "$record.sql" > "/tmp/$db-cycle.sql"
    echo "== claim, then $record"
    "$pgbench" -n -r -M prepared -t 900 -f "/tmp/$db-cycle.sql" "${server%/*}/${db}_run" |
        awk '/^ +[0-9.]+ +[0-9]+ +[A-Z]/ {printf "%8.3f ms  %s\n", $1, substr($0, index($0, $3), 60)}'
    rm -f "/tmp/$db-cycle.sql"
done
