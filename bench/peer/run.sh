#!/usr/bin/env bash
# The peer benchmark under its old name: `minqing bench --peer` runs minqing and the analyst's
# Python stack (bench/peer/peer.py, installed from PyPI into a virtualenv in the work folder) on
# the same generated corpus and prints the speed-up per stage and both groupings' quality.
# usage: bench/peer/run.sh [ROWS] [WORK]      (defaults: 100000 reports/bench)
set -euo pipefail
cd "$(dirname "$0")/../.."
mq="${MINQING:-${CARGO_TARGET_DIR:-target}/release/minqing}"
exec "$mq" bench --rows "${1:-100000}" --work "${2:-reports/bench}" --peer
