#!/usr/bin/env bash
# EXPLAIN (ANALYZE, BUFFERS) of the dispatcher's claim and record statements (claim.sql,
# record.sql: a batch of 128) on a scratch outbox of PENDING pending deliveries beside HISTORY
# delivered messages with one attempt each, to show whether their cost grows with the tables.
# Prints each statement's execution time and the buffers its top node touched, then the plans.
#   bash bench/pgbench/explain.sh PENDING HISTORY [postgres://user@host:port/db]
set -euo pipefail
cd "$(dirname "$0")"
pending=$1 history=$2
server=${3:-${HOOKSPEC_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}}
db=hookspec_explain_$$
on() { sed -E "s#^(postgres(ql)?://[^/?]*)(/[^?]*)?#\1/$1#" <<< "$server"; }
psql_on() { psql -q -v ON_ERROR_STOP=1 "$@"; }
cleanup() {
    psql_on "$server" -c "SET client_min_messages = warning" \
        -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"
}
trap cleanup EXIT
psql_on "$server" -c "CREATE DATABASE $db"
# The history first (history.sql), then the pending deliveries.
{ cat ../../core/migrations/postgres/*.sql history.sql; sed "s/130000/$pending/" setup.sql | grep -v '^VACUUM'; echo "VACUUM ANALYZE;"; } |
    psql_on -v history="$history" "$(on "$db")" > /dev/null
export PGOPTIONS="-c synchronous_commit=off -c enable_bitmapscan=off -c enable_sort=off -c enable_seqscan=off -c plan_cache_mode=force_generic_plan"
# The statements of claim.sql and record.sql, without their \gset, with psql's quoting of
# the lists that pgbench substitutes as they are.
statement() {
    awk '/^WITH/ {on = 1} on' "$1" | sed -e 's/ *\\gset$/;/' -e "s/:ids::/:'ids'::/" -e "s/:attempts::/:'attempts'::/"
}
plans=$({
    head -n 3 claim.sql | grep -v '^--'
    echo "BEGIN; EXPLAIN (ANALYZE, BUFFERS)"; statement claim.sql; echo "ROLLBACK;"
    cat claim.sql
    echo "BEGIN; EXPLAIN (ANALYZE, BUFFERS)"; statement record.sql; echo "ROLLBACK;"
} | psql_on "$(on "$db")" -X -A -t)
# The record's INSERT of attempts is a CTE that nothing reads: its buffers are its own node's,
# not counted in the top node's, so they are printed beside them.
echo "$plans" | awk -v p="$pending" -v h="$history" '
    function buffers(line) { sub(/^ *Buffers: */, "", line); return line }
    BEGIN { n = 0 }
    /Buffers:/ && !seen[n] { top[n] = buffers($0); seen[n] = 1 }
    /Insert on hookspec_attempts/ { insert = 1 }
    /Buffers:/ && insert == 1 && !/Insert on/ { attempts = buffers($0); insert = 2 }
    /Execution Time/ { time[n++] = $3 }
    END { printf "pending %d, history %d: claim %s ms (%s), record %s ms (%s; its insert of attempts %s)\n", p, h, time[0], top[0], time[1], top[1], attempts }' |
    sed 's/  */ /g'
echo "$plans"
