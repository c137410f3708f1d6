#!/usr/bin/env bash
# The before/after figures of docs/strategies.md: each learning strategy against its own baseline on a
# synthesised MEGC2019 composite (`mer synth --layout megc2019`), same folds, seed and schedule.
# Subject-independent 5-fold cross-validation (protocol kfold, k 5, grouped by subject) keeps the whole set
# under an hour on 2 cores; the cross-database pair uses lodo (train CASME II + SMIC, test SAMM).
# Usage: [MACRO=DIR] [MER_MODELS=DIR] bench/strategies.sh DATA_ROOT OUT_DIR [MER]   (MER: build/tools/mer/mer)
# MACRO: a macro-like pretraining tree (below); MER_MODELS: where scripts/convert_faceapi.sh put the backbone.
# Prints one Markdown table row per run; each run folder is OUT_DIR/<name>.
set -euo pipefail
cd "$(dirname "$0")/.."
data=$1 out=$2 mer=${3:-build/tools/mer/mer}
mkdir -p "$out"
export MER_DATA_ROOT=$data
common=(--set protocol.type=kfold --set protocol.k=5 --set runtime.progress=none --set runtime.workers=1
        --set "runtime.cache_dir=$out/cache")
run() {  # name config [--set ...]
  local name=$1 config=$2
  shift 2
  [ -f "$out/$name/metrics.json" ] || "$mer" train --config "$config" "$@" --run-dir "$out/$name" >"$out/$name.log" 2>&1 \
    || { echo "| $name | failed: $(tail -1 "$out/$name.log") |"; return; }
  python3 - "$out/$name" "$name" <<'PY'
import json, sys
m = json.load(open(sys.argv[1] + "/metrics.json"))
print(f"| {sys.argv[2]} | {m['uf1']:.3f} | {m['uar']:.3f} | {m['accuracy']:.3f} |")
PY
}
echo "| run | UF1 | UAR | accuracy |"
echo "|---|---|---|---|"
# Distillation: STSTNet alone, a larger teacher (the GEME-style trunk of the DA config), and STSTNet taught by it.
run ststnet configs/megc2019.yaml "${common[@]}"
da=configs/megc2019_domain_adversarial.yaml
run teacher_trunk "$da" "${common[@]}" --set "train.losses=[{type: cross_entropy}]" --set runtime.checkpoints=all
run ststnet_distilled configs/megc2019.yaml "${common[@]}" \
  --set "train.losses=[{type: cross_entropy, weight: 0.5}, {type: distill, weight: 0.5, temperature: 4}]" \
  --set "train.distill={teacher: $out/teacher_trunk}"
# Domain adaptation across the three databases: the trunk without and with DANN or CORAL.
run trunk_dann "$da" "${common[@]}"
run trunk_coral "$da" "${common[@]}" --set "train.losses=[{type: cross_entropy}, {type: coral, weight: 0.3}]"
# Cross-database: train CASME II + SMIC, test SAMM; plain, inductive DANN, transductive DANN.
lodo=(--set protocol.type=lodo --set "protocol.train_on=[casme2, smic]" --set "protocol.test_on=[samm]"
      --set runtime.progress=none --set "runtime.cache_dir=$out/cache")
run xdb_plain "$da" "${lodo[@]}" --set "train.losses=[{type: cross_entropy}]"
run xdb_dann "$da" "${lodo[@]}"
run xdb_dann_transductive "$da" "${lodo[@]}" --set protocol.transductive=true
# FitNets hints: a narrower trunk taught by the teacher's embedding (plus soft targets), against itself alone.
narrow=(--set "model.trunk.backbone.channels=[8, 16, 32]")
run narrow_trunk "$da" "${common[@]}" "${narrow[@]}" --set "train.losses=[{type: cross_entropy}]"
run narrow_trunk_hinted "$da" "${common[@]}" "${narrow[@]}" \
  --set "train.losses=[{type: cross_entropy, weight: 0.5}, {type: distill, weight: 0.5}, {type: hint, weight: 1.0}]" \
  --set "train.distill={teacher: $out/teacher_trunk}"
# Macro -> micro: STSTNet first trained on larger, macro-like motions (a synthesised CASME II tree with
# 4..8 px peaks, made by `mer synth --out $MACRO --min-amplitude 4 --max-amplitude 8`), then per fold.
if [ -n "${MACRO:-}" ]; then
  run ststnet_macro_pretrained configs/megc2019.yaml "${common[@]}" --set "pretrain={dataset: {type: casme2, root: $MACRO,
    table: CASME2-coding-20140508.csv, variant: raw, labels: {classes: [negative, positive, surprise],
    map: {disgust: negative, repression: negative, happiness: positive, surprise: surprise}}},
    train: {epochs: 50, batch_size: 64, optimizer: adam, lr: 0.001}}"
fi
# The face-api FER backbone (scripts/convert_faceapi.sh into $MER_MODELS) fine-tuned, against the same
# network from random weights.
if [ -n "${MER_MODELS:-}" ] && [ -f "$MER_MODELS/faceapi_expression.pt" ]; then
  fa=configs/megc2019_faceapi_finetune.yaml
  # The same network and schedule from random weights: the preset's bases without model.init and freeze.
  scratch=$out/faceapi_scratch.yaml
  sed -n '/^base:/,/^[a-z]/p' "$fa" | sed '$d' | sed "s|_base_/|$PWD/configs/_base_/|" >"$scratch"
  printf 'name: faceapi_scratch\nprotocol: {type: loso}\n' >>"$scratch"
  run faceapi_scratch "$scratch" "${common[@]}"
  run faceapi_finetuned "$fa" "${common[@]}"
fi
