#!/usr/bin/env bash
# End-to-end checks of what comes after training: sharded runs merged into the report of an unsharded
# run, run comparison (Markdown, bar chart, paired test), the self-contained HTML page opened in a real
# headless browser, `mer predict` on a run's own clip, and the bad input of each (one error line, the
# documented exit code).
# Usage: report_test.sh <mer binary> <source dir>
set -uo pipefail
mer=$1
src=$2
# shellcheck source=common.sh
source "$src/tests/cli/common.sh"

data=$tmp/CASME2
cfg=$tmp/exp.yaml
cat >"$cfg" <<YAML
base: $src/configs/demo.yaml
name: reporttest
dataset: {root: $data}
train: {epochs: 2}
runtime: {runs_dir: $tmp/runs, cache_dir: $tmp/cache, threads: 2, workers: 1, progress: none}
YAML
expect "synth" 0 "wrote 4 subjects" -- "$mer" synth --out "$data" --media "${MER_MEDIA_DIR:-$HOME/.cache/mer/media}" \
  --subjects 4 --clips-per-subject 3 --seed 7

# --- shards: in one shared folder, and in folders of their own gathered by merge
expect "unsharded run" 0 "UF1" -- "$mer" train --config "$cfg" --run-dir "$tmp/runs/whole"
expect "shard 1/3" 0 "still to come" -- "$mer" train --config "$cfg" --shard 1/3 --run-dir "$tmp/runs/shared"
[ -e "$tmp/runs/shared/metrics.json" ] && fail "a shard wrote metrics.json with folds missing" || pass "no report while folds are missing"
expect "merge with a fold missing" 3 "lacks" -- "$mer" report merge "$tmp/runs/shared"
expect "shard 2/3" 0 "" -- "$mer" train --config "$cfg" --shard 2/3 --run-dir "$tmp/runs/shared"
expect "shard 3/3" 0 "" -- "$mer" train --config "$cfg" --shard 3/3 --run-dir "$tmp/runs/shared"
expect "merge" 0 "UF1" -- "$mer" report merge "$tmp/runs/shared"
cmp -s "$tmp/runs/whole/metrics.json" "$tmp/runs/shared/metrics.json" && pass "merged metrics = unsharded metrics" \
  || fail "merged metrics differ from the unsharded run's"
for i in 1 2; do
  expect "own-folder shard $i/2" 0 "" -- "$mer" train --config "$cfg" --shard $i/2 --run-dir "$tmp/runs/own$i"
done
expect "merge --from" 0 "UF1" -- "$mer" report merge "$tmp/runs/gathered" --from "$tmp/runs/own1" "$tmp/runs/own2"
cmp -s "$tmp/runs/whole/predictions.csv" "$tmp/runs/gathered/predictions.csv" && pass "gathered predictions = unsharded" \
  || fail "gathered predictions differ from the unsharded run's"
expect "shard 3/2" 2 "1 <= i <= n" -- "$mer" train --config "$cfg" --shard 3/2 --run-dir "$tmp/runs/x"
expect "shard without run dir" 2 "--run-dir" -- "$mer" train --config "$cfg" --shard 1/2
expect "other config's shard" 0 "" -- "$mer" train --config "$cfg" --set train.epochs=3 --shard 2/2 --run-dir "$tmp/runs/other"
expect "merge shards of different configs" 2 "different config" -- \
  "$mer" report merge "$tmp/runs/mixed" --from "$tmp/runs/own1" "$tmp/runs/other"
expect "shard into a folder of another config" 2 "different config" -- \
  "$mer" train --config "$cfg" --set train.epochs=3 --shard 1/3 --run-dir "$tmp/runs/shared"

# --- fold workers: each fold as a one-process run at the worker's thread count, byte for byte
expect "workers 2" 0 "UF1" -- "$mer" train --config "$cfg" --set runtime.workers=2 --run-dir "$tmp/runs/w2"
expect "one process, 1 thread" 0 "UF1" -- "$mer" train --config "$cfg" --set runtime.threads=1 --run-dir "$tmp/runs/w1"
cmp -s "$tmp/runs/w1/predictions.csv" "$tmp/runs/w2/predictions.csv" && pass "workers = one process at their thread count" \
  || fail "fold workers changed the predictions"
[ -s "$tmp/runs/w2/workers/worker-2.log" ] || [ -e "$tmp/runs/w2/workers/worker-2.log" ] && pass "worker logs kept" || fail "no worker logs"

# --- compare
expect "second run" 0 "UF1" -- "$mer" train --config "$cfg" --set train.epochs=4 --run-dir "$tmp/runs/longer"
expect "compare" 0 "Wilcoxon" -- "$mer" report compare "$tmp/runs/whole" "$tmp/runs/longer" --out "$tmp/cmp"
grep -qF '`train.epochs`' "$tmp/cmp/compare.md" && pass "compare names the differing key" || fail "compare.md lacks train.epochs"
[ -s "$tmp/cmp/compare.png" ] && pass "compare.png" || fail "compare.png missing"
expect "compare one run" 2 "" -- "$mer" report compare "$tmp/runs/whole"
expect "compare an unfinished run" 3 "no predictions.csv" -- "$mer" report compare "$tmp/runs/whole" "$tmp/runs/own1"

# --- html, opened in a real browser (skipped where Chromium cannot be had)
expect "html" 0 "report.html" -- "$mer" report html "$tmp/runs/whole"
grep -q 'src="data:image/png;base64,' "$tmp/runs/whole/report.html" && pass "images inlined" || fail "images not inlined"
grep -q '<table>' "$tmp/runs/whole/report.html" && pass "tables rendered" || fail "no <table> in report.html"
expect "html of a comparison" 0 "cmp.html" -- "$mer" report html "$tmp/cmp" --out "$tmp/cmp.html"
expect "html of nothing" 3 "nothing to render" -- "$mer" report html "$tmp/cache"
for page in "$tmp/runs/whole/report.html" "$tmp/cmp.html"; do
  out=$(bash "$src/tests/support/html_check.sh" "$page" "$tmp/browser" 2>&1)
  case $? in
    0) pass "browser: $out" ;;
    77) echo "skipped: $out" ;;
    *) fail "browser: $out" ;;
  esac
done

expect "curves per fold" 0 "learning_curves_per_fold.png" -- "$mer" report curves "$tmp/runs/whole" --per-fold
[ -s "$tmp/runs/whole/learning_curves_per_fold.png" ] && pass "per-fold curves written" || fail "per-fold curves missing"

# --- predict: the run's own clip gets the run's probabilities; bad clips are refused
clip=$(head -2 "$tmp/runs/whole/predictions.csv" | tail -1 | cut -d, -f1)
fold=$(head -2 "$tmp/runs/whole/predictions.csv" | tail -1 | cut -d, -f3)
name=${clip##*/}
sub=$(echo "$clip" | cut -d/ -f2)
row=$(grep ",$name," "$data/CASME2-coding-20140508.csv" | head -1)
onset=$(echo "$row" | cut -d, -f4); apex=$(echo "$row" | cut -d, -f5); offset=$(echo "$row" | cut -d, -f6)
expect "predict" 0 "given" -- "$mer" predict --run "$tmp/runs/whole" --fold "$fold" \
  --frames "$data/CASME2_RAW_selected/$sub/$name" --onset "$onset" --apex "$apex" --offset "$offset"
want=$(head -2 "$tmp/runs/whole/predictions.csv" | tail -1 | cut -d, -f6 | xargs printf '%.4f')
grep -qF "$want" "$tmp/out" && pass "predict gives the run's probability $want" || fail "predict: $(cat "$tmp/out") lacks $want"
expect "predict --json, all folds" 0 '"probabilities"' -- "$mer" predict --run "$tmp/runs/whole" --json \
  --frames "$data/CASME2_RAW_selected/$sub/$name"
mkdir -p "$tmp/noface"
for i in 1 2 3; do cp "$tmp/runs/whole/confusion.png" "$tmp/noface/img$i.png"; done
expect "predict on no face" 3 "no face found" -- "$mer" predict --run "$tmp/runs/whole" --frames "$tmp/noface"
mkdir -p "$tmp/one"; cp "$data/CASME2_RAW_selected/$sub/$name/img$onset.jpg" "$tmp/one/"
expect "predict on one frame" 3 "at least 2" -- "$mer" predict --run "$tmp/runs/whole" --frames "$tmp/one"
echo "not a video" >"$tmp/clip.avi"
expect "predict on an unreadable video" 3 "cannot be opened" -- "$mer" predict --run "$tmp/runs/whole" --video "$tmp/clip.avi"
expect "predict without a clip" 2 "--video" -- "$mer" predict --run "$tmp/runs/whole"
expect "predict unknown fold" 3 "no model of fold" -- "$mer" predict --run "$tmp/runs/whole" --fold casme2/nobody \
  --frames "$data/CASME2_RAW_selected/$sub/$name"
expect "predict from a non-run" 3 "not a libmer run folder" -- "$mer" predict --run "$tmp/cache" --frames "$tmp/one"

# --- protocol bad input
expect "k larger than the subjects" 2 "only 4 subjects" -- "$mer" eval --config "$cfg" --protocol kfold --set protocol.k=9 \
  --run-dir "$tmp/runs/k9"
expect "a class no fold can train" 3 "'fear' has no training sample" -- "$mer" train --config "$cfg" \
  --set "dataset.labels.classes=[negative, positive, surprise, fear]" --run-dir "$tmp/runs/fear"
expect "unknown protocol option" 2 "protocol" -- "$mer" eval --config "$cfg" --protocol kfold --set protocol.folds=3

# --- domain adaptation across a small composite's databases (CASME II, SAMM, SMIC)
expect "synth composite" 0 "wrote 24 clips" -- "$mer" synth --layout megc2019 --out "$tmp/megc" --samples 24 \
  --media "${MER_MEDIA_DIR:-$HOME/.cache/mer/media}"
for l in domain_adversarial coral; do
  expect "train with $l" 0 "UF1" -- env MER_DATA_ROOT="$tmp/megc" "$mer" train \
    --config "$src/configs/megc2019_domain_adversarial.yaml" --set "train.losses=[{type: cross_entropy}, {type: $l, weight: 0.3}]" \
    --set train.epochs=2 --set protocol.type=kfold --set protocol.k=2 --set "runtime.cache_dir=$tmp/cache" \
    --set dataset.on_missing=skip \
    --set runtime.progress=none --run-dir "$tmp/runs/da_$l"
  grep -q "\"train_$l\"" "$tmp/runs/da_$l/folds/fold01.json" && pass "$l term logged per epoch" || fail "$l term missing in the history"
done

# Transductive cross-database adaptation: SAMM's samples join CORAL unlabelled while training on CASME II
# and SMIC, and every output says so; refused where the test side is not another database.
expect "transductive lodo" 0 "UF1" -- env MER_DATA_ROOT="$tmp/megc" "$mer" train \
  --config "$src/configs/megc2019_domain_adversarial.yaml" --set "train.losses=[{type: cross_entropy}, {type: coral, weight: 0.3}]" \
  --set train.epochs=2 --set protocol.type=lodo --set "protocol.train_on=[casme2, smic]" --set "protocol.test_on=[samm]" \
  --set protocol.transductive=true --set "runtime.cache_dir=$tmp/cache" --set dataset.on_missing=skip \
  --set runtime.progress=none --run-dir "$tmp/runs/transductive"
grep -q "transductive: the test database" "$tmp/runs/transductive/metrics.json" && grep -q "transductive: the test database" \
  "$tmp/runs/transductive/summary.md" && pass "transductive stamped in metrics.json and summary.md" || fail "transductive not stamped"
expect "transductive outside cross-database" 2 "allowed only for cross-database evaluation" -- env MER_DATA_ROOT="$tmp/megc" \
  "$mer" train --config "$src/configs/megc2019_domain_adversarial.yaml" --set protocol.type=kfold --set protocol.k=2 \
  --set protocol.transductive=true --set dataset.on_missing=skip --run-dir "$tmp/runs/transductive_kfold"
expect "transductive without a domain loss" 2 "needs a domain loss" -- env MER_DATA_ROOT="$tmp/megc" \
  "$mer" train --config "$src/configs/megc2019_domain_adversarial.yaml" --set "train.losses=[{type: cross_entropy}]" \
  --set protocol.type=lodo --set protocol.transductive=true --set dataset.on_missing=skip --run-dir "$tmp/runs/transductive_plain"

# --- export: a fold's model as TorchScript with its sidecar
expect "export" 0 "matches libmer" -- "$mer" export --run "$tmp/runs/whole" --fold "$fold" --torchscript "$tmp/export/model.pt"
[ -s "$tmp/export/model.pt" ] && grep -q '"classes"' "$tmp/export/model.pt.json" && pass "export wrote the model and its sidecar" \
  || fail "export files: $(ls "$tmp/export" 2>&1)"
expect "export of an unknown fold" 3 "no model of fold" -- "$mer" export --run "$tmp/runs/whole" --fold casme2/nobody \
  --torchscript "$tmp/export/x.pt"

echo "$failures failure(s)"
exit $((failures > 0))
