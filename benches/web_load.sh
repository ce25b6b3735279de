#!/usr/bin/env bash
# Load test of `jicha serve`: p50/p95 of the dashboard, a filtered and sorted findings list and a
# finding's detail page under 100 concurrent clients on loopback (wrk), and the server's memory.
#
#   bash benches/web_load.sh DATA_DIR [FINDINGS]
#
# DATA_DIR is an imported and audited data dir (e.g. from `bash benches/audit.sh 100000 12`). It is
# copied to a scratch dir (databases copied, series files hard-linked: committed files are never
# changed), the latest period is audited again by this build, and that period's findings are
# multiplied to FINDINGS (default 50000) with fresh ids, so the original is never changed.
#
# Finding details are measured three ways: cold (one request at a time, each a customer whose days
# were not read before: the Parquet pages are read), one finding asked for again and again (its
# chart read once and then kept), and a random one of up to 2,000 other customers' findings per
# request (each customer's days read on first ask, then kept).
set -euo pipefail
cd "$(dirname "$0")/.."
SRC="$1"
FINDINGS="${2:-50000}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/jicha-target-rel}"
cargo build --release --locked -p jicha-cli
JICHA="$CARGO_TARGET_DIR/release/jicha"
WORK="${WORK:-/var/tmp/jicha-web-load}"
rm -rf "$WORK" && mkdir -p "$WORK"
cp -al "$SRC" "$WORK/data"
DATA="$WORK/data"
rm -f "$DATA/.lock"
for db in "$DATA"/*.sqlite*; do rm "$db" && cp "$SRC/$(basename "$db")" "$db"; done
PERIOD=$(sqlite3 "$DATA/jicha.sqlite" "SELECT MAX(period) FROM findings")
/usr/bin/time -f "jicha audit --period $PERIOD: wall %e s, peak RSS %M KiB" "$JICHA" --quiet --data "$DATA" \
  audit --period "$PERIOD" --format jsonl --out /dev/null
sqlite3 "$DATA/jicha.sqlite" <<SQL
CREATE TEMP TABLE base AS SELECT * FROM findings WHERE period = '$PERIOD';
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n
  WHERE i < ($FINDINGS + (SELECT COUNT(*) FROM base) - 1) / (SELECT COUNT(*) FROM base))
INSERT INTO findings SELECT lower(hex(randomblob(8))), theme, entity_type, entity_id, station_id, period, severity,
  evidence, amount_at_risk, run_id FROM base, n WHERE n.i > 1;
SQL
echo "findings in $PERIOD: $(sqlite3 "$DATA/jicha.sqlite" "SELECT COUNT(*) FROM findings WHERE period = '$PERIOD'")"
JICHA_PASSWORD=load-test-pass "$JICHA" --data "$DATA" user add loadtest --role auditor >/dev/null
RUST_LOG=warn "$JICHA" --data "$DATA" serve --bind 127.0.0.1:18080 &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -sf http://127.0.0.1:18080/healthz >/dev/null && break; sleep 0.2; done
COOKIE=$(curl -si -H 'Content-Type: application/json' -d '{"username":"loadtest","password":"load-test-pass"}' \
  http://127.0.0.1:18080/api/login | sed -n 's/^set-cookie: \([^;]*\).*/\1/ip')
STATION=$(sqlite3 "$DATA/jicha.sqlite" "SELECT station_id FROM findings WHERE period = '$PERIOD' GROUP BY station_id ORDER BY COUNT(*) DESC LIMIT 1")
FID=$(sqlite3 "$DATA/jicha.sqlite" "SELECT finding_id FROM findings WHERE period = '$PERIOD' AND theme = 'VOL-DROP' LIMIT 1")
cat > "$WORK/p95.lua" <<'LUA'
done = function(summary, latency, requests)
  io.write(string.format("requests %d in %.1f s (%.0f/s), errors %d; latency ms: p50 %.1f  p95 %.1f  p99 %.1f  max %.1f\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
LUA
# One finding per customer, shuffled: up to 200 (at most half) for the cold run, the others (up to
# 2,000) for the random run.
sqlite3 "$DATA/jicha.sqlite" "SELECT '/findings/' || MIN(finding_id) FROM findings WHERE period = '$PERIOD'
  AND entity_type = 'customer' GROUP BY entity_id ORDER BY random() LIMIT 2200" > "$WORK/customers.txt"
N=$(wc -l < "$WORK/customers.txt")
COLD=$(( N / 2 < 200 ? N / 2 : 200 ))
head -n "$COLD" "$WORK/customers.txt" > "$WORK/cold.txt"
tail -n +$(( COLD + 1 )) "$WORK/customers.txt" | sed 's/.*/"&",/' > "$WORK/paths.txt"
{ echo "paths = {"; cat "$WORK/paths.txt"; echo "}"
  echo 'request = function() return wrk.format(nil, paths[math.random(#paths)]) end'
  cat "$WORK/p95.lua"; } > "$WORK/random.lua"
run() {
  echo "== $1"
  wrk -t2 -c100 -d"${DURATION:-20s}" --timeout 10s -s "$WORK/p95.lua" -H "Cookie: $COOKIE" "http://127.0.0.1:18080$2" | tail -1
}
echo "== finding detail, cold: one request at a time, $(wc -l < "$WORK/cold.txt") customers not read before"
while read -r path; do
  curl -s -o /dev/null -w "%{time_total}\n" -H "Cookie: $COOKIE" "http://127.0.0.1:18080$path"
done < "$WORK/cold.txt" | sort -n | awk '{ t[NR] = $1 * 1000 } END {
  printf "requests %d; latency ms: p50 %.1f  p95 %.1f  max %.1f\n", NR, t[int(NR * 0.5)], t[int(NR * 0.95)], t[NR] }'
run "dashboard /" "/?period=$PERIOD"
run "findings list, filtered and sorted" "/findings?period=$PERIOD&station=$STATION&severity=medium&sort=amount&dir=desc&page=3"
run "finding detail (a VOL-DROP customer with its chart)" "/findings/$FID"
echo "== finding detail, a random one of $(wc -l < "$WORK/paths.txt") other customers' findings per request"
wrk -t2 -c100 -d"${DURATION:-20s}" --timeout 10s -s "$WORK/random.lua" -H "Cookie: $COOKIE" \
  "http://127.0.0.1:18080/" | tail -1
run "finding detail, JSON" "/api/findings/$FID"
echo "server peak RSS: $(grep VmHWM /proc/$PID/status)"
