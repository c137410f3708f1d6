#!/usr/bin/env bash
# The test suite: set up (if needed) -> fetch real faces -> build with tests -> ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --tests
export MER_MEDIA_CACHE=$(scripts/fetch_media.sh)
cd "${MER_BUILD_DIR:-build}"
ctest --output-on-failure -j2 "$@"
