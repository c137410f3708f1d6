#!/usr/bin/env bash
# Installs every missing Debian dependency (idempotent, non-interactive), then configures and builds
# libmer in Release into build/. Usage: scripts/setup.sh [--tests] [--target T]
#   --tests     also build the test suite (default: the library and the mer tool only)
set -euo pipefail
cd "$(dirname "$0")/.."

tests=OFF
targets=(mer_cli)
while (($#)); do
  case "$1" in
    --tests) tests=ON; targets=(all) ;;
    *) echo "setup: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

packages=(pkg-config ccache
  libtorch-dev libopenblas0-pthread libopencv-dev libopencv-contrib-dev libdlib-dev libdlib-data
  opencv-data libeigen3-dev libyaml-cpp-dev libspdlog-dev libcli11-dev libgtest-dev nlohmann-json3-dev
  libzip-dev libpugixml-dev libcmark-gfm-dev libcmark-gfm-extensions-dev)
# The tests also open HTML reports in a real browser and run a sharded experiment on a real one-node
# Slurm cluster; both skip with a message where these cannot be installed.
[ "$tests" = OFF ] || packages+=(chromium fonts-dejavu-core slurmctld slurmd slurm-client munge)
# Tools count as present when their command is, whoever installed them (npm often comes from elsewhere,
# and Debian's npm package conflicts with a newer nodejs).
declare -A tools=([cmake]=cmake [ninja]=ninja-build [g++]=g++ [git]=git [npm]=npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
for cmd in "${!tools[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${tools[$cmd]}")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Debian's LibTorch uses whatever libblas.so.3 is selected; the reference BLAS is ~25x slower at GEMM.
blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || true)
case "$blas" in
  *openblas*) ;;
  *) echo "setup: warning: libblas.so.3 is $blas, not OpenBLAS; LibTorch will be slow" >&2 ;;
esac

build=${MER_BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMER_BUILD_TESTS="$tests" >/dev/null
cmake --build "$build" --target "${targets[@]}" -j"$(nproc)"
