#!/usr/bin/env bash
# Rehearses a GPU session on this CPU machine: runs device/run.sh (scripts/gpu-session.sh, laid out
# by scripts/prepare-device.sh) from a copy of device/, with libft4j-emu.so preloaded (the kernels on
# the CPU emulator, a fake CUDA runtime and cuBLASLt: README.md in this folder), a stand-in
# nvidia-smi, and a tiny model shape. It shows that the bundle unpacks, that its jlink runtime has
# the modules the code needs, that the launchers, the JUnit console and every step's arguments work
# and that the output greps find their lines, before a GPU machine's minutes are spent on it.
# Its times are CPU emulation times, not GPU numbers.
#
#   tools/kernel-emu/jvm/rehearse-device.sh [VAR=value ...]
# Defaults: PLAN=quick with LAYERS=1 HEADS=2 HSIZE=32 SHAPES="1x8 2x16" ATT_SHAPES=2x16 ITERS=2
# WARMUP=1 PT=0 (no PyTorch here), one quick test class (FT4J_TEST_SELECT) and one quick
# method for the warpgroup-kernel tests (WGMMA_SELECT), tiny EMB_ARGS,
# SERVE_ARGS, EPI_ARGS and tuning shapes; VAR=value arguments override them (e.g. TUNE=1 EMB=1
# SERVE=1 EPI=1 GELU=1 RPS="0 1" turn on every step). Output: $REHEARSE_DIR (default
# /tmp/ft4j-rehearsal)/out, and the transcript on stdout.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../../.." && pwd)"
[[ -f "$REPO/device/run.sh" && -f "$REPO/device/ft4j.tar.xz" ]] \
  || { echo "rehearse-device: no device/ (run scripts/prepare-device.sh first)" >&2; exit 2; }
LIB="$(bash "$HERE/build.sh" | tail -n 1)"
DIR="${REHEARSE_DIR:-/tmp/ft4j-rehearsal}"
rm -rf "$DIR" && mkdir -p "$DIR/bin"
cp -r "$REPO/device" "$DIR/device"
cat > "$DIR/bin/nvidia-smi" <<'SH'
#!/bin/sh
echo "kernel-emu (CPU emulation of sm_90, no GPU), none, 0 MiB"
SH
chmod +x "$DIR/bin/nvidia-smi"

export PLAN=quick LAYERS=1 HEADS=2 HSIZE=32 SHAPES="1x8 2x16" ATT_SHAPES=2x16 ITERS=2 WARMUP=1 PT=0
export FT4J_TEST_SELECT="--select-class org.ft4j.nativeapi.EmbeddingGpuTest"
export WGMMA_SELECT="--select-method org.ft4j.nativeapi.Int8GemmGpuTest#plansSplitSmallGemmsAlongK"
export EMB_ARGS="tiny 16 1,4 16" SERVE_ARGS="gpu 1,2 1 16 tiny direct,batched:0,two:0" EPI_ARGS="16 32 64"
export TUNE_B=1 TUNE_S=8 TUNE_CHECK=1x8
for kv in "$@"; do
  [[ "$kv" == *=* ]] || { echo "rehearse-device: expected VAR=value, got $kv" >&2; exit 2; }
  export "${kv?}"
done
export PATH="$DIR/bin:$PATH" OUT="$DIR/out"
export LD_PRELOAD="$LIB/libft4j-emu.so" LD_LIBRARY_PATH="$LIB"
# the emulator's fibers run on the Java threads' stacks
export JAVA_TOOL_OPTIONS="-Xss4m ${JAVA_TOOL_OPTIONS:-}"
status=0
bash "$DIR/device/run.sh" || status=$?
echo "rehearse-device: run.sh exit $status; results in $OUT"
exit $status
