#!/usr/bin/env bash
# The parsers and the Torch-free core under AddressSanitizer and UndefinedBehaviorSanitizer: builds
# mer_core_tests with the asan preset (build-asan/) and runs it, mutation fuzzing included
# (tests/core/fuzz_test.cpp). Not part of the default suite: a sanitizer build of everything would cost
# CI's time budget, and LibTorch's own libraries are not instrumented. Usage: scripts/test_asan.sh [gtest args]
set -euo pipefail
cd "$(dirname "$0")/.."
# Needs the Debian packages scripts/setup.sh installs; it does not touch build/.
cmake --preset asan >/dev/null
cmake --build --preset asan --target mer_core_tests
export MER_SOURCE_DIR=$PWD
# LibTorch is not loaded by these tests; leak checking stays on.
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  build-asan/tests/mer_core_tests "$@"
