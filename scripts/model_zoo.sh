#!/usr/bin/env bash
# The model-zoo table of docs/model-zoo.md: presets and every family, each trained with honest LOSO (fixed
# budget, last epoch) on a synthesised MEGC2019 composite, one Markdown row each.
#   scripts/model_zoo.sh DATA_ROOT [OUT_DIR [ROW ...]]
# DATA_ROOT: made by e.g.
#   build/tools/mer/mer synth --layout megc2019 --samples 150 --out DATA_ROOT \
#     --min-amplitude 0.3 --max-amplitude 1.0 --noise 6 --head-motion 2
# Each row's experiment is composed from configs/_base_/ (the MEGC2019 dataset and labels, the row's
# preprocessing and model, the STSTNet schedule) and written to OUT_DIR/configs/ (default OUT_DIR runs/zoo);
# ROW names run only those rows.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:?usage: scripts/model_zoo.sh DATA_ROOT [OUT_DIR [ROW ...]]}
out=${2:-runs/zoo}
shift $(( $# >= 2 ? 2 : 1 ))
mer=${MER:-build/tools/mer/mer}
export MER_DATA_ROOT=$data
mkdir -p "$out/configs"
base=$PWD/configs/_base_
# row | preprocessing | model (configs/_base_/preprocess, configs/_base_/models)
rows=(
  "ststnet|ststnet_flow|ststnet"
  "geme|ststnet_flow|geme"
  "tscnn|apex_flow_strain|tscnn"
  "graph_tcn|ststnet_flow|graph_tcn"
  "off_apexnet_meb|ststnet_flow|off_apexnet_meb"
  "capsule|apex_flow_strain|capsule"
  "off_apexnet|ststnet_flow|off_apexnet"
  "elrcn|tim_clip|elrcn"
  "c3d_cbam|tim_clip|c3d_cbam"
  "dual_inception|ststnet_flow|dual_inception"
  "rcn_a|ststnet_flow|rcn_a"
)
echo "| row | preprocessing | model | parameters | UF1 | UAR | accuracy | seconds |"
echo "|---|---|---|---|---|---|---|---|"
for row in "${rows[@]}"; do
  IFS='|' read -r name pre model <<<"$row"
  if (($#)) && [[ " $* " != *" $name "* ]]; then continue; fi
  cfg=$out/configs/$name.yaml
  {
    echo "base: [$base/datasets/megc2019.yaml, $base/labels/megc2019_3class.yaml, $base/preprocess/$pre.yaml,"
    echo "       $base/models/$model.yaml, $base/schedules/ststnet.yaml, $base/runtime/default.yaml]"
    echo "name: zoo_$name"
    echo "protocol: {type: loso}"
    # The multi-task row trains its AU head too.
    [ "$model" = geme ] && echo "train: {losses: [{type: cross_entropy}, {type: bce_au, weight: 0.5}]}"
  } >"$cfg"
  dir=$out/$name
  rm -rf "$dir"
  start=$(date +%s)
  if ! $mer train --config "$cfg" --run-dir "$dir" --set dataset.on_missing=skip --set preprocess.on_error=skip \
      --set runtime.progress=none >"$dir.log" 2>&1; then
    echo "| $name | $pre | $model | | failed: $(tail -1 "$dir.log") | | | |"
    continue
  fi
  secs=$(( $(date +%s) - start ))
  line=$(grep -m1 '^UF1' "$dir.log")
  params=$(grep -o 'model: [a-z_]* ([0-9]* parameters' "$dir/summary.md" | grep -o '[0-9]*' | head -1 || true)
  echo "| $name | $pre | $model | $params | $(echo "$line" | awk '{print $2}') | $(echo "$line" | awk '{print $4}') | $(echo "$line" | awk '{print $6}') | $secs |"
done
