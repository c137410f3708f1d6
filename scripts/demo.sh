#!/usr/bin/env bash
# The demo: set up (if needed) -> fetch real faces -> synthesise a CASME II-layout dataset from them ->
# train STSTNet under leave-one-subject-out -> print the report. Run from anywhere.
# Options are passed to `mer train` (e.g. --threads 2, --set train.epochs=10).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
media=$(scripts/fetch_media.sh)
data=data/demo/CASME2
if [ ! -f "$data/CASME2-coding-20140508.csv" ]; then
  build/tools/mer/mer synth --out "$data" --media "$media" --subjects 12 --clips-per-subject 8 --seed 1
fi
build/tools/mer/mer train --config configs/demo.yaml "$@"
