#!/usr/bin/env bash
# Opens a self-contained HTML report in headless Chromium and checks that it rendered and that no image
# on it failed to load. The page must embed the image check of `mer report html` (tools/mer/html_report.cpp), which records the
# image counts on the body element after window load.
#
# Usage: html_check.sh PAGE.html OUT_DIR [MARKER]
#   MARKER  text the rendered page must contain (e.g. the run's title), as it appears in the DOM
# Writes OUT_DIR/page.png (screenshot), OUT_DIR/page.dom.html (rendered DOM), OUT_DIR/chromium.log.
# Exit: 0 fine, 1 failed (one-line reason), 77 skipped (no Chromium), 2 usage. Messages go to stdout.
set -uo pipefail

fail() { echo "html_check: FAIL: $*"; exit 1; }

if (($# < 2 || $# > 3)); then
  echo "usage: html_check.sh PAGE.html OUT_DIR [MARKER]"
  exit 2
fi
page=$1 out=$2 marker=${3-}

browser=$(command -v chromium || command -v chromium-browser) ||
  { echo "html_check: skipped: no chromium or chromium-browser on PATH"; exit 77; }

[ -f "$page" ] || fail "$page: no such file"
abs=$(realpath "$page") || fail "$page: cannot resolve path"
mkdir -p "$out" || fail "cannot create $out"
png=$out/page.png dom=$out/page.dom.html log=$out/chromium.log
rm -f "$png" "$dom"

# file:// URL: escape the characters that would otherwise end or alter the path.
url=${abs//%/%25}; url=${url// /%20}; url=${url//#/%23}; url=file://${url//\?/%3F}

# A fresh profile per run, so no state leaks between checks and nothing is written to $HOME.
profile=$(mktemp -d) || fail "mktemp failed"
trap 'rm -rf "$profile"' EXIT

# One run takes both the screenshot and the DOM. --no-sandbox: the sandbox cannot start as root in a
# container; --disable-gpu: no GPU here; --disable-dev-shm-usage: containers often have a 64 MB
# /dev/shm. --virtual-time-budget lets the load event (and so the snippet) run before the dump.
timeout -k 5 60 "$browser" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
  --user-data-dir="$profile" --no-first-run --hide-scrollbars --window-size=1200,2000 \
  --virtual-time-budget=5000 --screenshot="$png" --dump-dom "$url" >"$dom" 2>"$log"
rc=$?
((rc == 124 || rc == 137)) && fail "Chromium timed out after 60 s (see $log)"

# (a) The page rendered: a DOM came back, and it is not Chromium's own error page.
if [ ! -s "$dom" ]; then
  # A failed top-level load leaves no DOM; the headless shell logs the net error instead.
  err=$(grep -o 'Page load failed: net::[A-Z_]*' "$log" | head -n1)
  fail "Chromium could not load the page (exit $rc${err:+, ${err#Page load failed: }}; see $log)"
fi
if grep -q -e '<body class="neterror"' -e 'id="main-frame-error"' "$dom"; then
  err=$(grep -o '"errorCode":"[A-Z_]*"' "$dom" | head -n1 | cut -d'"' -f4)
  fail "Chromium showed its error page${err:+ ($err)} instead of the report"
fi
if [ -n "$marker" ] && ! grep -qF -- "$marker" "$dom"; then
  fail "rendered page does not contain \"$marker\""
fi

# (a) The screenshot exists, is a PNG, and is not a single flat colour.
[ -s "$png" ] || fail "Chromium wrote no screenshot (exit $rc; see $log)"
[ "$(od -An -tx1 -N8 "$png" | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "$png is not a PNG"
if command -v python3 >/dev/null 2>&1; then
  # Exact flat-image test without a decoder or numpy: if every pixel equals the first one, each filtered
  # scanline is fully determined by its filter type, so compare rows against those patterns.
  blank=$(python3 - "$png" <<'EOF'
import struct, sys, zlib
d = open(sys.argv[1], "rb").read()
w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", d[16:29])
bpp = {2: 3, 6: 4}.get(ctype)
if depth != 8 or bpp is None or interlace:
    sys.exit(0)  # not what Chromium writes; leave it to the other checks
idat, i = b"", 8
while i < len(d):
    n, kind = struct.unpack(">I4s", d[i:i + 8])
    idat += d[i + 8:i + 8 + n] if kind == b"IDAT" else b""
    i += 12 + n
raw, stride = zlib.decompress(idat), 1 + w * bpp
p = raw[1:1 + bpp]
half = bytes((c - c // 2) & 255 for c in p)
zero = bytes(bpp * (w - 1))
want = {  # (filter, first row?) -> filtered scanline of a flat image of colour p
    (0, 1): p * w, (0, 0): p * w, (1, 1): p + zero, (1, 0): p + zero, (2, 1): p * w, (2, 0): bytes(bpp * w),
    (3, 1): p + half * (w - 1), (3, 0): half + zero, (4, 1): p + zero, (4, 0): bytes(bpp * w)}
for y in range(h):
    if want.get((raw[y * stride], y == 0)) != raw[y * stride + 1:(y + 1) * stride]:
        sys.exit(0)
print("#" + p.hex())
EOF
  ) || fail "could not read $png"
  [ -z "$blank" ] || fail "screenshot is blank (every pixel $blank)"
fi

# (b) Every image loaded, as counted by the image check `mer report html` embeds.
total=$(grep -o 'data-images-total="[0-9]*"' "$dom" | head -n1 | tr -dc 0-9)
broken=$(grep -o 'data-images-broken="[0-9]*"' "$dom" | head -n1 | tr -dc 0-9)
if [ -z "$total" ] || [ -z "$broken" ]; then
  fail "page reported no image counts (was it written by mer report html?)"
fi
((total > 0)) || fail "page has no images"
((broken == 0)) || fail "$broken of $total images failed to load"

echo "html_check: ok: $total images loaded, screenshot $png"
