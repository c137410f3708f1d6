#!/usr/bin/env bash
# End-to-end checks of `mer preprocess` and `mer cache` on a tiny synthetic dataset (2 subjects x 2 clips):
# the cache fills and is then served whole, contact sheets and NumPy exports are written, damaged cache
# entries are found, deleted, and prune says what it would remove.
# Usage: preprocess_test.sh <mer binary> <source dir>
set -uo pipefail
mer=$1
src=$2
# shellcheck source=common.sh
source "$src/tests/cli/common.sh"

data=$tmp/CASME2
cache=$tmp/cache
cfg=$tmp/exp.yaml
cat >"$cfg" <<YAML
base: $src/configs/demo.yaml
dataset: {root: $data}
runtime: {cache_dir: $cache, threads: 2, progress: none}
YAML

expect "synth" 0 "wrote 2 subjects" -- "$mer" synth --out "$data" --media "${MER_MEDIA_DIR:-$HOME/.cache/mer/media}" \
  --subjects 2 --clips-per-subject 2 --seed 3

expect "preprocess fills the cache" 0 "computed 4, from cache 0, skipped 0" -- \
  "$mer" preprocess --config "$cfg" --out "$tmp/out1"
[ -f "$tmp/out1/skipped.csv" ] && pass "skipped.csv written" || fail "no skipped.csv"
expect "second run is served from the cache" 0 "computed 0, from cache 4, skipped 0" -- \
  "$mer" preprocess --config "$cfg"
fp=$(ls "$cache")
[ "$(echo "$fp" | wc -l)" -eq 1 ] && [ -s "$cache/$fp/pipeline.txt" ] && grep -q '^outputs: flow strain$' "$cache/$fp/pipeline.txt" \
  && pass "pipeline.txt describes the folder" || fail "pipeline.txt: $(ls -la "$cache"/* 2>&1)"

expect "visualize" 0 "contact sheet of 1 sample" -- \
  "$mer" preprocess --config "$cfg" --visualize 1 --out "$tmp/viz"
[ -s "$tmp/viz/contact_sheet.png" ] && [ "$(head -c 4 "$tmp/viz/contact_sheet.png" | tail -c 3)" = "PNG" ] \
  && pass "contact_sheet.png is a PNG" || fail "contact_sheet.png missing or not a PNG"
expect "unknown --samples id" 2 "is not in the dataset" -- \
  "$mer" preprocess --config "$cfg" --samples nope/sub99/x --visualize 1 --out "$tmp/viz"

expect "export-npy" 0 "exported 4 sample(s) x 2 output(s)" -- \
  "$mer" preprocess --config "$cfg" --export-npy "$tmp/npy"
rows=$(($(wc -l <"$tmp/npy/index.csv") - 1))
[ "$rows" -eq 8 ] && pass "index.csv: 4 samples x 2 outputs" || fail "index.csv has $rows rows: $(cat "$tmp/npy/index.csv")"
head -1 "$tmp/npy/index.csv" | grep -qx 'sample_id,subject,label,class_index,dataset,output,file,shape' \
  && pass "index.csv header" || fail "index.csv header: $(head -1 "$tmp/npy/index.csv")"
flow_file=$(awk -F, '$6 == "flow" {print $7; exit}' "$tmp/npy/index.csv")
flow_shape=$(awk -F, '$6 == "flow" {print $8; exit}' "$tmp/npy/index.csv")
[ "$flow_shape" = "2x28x28" ] && pass "flow shape 2x28x28" || fail "flow shape $flow_shape"
npy=$tmp/npy/$flow_file
# NPY 1.0: magic, version 1.0, header length 118 (data at 128), the dict NumPy writes, 2*28*28 floats.
if [ "$(head -c 6 "$npy" | tail -c 5)" = "NUMPY" ] && [ "$(od -An -tu1 -j6 -N4 "$npy" | tr -s ' ')" = " 1 0 118 0" ] \
  && head -c 128 "$npy" | grep -qF "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 28, 28), }" \
  && [ "$(stat -c %s "$npy")" -eq $((128 + 4 * 2 * 28 * 28)) ]; then
  pass "npy header parses"
else
  fail "npy header: $(head -c 128 "$npy" | od -c | head -5)"
fi
if python3 -c 'import numpy' 2>/dev/null; then
  python3 -c 'import numpy, sys; a = numpy.load(sys.argv[1]); sys.exit(0 if a.shape == (2, 28, 28) and a.dtype == numpy.float32 else 1)' \
    "$npy" && pass "numpy.load reads it" || fail "numpy.load"
fi

expect "cache ls" 0 "frames > detect_face > landmarks > align > flow > strain > resize -> flow strain" -- \
  "$mer" cache ls --cache-dir "$cache"
grep -q "^$fp  *4 " "$tmp/out" && pass "cache ls counts 4 entries" || fail "cache ls: $(cat "$tmp/out")"
expect "cache verify (clean)" 0 "4 entries checked, 0 damaged" -- "$mer" cache verify --config "$cfg"

victim=$(ls "$cache/$fp/"*.mfc | head -1)
truncate -s 100 "$victim"
expect "cache verify finds the truncated entry" 3 "$victim: truncated: 100 of" -- "$mer" cache verify --cache-dir "$cache"
expect "cache verify --fix" 0 "(deleted)" -- "$mer" cache verify --cache-dir "$cache" --fix
[ ! -e "$victim" ] && pass "damaged entry deleted" || fail "damaged entry still there"
expect "cache verify after --fix" 0 "3 entries checked, 0 damaged" -- "$mer" cache verify --cache-dir "$cache"
expect "a run recomputes only the deleted entry" 0 "computed 1, from cache 3" -- "$mer" preprocess --config "$cfg"

# prune: a folder of another pipeline is removed, the config's own is kept; --dry-run touches nothing.
mkdir -p "$cache/0123456789abcdef" && echo x >"$cache/0123456789abcdef/old.mfc"
expect "prune --dry-run" 0 "would remove 1 folder(s)" -- \
  "$mer" cache prune --keep-config "$cfg" --dry-run
grep -qF "$cache/0123456789abcdef" "$tmp/out" && pass "prune names the stale folder" || fail "prune: $(cat "$tmp/out")"
[ -d "$cache/0123456789abcdef" ] && [ -d "$cache/$fp" ] && pass "dry run removed nothing" || fail "dry run removed a folder"
expect "prune --older-than keeps recent folders" 0 "would remove 0 folder(s)" -- \
  "$mer" cache prune --cache-dir "$cache" --older-than 1 --dry-run
expect "prune without a criterion" 2 "--keep-config" -- "$mer" cache prune --cache-dir "$cache"
expect "prune" 0 "removed 1 folder(s)" -- "$mer" cache prune --keep-config "$cfg"
[ ! -d "$cache/0123456789abcdef" ] && [ -d "$cache/$fp" ] && pass "prune kept the config's folder only" \
  || fail "prune: $(ls "$cache")"

# A motion heat map from the processed flows, then used by a pipeline that keeps its 4 hottest blocks.
expect "preprocess --heatmap" 0 "motion heat map of 'flow' over 4 sample(s)" -- \
  "$mer" preprocess --config "$cfg" --heatmap "$tmp/heat.yml"
hcfg=$tmp/heat_exp.yaml
cat >"$hcfg" <<YAML
base: $cfg
preprocess:
  stages:
    - {type: frames, frames: [onset, apex]}
    - {type: detect_face, frame: onset}
    - {type: landmarks, frame: onset}
    - {type: align, frames: [onset, apex], size: 128}
    - {type: flow, algorithm: dis}
    - {type: strain}
    - {type: roi, method: heatmap, heatmap: $tmp/heat.yml, top_k: 4, keys: [flow, strain]}
    - {type: resize, size: 28}
YAML
expect "a pipeline masks with the heat map" 0 "computed 4, from cache 0, skipped 0" -- \
  "$mer" preprocess --config "$hcfg" --no-cache

# Pipeline variants (training-only copies): `mer preprocess` fills their caches too, and prune keeps them.
vcfg=$tmp/variants.yaml
cat >"$vcfg" <<YAML
base: $cfg
preprocess:
  variants:
    - {name: dis, set: {flow.algorithm: dis}}
YAML
expect "preprocess fills a variant's cache" 0 "variant dis (pipeline" -- "$mer" preprocess --config "$vcfg"
grep -q "variant dis .*computed 4, from cache 0" "$tmp/out" && pass "variant computed once" || fail "variant: $(cat "$tmp/out")"
expect "prune keeps the variant's folder" 0 "would remove 0 folder(s)" -- \
  "$mer" cache prune --keep-config "$vcfg" --dry-run
expect "typo in a variant names it" 2 "variant 'dis'" -- "$mer" preprocess --config "$vcfg" \
  --set 'preprocess.variants[0].set={flow.algoritm: dis}'

# The benchmark runs without the cache and reports every stage.
expect "bench preprocess" 0 "samples/s" -- "$mer" bench preprocess --config "$cfg" --samples 2 --threads 2
grep -q "^strain " "$tmp/out" && grep -q "^all stages " "$tmp/out" && pass "bench lists the stages" \
  || fail "bench: $(cat "$tmp/out")"

echo "cli preprocess: $failures failure(s)"
[ "$failures" -eq 0 ]
