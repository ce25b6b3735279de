#!/usr/bin/env bash
# The demo: generate a county, import it, show what is stored, audit its last month.
# 演示：生成一个县公司数据集，导入，查看已存数据，稽查最后一个月。
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/jicha-target}"
CUSTOMERS="${CUSTOMERS:-20000}"
MONTHS="${MONTHS:-3}"
WORK="${WORK:-demo}"
cargo build --release --locked -p jicha-cli
JICHA="$CARGO_TARGET_DIR/release/jicha"
rm -rf "$WORK"
mkdir -p "$WORK"
"$JICHA" generate --out "$WORK/county" --customers "$CUSTOMERS" --months "$MONTHS" --seed 7
"$JICHA" --data "$WORK/jicha-data" import "$WORK/county"
"$JICHA" --data "$WORK/jicha-data" status
"$JICHA" --data "$WORK/jicha-data" themes
# Audit the last generated month.
LAST=$(date -d "2026-01-01 + $((MONTHS - 1)) months" +%Y-%m)
"$JICHA" --data "$WORK/jicha-data" audit --period "$LAST" | head -60
# The workbook an auditor opens in Excel, and the daily watch of the last generated day.
"$JICHA" --quiet --data "$WORK/jicha-data" audit --period "$LAST" --format xlsx --out "$WORK/audit-$LAST.xlsx"
echo "稽查工作簿 / audit workbook: $WORK/audit-$LAST.xlsx"
LASTDAY=$(date -d "2026-01-01 + $MONTHS months - 2 days" +%Y-%m-%d)
"$JICHA" --data "$WORK/jicha-data" daily --date "$LASTDAY" | head -40
