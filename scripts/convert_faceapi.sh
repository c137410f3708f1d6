#!/usr/bin/env bash
# A FER-pretrained face backbone without downloading weights from a model hub: fetches the npm package
# @vladmandic/face-api@1.7.15 (scripts/fetch_media.sh) and converts its face_expression_model (tfjs,
# uint8-quantised) into a libmer checkpoint for model.init of face_expression_net:
#   scripts/convert_faceapi.sh [OUT]
# OUT defaults to $MER_MODELS/faceapi_expression.pt ($MER_MODELS defaults to ~/.cache/mer/models), the
# path configs/megc2019_faceapi_finetune.yaml reads. Prints the checkpoint's path. MER=path/to/mer picks
# the binary (default build/tools/mer/mer). Never commit the result: the weights are face-api's (MIT).
set -euo pipefail
cd "$(dirname "$0")/.."
mer=${MER:-build/tools/mer/mer}
models=${MER_MODELS:-$HOME/.cache/mer/models}
out=${1:-$models/faceapi_expression.pt}
media=$(scripts/fetch_media.sh)
mkdir -p "$(dirname "$out")"
"$mer" model import-faceapi --weights "$media/face-api/package/model" --out "$out" >&2
echo "$out"
