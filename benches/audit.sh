#!/usr/bin/env bash
# Benchmark: the full monthly audit of a generated county, Jicha against the DuckDB SQL peer
# (benches/duckdb_audit.py) over the same data dir, one after the other.
# Usage: bash benches/audit.sh N MONTHS   (e.g. 1000000 12); audits the last generated month.
# Writes everything under /var/tmp/jicha-bench (outside the repository).
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-100000}"
MONTHS="${2:-12}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/jicha-target}"
cargo build --release --locked -p jicha-cli >/dev/null
JICHA="$CARGO_TARGET_DIR/release/jicha"
BENCH=/var/tmp/jicha-bench
COUNTY="$BENCH/county-$N-$MONTHS"
DATA="$BENCH/data-$N-$MONTHS"
mkdir -p "$BENCH"
if [ ! -f "$COUNTY/ground-truth.jsonl" ]; then
  rm -rf "$COUNTY"
  /usr/bin/time -f "generate: wall %e s, peak RSS %M KiB" "$JICHA" --quiet generate --out "$COUNTY" \
    --customers "$N" --months "$MONTHS" --start 2025-01-01 --stations $(( N / 5000 + 4 )) --seed 1
fi
if [ ! -f "$DATA/jicha.sqlite" ]; then
  rm -rf "$DATA"
  /usr/bin/time -f "import: wall %e s, peak RSS %M KiB" "$JICHA" --quiet --data "$DATA" import "$COUNTY" >/dev/null
fi
PERIOD=$(date -d "2025-01-01 + $((MONTHS - 1)) months" +%Y-%m)
sync
echo "== jicha audit --period $PERIOD ($N customers, $MONTHS months stored)"
/usr/bin/time -f "jicha audit: wall %e s, peak RSS %M KiB" "$JICHA" --data "$DATA" audit --period "$PERIOD" \
  --format jsonl --out "$BENCH/jicha-$N-$MONTHS.jsonl" 2>&1 | tail -40
echo "== DuckDB peer (benches/duckdb_audit.py)"
/usr/bin/time -f "duckdb peer: wall %e s, peak RSS %M KiB" python3 benches/duckdb_audit.py "$DATA" "$PERIOD" \
  --compare "$BENCH/jicha-$N-$MONTHS.jsonl" 2>&1 | grep -v "^  [A-Z-]* *0\.0[01]" | tail -50
