#!/usr/bin/env bash
# The peer benchmark: installs the analyst's Python stack into a virtualenv (from PyPI), runs it on
# the corpus `minqing bench` generated, and scores its groups with `minqing eval`.
# usage: bench/peer/run.sh [ROWS] [WORK]      (defaults: 100000 reports/bench)
set -euo pipefail
cd "$(dirname "$0")/../.."
rows="${1:-100000}"
work="${2:-reports/bench}"
mq="${MINQING:-${CARGO_TARGET_DIR:-target}/release/minqing}"
corpus="$work/corpus-$rows-7.csv"
[ -f "$corpus" ] || "$mq" -q sample --rows "$rows" --seed 7 --out "$corpus"
venv="$work/peer-venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet pandas pyarrow jieba scikit-learn whoosh
fi
/usr/bin/time -v "$venv/bin/python" bench/peer/peer.py "$corpus" "$work/peer-$rows" 2> "$work/peer-$rows.time"
grep -E "Maximum resident|Elapsed" "$work/peer-$rows.time"
# grouping quality of the peer, on the same truth and with the same scorer as minqing's
"$mq" -q ingest --input "$corpus" --out "$work/peer-$rows/mq" --fresh >/dev/null
"$mq" eval --out "$work/peer-$rows/mq" --truth truth_group --members "$work/peer-$rows/peer_members.csv"
