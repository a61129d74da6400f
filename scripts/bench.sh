#!/usr/bin/env bash
# Benchmarks on a CUDA machine, all in one run so the numbers are comparable:
#  1. ft4j encoder_sample over FasterTransformer's table (batch {1,8,32} x seq {32,128,384},
#     BERT-base 12 x 64, 12 layers) in FP32, FP16 and INT8 mode 1, plus batch 64 x 128;
#  2. the PyTorch anchor (fp16 SDPA + CUDA graph, fp32 eager) on the same shapes;
#  3. the cuBLASLt GEMM floor for the encoder's GEMMs.
# Output: a table on stdout and CSV files in $OUT_DIR (default bench-results/).
#
#   scripts/bench.sh [--anchors DIR] [--shapes 1x32,32x128,...] [--precisions fp16,fp32,int8-1,int8-2]
#
# DIR defaults to ../shared/anchors or shared/anchors (pytorch_encoder.py, gemm_floor.cu).
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
shapes="1x32,1x128,1x384,8x32,8x128,8x384,32x32,32x128,32x384,64x128"
precisions="fp16,fp32,int8-1,int8-2"
anchors=""
for d in "$root/../shared/anchors" "$root/shared/anchors"; do [ -d "$d" ] && anchors="$d" && break; done
while [ $# -gt 0 ]; do
  case "$1" in
    --anchors) anchors="$2"; shift ;;
    --shapes) shapes="$2"; shift ;;
    --precisions) precisions="$2"; shift ;;
    *) echo "bench: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
out="${OUT_DIR:-$root/bench-results}"
mkdir -p "$out"
csv="$out/ft4j.csv"
echo "precision,batch,seq,ft4j_ms" > "$csv"
for p in ${precisions//,/ }; do
  fp16=0; int8=0
  case "$p" in
    fp16) fp16=1 ;;
    fp32) ;;
    int8-1) fp16=1; int8=1 ;;
    int8-2) fp16=1; int8=2 ;;
    *) echo "bench: unknown precision $p (fp16, fp32, int8-1, int8-2)" >&2; exit 2 ;;
  esac
  for s in ${shapes//,/ }; do
    b="${s%x*}"; q="${s#*x}"
    line="$("$here/encoder_sample" "$b" 12 "$q" 12 64 "$fp16" 0 "$int8" 0 2>"$out/err-$p-$s.log" | tee -a "$out/encoder_sample.log" | grep 'ft4j-time')"
    ms="$(sed -n 's/.*ft4j-time \([0-9.]*\) ms.*/\1/p' <<<"$line")"
    echo "$p,$b,$q,${ms:-FAILED}" | tee -a "$csv"
  done
done
if [ -n "$anchors" ] && command -v python3 >/dev/null; then
  echo "== PyTorch anchor"
  python3 "$anchors/pytorch_encoder.py" --shapes "$shapes" | tee "$out/pytorch.csv"
fi
if [ -n "$anchors" ] && command -v nvcc >/dev/null; then
  echo "== cuBLASLt GEMM floor"
  lib=/usr/local/cuda/targets/x86_64-linux/lib
  ms=""; for s in ${shapes//,/ }; do ms="$ms,$(( ${s%x*} * ${s#*x} ))"; done
  nvcc -O2 -gencode=arch=compute_90a,code=sm_90a "$anchors/gemm_floor.cu" -L"$lib" -lcublasLt \
    -o "$out/gemm_floor" && "$out/gemm_floor" 768 "${ms#,}" | tee "$out/gemm_floor.txt"
fi
