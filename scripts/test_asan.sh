#!/usr/bin/env bash
# The core, data and preprocessing tests under AddressSanitizer and UndefinedBehaviorSanitizer: builds
# mer_core_tests and mer_vision_tests with the asan preset (build-asan/, Debug at -O1 so that dlib's
# templates stay fast enough) and runs them, mutation fuzzing included (tests/core/fuzz_test.cpp).
# Not part of the default suite: a sanitizer build costs CI's time budget, and LibTorch's libraries are
# not instrumented (the learn layer is left out). OpenCV and dlib are Debian's uninstrumented builds; ASan
# still checks every access our code makes to their buffers.
# Usage: scripts/test_asan.sh [core|vision|all (default)] [gtest args]
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-all}
[[ $# -gt 0 ]] && shift
case $which in
  core) targets=(mer_core_tests) ;;
  vision) targets=(mer_vision_tests) ;;
  all) targets=(mer_core_tests mer_vision_tests) ;;
  *) echo "usage: scripts/test_asan.sh [core|vision|all] [gtest args]" >&2; exit 2 ;;
esac
# Needs the Debian packages scripts/setup.sh installs; it does not touch build/.
cmake --preset asan >/dev/null
cmake --build --preset asan --target "${targets[@]}"
export MER_SOURCE_DIR=$PWD
# Leak checking stays on. Reports are suppressed only for leaks allocated inside OpenCV's and dlib's own
# libraries (tests/support/lsan.supp: thread-local caches they keep for the process's life).
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1:fast_unwind_on_malloc=0
export LSAN_OPTIONS=suppressions=$PWD/tests/support/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for t in "${targets[@]}"; do
  echo "== $t under ASan + UBSan"
  "build-asan/tests/$t" "$@"
done
