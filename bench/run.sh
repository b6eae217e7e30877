#!/usr/bin/env bash
# Runs every benchmark and rewrites BENCHMARKS.md: document build (hookspec vs utoipa builders
# vs FastAPI), serving (/openapi.json vs a static handler, with wrk), compile time (200
# webhooks vs 200 #[utoipa::path]), durable delivery (vs the HTTP ceiling), and the compat check
# of the largest Adyen pair (vs parsing it alone), and cost curves at production sizes.
# Figures are medians with their spread; quote the ratios, the machines are shared and noisy.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
out=target/bench-results
gen=target/bench-gen
mkdir -p "$out"
rm -f "$out"/*

echo "== tools"
command -v wrk > /dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk > /dev/null; }
venv=target/bench-venv
"$venv/bin/python" -c "import fastapi" 2> /dev/null || { python3 -m venv "$venv" && "$venv/bin/pip" install -q --disable-pip-version-check fastapi; }
python3 bench/gen/generate.py "$gen"
cp Cargo.lock "$gen/Cargo.lock"

echo "== 1. document build"
(cd "$gen" && cargo build --release --quiet -p docbuild)
"$gen/target/release/docbuild" > "$out/docbuild.jsonl"
"$venv/bin/python" "$gen/fastapi_openapi.py" 10 100 1000 > "$out/fastapi.jsonl"

echo "== 2. serving"
cargo build --release --quiet -p hookspec-bench --bin serve_pair --bin delivery_load --bin compat_diff
target/release/serve_pair > "$out/serve_pair.txt" &
server=$!
trap 'kill $server 2> /dev/null || true' EXIT
for _ in $(seq 50); do [ -s "$out/serve_pair.txt" ] && [ "$(wc -l < "$out/serve_pair.txt")" -ge 2 ] && break; sleep 0.1; done
hookspec_url=$(awk '/^hookspec/ {print $2}' "$out/serve_pair.txt")
floor_url=$(awk '/^floor/ {print $2}' "$out/serve_pair.txt")
for run in 1 2 3 4 5; do
    for target in hookspec floor; do
        url=$hookspec_url; [ "$target" = floor ] && url=$floor_url
        wrk -t2 -c32 -d4s "$url" | awk -v t="$target" '/Requests\/sec/ {print t, $2}' >> "$out/serving.txt"
    done
done
kill $server; trap - EXIT

echo "== 3. compile time"
(cd "$gen" && cargo build --quiet -p compile_hookspec -p compile_utoipa)
for run in 1 2 3; do
    for crate in compile_hookspec compile_utoipa; do
        (cd "$gen" && cargo clean --quiet -p "$crate" && start=$(date +%s.%N) && cargo build --quiet -p "$crate" &&
            awk -v c="$crate" -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {print c, e - s}') >> "$out/compile.txt"
    done
done

echo "== 4. durable delivery"
pg=${HOOKSPEC_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
target/release/delivery_load --events 20000 --runs 5 --postgres "$pg" > "$out/delivery.md"

echo "== 5. compat check"
target/release/compat_diff > "$out/compat.md"

echo "== 6. cost curves"
# Default sizes (about 6 minutes); `target/release/curves --full` runs the largest, whose last
# figures bench/gen/curves-full.md keeps.
cargo build --release --quiet -p hookspec-bench --bin curves
target/release/curves --postgres "$pg" > "$out/curves.md"
for sizes in "20000 0" "200000 200000"; do
    bash bench/pgbench/explain.sh $sizes "$pg" > "$out/plans.txt"
    head -n 1 "$out/plans.txt" >> "$out/explain.txt"
done

echo "== 7. publishing under load"
# 16 producers publishing single events end to end, per-event transactions against group
# commit (and publish_batch of 100) in alternating rounds; then one publish's cost in
# PostgreSQL (pgbench).
pg=${HOOKSPEC_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
cargo build --release --quiet -p hookspec-bench --bin publish_load
target/release/publish_load --events 10000 --runs 4 --producers 16 --batch 100 --postgres "$pg" > "$out/publish.md"
bash bench/pgbench/run.sh "$pg" > "$out/publish_pgbench.txt"

echo "== report"
python3 bench/gen/report.py "$out" "bash bench/run.sh" > BENCHMARKS.md
cat BENCHMARKS.md
