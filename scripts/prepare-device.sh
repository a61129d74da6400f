#!/usr/bin/env bash
# Lays out device/ (git-ignored) for a GPU session on a machine without Java or network: the bundle
# with tests and without the embedded models, scripts/gpu-session.sh as device/run.sh, and
# ../shared/anchors; then checks that the working tree plus device/ stay under the 64 MiB a device
# call may carry (measured 2026-11-27: 9.0 MiB + 40.3 MiB = 49.3 MiB, the tokenizer jar trimmed to
# its Linux x86_64 library by bundle.sh). Afterwards, on the GPU
# machine (carry: device), with a 15-minute device budget (machine start included):
#   PLAN=quick bash device/run.sh        # < 8 min planned: tests, FP16/INT8 timings, anchor, attention
# and, if time is left, one of
#   TESTS=1 BENCH=0 bash device/run.sh                       # GPU tests + compute-sanitizer
#   TESTS=0 ATT=1 GELU=1 EMB=1 SERVE=1 TUNE=1 bash device/run.sh  # timings, anchor, tuning
#
#   scripts/prepare-device.sh [--archs 90a] [--skip-build]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
archs="90a"
skip=""
while [ $# -gt 0 ]; do
  case "$1" in
    --archs) archs="$2"; shift ;;
    --skip-build) skip="--skip-build" ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "prepare-device: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
cd "$root"
"$here/bundle.sh" --with-tests --without-models --archs "$archs" $skip
[ -d device ] && chmod -R u+w device
rm -rf device && mkdir -p device
cp target/ft4j-*-linux-x86_64.tar.xz device/ft4j.tar.xz
cp scripts/gpu-session.sh device/run.sh
if [ -d ../shared/anchors ]; then
  cp -r ../shared/anchors device/anchors && chmod -R u+w device/anchors
else
  echo "prepare-device: ../shared/anchors not found: no PyTorch anchor (PT=0)" >&2
fi
# What a device call copies: tracked files, untracked files git does not ignore, and device/.
tree_bytes=$(git ls-files -z --cached --others --exclude-standard | xargs -0 -r du -cb 2>/dev/null | tail -n 1 | cut -f1)
device_bytes=$(du -sb device | cut -f1)
total=$(( tree_bytes + device_bytes ))
awk -v t="$tree_bytes" -v d="$device_bytes" 'BEGIN {
  printf "working tree %.1f MiB + device/ %.1f MiB = %.1f MiB (limit 64 MiB)\n", t / 1048576, d / 1048576, (t + d) / 1048576 }'
if [ "$total" -ge $(( 64 * 1048576 )) ]; then
  echo "prepare-device: too large to carry; build for fewer architectures or trim the bundle" >&2
  exit 1
fi
