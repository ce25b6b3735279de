#!/usr/bin/env bash
# Benchmark: import of a year of daily readings for N customers, against DuckDB's read_csv.
# Usage: bash benches/import_readings.sh N   (e.g. 100000 or 1000000)
# Writes everything under /var/tmp/jicha-bench (outside the repository).
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-100000}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/jicha-target}"
cargo build --release --locked -p jicha-cli >/dev/null
JICHA="$CARGO_TARGET_DIR/release/jicha"
BENCH=/var/tmp/jicha-bench
COUNTY="$BENCH/county-$N"
mkdir -p "$BENCH"
if [ ! -f "$COUNTY/ground-truth.jsonl" ]; then
  rm -rf "$COUNTY"
  echo "== generate $N customers x 12 months"
  /usr/bin/time -f "generate: wall %e s, peak RSS %M KiB" "$JICHA" --quiet generate --out "$COUNTY" --customers "$N" --months 12 --start 2025-01-01 --stations $(( N / 5000 + 4 )) --seed 1
fi
# Archives first (one import), then the readings alone (the import being measured).
rm -rf "$BENCH/dims-$N" "$BENCH/readings-$N"
mkdir -p "$BENCH/dims-$N" "$BENCH/readings-$N"
for f in "$COUNTY"/*.csv "$COUNTY"/*.xlsx; do
  [ -e "$f" ] || continue
  case "$(basename "$f")" in
    readings-*) ln -s "$f" "$BENCH/readings-$N/" ;;
    *) ln -s "$f" "$BENCH/dims-$N/" ;;
  esac
done
DATA="$BENCH/data-$N"
rm -rf "$DATA"
"$JICHA" --quiet --data "$DATA" import "$BENCH/dims-$N" >/dev/null
ROWS=$(cat "$BENCH"/readings-$N/*.csv | wc -l)
FILES=$(ls "$BENCH"/readings-$N/*.csv | wc -l)
ROWS=$(( ROWS - FILES ))
BYTES=$(cat "$BENCH"/readings-$N/*.csv | wc -c)
sync
echo "== jicha import: $ROWS reading rows, $(( BYTES / 1048576 )) MiB of CSV in $FILES files"
/usr/bin/time -f "jicha import: wall %e s, peak RSS %M KiB" -o "$BENCH/time-$N.txt" "$JICHA" --quiet --data "$DATA" import "$BENCH/readings-$N"
cat "$BENCH/time-$N.txt"
WALL=$(sed -E 's/.*wall ([0-9.]+) s.*/\1/' "$BENCH/time-$N.txt")
python3 -c "r=$ROWS; b=$BYTES; w=$WALL; print(f'jicha: {r/w:,.0f} rows/s, {b/w/2**20:,.1f} MiB/s')"
echo "== stored size"
du -sb "$DATA/series/readings" "$DATA/series/daily_consumption" | awk '{printf "%s %.0f MiB\n", $2, $1/1048576}'
echo "CSV readings: $(( BYTES / 1048576 )) MiB"
echo "== duckdb read_csv into a table (same files)"
/usr/bin/time -f "duckdb: wall %e s, peak RSS %M KiB" python3 benches/duckdb_import.py "$BENCH/readings-$N" "$BENCH/duck-$N.db"
rm -f "$BENCH/duck-$N.db"
