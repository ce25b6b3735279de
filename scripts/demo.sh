#!/usr/bin/env bash
# The demo: generate a county, import it, audit its last full month, create demo users (printed
# with one-time passwords) and audit orders in every state, then serve the web app.
# 演示：生成县公司数据，导入，稽查最后一个整月，建演示账号（打印一次性密码）和各状态的稽查工单，然后启动网页。
# Options pass through to `jicha demo`, e.g. `bash scripts/demo.sh --bind 0.0.0.0:8080 --customers 50000`.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/jicha-target}"
cargo build --release --locked -p jicha-cli
exec "$CARGO_TARGET_DIR/release/jicha" demo "$@"
