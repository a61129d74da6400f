#!/usr/bin/env bash
# One GPU session's checks in one command, for a machine without Java or network (see README,
# "Checking on a GPU machine"). scripts/prepare-device.sh lays it out: the bundle built with
# --with-tests --without-models --archs 90a (H100/H200) as device/ft4j.tar.xz, this file as
# device/run.sh, ../shared/anchors as device/anchors, and a check that the working tree plus
# device/ stay under the 64 MiB a call may carry. Then run `bash device/run.sh` there (carry:
# device) with $OUT set to a folder for the results.
# Steps (environment switches): GPU tests + compute-sanitizer (TEST_S seconds, SANITIZE=0 skips the
# sanitizers, REPEAT=n runs the tests n times), encoder_sample timings (BENCH=1: PRECS
# "is_use_fp16:int8_mode ..." (default "1:0 0:0 1:1 1:2": FP16, FP32, INT8 modes 1 and 2; INT8 runs
# once per INT8_GEMMS entry, default "auto own": --int8-gemm, and "ownmma" for own with
# FT4J_INT8_WGMMA=0, the warpgroup kernels off), SHAPES "32x128 ...",
# RPS "0 1"), the PyTorch anchor (PT=1), FP16 with and without the GELU epilogue (GELU=1),
# embedding throughput with host vs device pooling (EMB=1), service load with and without the
# EmbeddingBatcher (SERVE=1),
# epilogue and attention benchmarks (EPI=1, ATT=1 over ATT_SHAPES), the INT8 layer breakdown
# (I8=1: Int8LayerBench over I8_ARGS tokens, with FT4J_INT8_WGMMA=0 and 1), GEMM tuning (TUNE=1:
# encoder_gemm over TUNE_B x TUNE_S, then encoder_sample with and without the tuned config at TUNE_CHECK "BxS ...",
# default "32x128 32x384").
# PROF=1: Nsight Compute (ncu, where the machine has it) over one launch of each INT8 GEMM output
# kind and row kernel (Int8LayerBench ... prof at PROF_TOKENS, default 4096): speed of light, memory,
# warp stall reasons (instruction-fetch stalls among them), instruction counts; CSV in $OUT/ncu.csv.
# WGMMA_TESTS=1: the INT8 GEMM, FP16/INT8 encoder and padding-removal GPU tests again with
# FT4J_INT8_WGMMA=0 and FT4J_ATTENTION_WGMMA=0 (the mma.sync INT8 GEMM and attention, which sm_90
# no longer takes by default; WGMMA_SELECT: other JUnit selectors). ATT_WGMMA=1: the FP16
# encoder_sample timings also with FT4J_ATTENTION_WGMMA=0 ("attmma").
# PLAN=quick: the first look that fits a 15-minute device budget (planned under 8 minutes, not yet
# measured: GPU tests without the sanitizers, the warpgroup kernels' tests, FP16 (with and without
# the warpgroup attention) and
# both INT8 modes (with and without the warpgroup kernel) at 1x128 and 32x128, the PyTorch anchor
# there, the attention benchmark at 32x128 and 32x384, the INT8 layer breakdown, the kernel
# profiles of PROF=1 where ncu exists); explicit switches
# still win.
# Model shape of every timing: LAYERS, HEADS, HSIZE (default BERT-base: 12 12 64); ITERS and WARMUP
# pass --iterations / --warmup to encoder_sample (its defaults if unset); EMB_ARGS, SERVE_ARGS and
# EPI_ARGS replace the arguments of EmbedBench, ServeBench and EpilogueBench; FT4J_TEST_SELECT (JUnit
# console selectors) narrows the GPU tests. tools/kernel-emu/jvm/rehearse-device.sh runs this whole
# script on a CPU through the kernel emulator with a tiny shape, to catch script and bundle errors
# before device time is spent.
cd "$(dirname "$0")" && tar xJf ft4j.tar.xz && cd ft4j || exit 1
export LD_LIBRARY_PATH=/usr/local/cuda-13.0/targets/x86_64-linux/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
OUT="${OUT:-$PWD/out}"
mkdir -p "$OUT"
if [ "${PLAN:-}" = quick ]; then
  : "${SANITIZE:=0}" "${TEST_S:=240}" "${SHAPES:=1x128 32x128}" "${PRECS:=1:0 1:1 1:2}"
  : "${INT8_GEMMS:=auto own ownmma}" "${PT_SHAPES:=1x128,32x128}" "${ATT:=1}" "${ATT_SHAPES:=32x128,32x384}"
  : "${WGMMA_TESTS:=1}" "${ATT_WGMMA:=1}" "${I8:=1}" "${PROF:=1}"
fi
export SANITIZE
L=${LAYERS:-12} H=${HEADS:-12} D=${HSIZE:-64}
it="${ITERS:+--iterations $ITERS} ${WARMUP:+--warmup $WARMUP}"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
START=$(date +%s)
for i in $(seq 2 ${REPEAT:-1}); do
  FT4J_TEST_OUT=$OUT/rep$i SANITIZE=0 timeout 200 bash bin/gpu-test.sh > $OUT/rep$i.log 2>&1; echo "repeat $i rc=$?"; grep -E "tests (successful|failed)|=>" $OUT/rep$i.log | head
done
if [ "${TESTS:-1}" = 1 ]; then
  FT4J_TEST_OUT=$OUT/gpu timeout ${TEST_S:-420} bash bin/gpu-test.sh > $OUT/gpu-test.log 2>&1
  echo "gpu-test rc=$? in $(( $(date +%s) - START )) s"
  grep -E "tests (successful|failed|skipped|aborted)|ERROR SUMMARY|MethodSource|=>|JUnit|summary|memcheck:|racecheck:" $OUT/gpu-test.log | head -60
fi
if [ "${WGMMA_TESTS:-0}" = 1 ]; then  # GEMM and encoder tests again, the warpgroup kernels on
  FT4J_INT8_WGMMA=0 FT4J_ATTENTION_WGMMA=0 FT4J_TEST_OUT=$OUT/wgmma SANITIZE=0 FT4J_TEST_SELECT="${WGMMA_SELECT:---select-class org.ft4j.nativeapi.Int8GemmGpuTest --select-class org.ft4j.encoder.Int8EncoderGpuTest --select-class org.ft4j.encoder.BertEncoderGpuTest --select-class org.ft4j.encoder.PaddingRemovalGpuTest}" \
    timeout ${WGMMA_TEST_S:-120} bash bin/gpu-test.sh > $OUT/wgmma-test.log 2>&1
  echo "wgmma tests rc=$?"; grep -E "tests (successful|failed)|MethodSource|=>" $OUT/wgmma-test.log | head -20
fi
if [ "${TUNE:-0}" = 1 ]; then
  mkdir -p "$OUT/gemm"
  timeout ${TUNE_TIMEOUT:-400} bin/encoder_gemm ${TUNE_B:-1,8,32} ${TUNE_S:-32,128,384} $H $D ${TUNE_FP16:-1} ${TUNE_INT8:-0} \
    -o "$OUT/gemm/gemm_config.in" --no-progress > $OUT/tune.log 2>&1
  echo "encoder_gemm rc=$?"; cat $OUT/tune.log
  for s in ${TUNE_CHECK:-32x128 32x384}; do set -- ${s/x/ }
    mkdir -p "$OUT/empty" # no config there: cuBLASLt heuristics
    for cfg in "$OUT/empty" "$OUT/gemm/gemm_config.in"; do
      timeout 60 bin/encoder_sample $1 $L $2 $H $D ${TUNE_FP16:-1} 0 0 0 $it --gemm-config "$cfg" 2>&1 | grep -E "GEMM algorithms|ft4j-time|rror" | tail -2
    done
  done
fi
if [ "${BENCH:-1}" = 1 ]; then
  for p in ${PRECS:-1:0 0:0 1:1 1:2}; do for s in ${SHAPES:-"1 128" "32 128" "32 384"}; do set -- ${s/x/ }
    gemms="auto"; [ "${p#*:}" != 0 ] && gemms="${INT8_GEMMS:-auto own}"
    [ "$p" = 1:0 ] && [ "${ATT_WGMMA:-0}" = 1 ] && gemms="auto attmma"
    for rp in ${RPS:-0}; do for g in $gemms; do
      # "ownmma": ft4j's own GEMM with the warpgroup kernels off (mma.sync only)
      # "attmma": FP16 with the mma.sync attention instead of the warpgroup one
      wg=1; aw=1; [ "$g" = ownmma ] && { wg=0; g=own; }; [ "$g" = attmma ] && { aw=0; g=auto; }
      echo "== fp16:int8 $p, ${1}x$2, remove_padding $rp, --int8-gemm $g, FT4J_INT8_WGMMA=$wg FT4J_ATTENTION_WGMMA=$aw"
      FT4J_INT8_WGMMA=$wg FT4J_ATTENTION_WGMMA=$aw timeout 90 bin/encoder_sample $1 $L $2 $H $D ${p%:*} $rp ${p#*:} 0 $it --int8-gemm $g 2>&1 | grep -E "GEMM algorithms|host-side|latency|ft4j-time|rror" | tail -5
    done; done
  done; done > $OUT/bench.log 2>&1; cat $OUT/bench.log
  [ "${PT:-1}" = 1 ] && timeout 120 python3 ../anchors/pytorch_encoder.py --shapes ${PT_SHAPES:-1x128,32x128,32x384} > $OUT/pytorch.csv 2>&1 && tail -8 $OUT/pytorch.csv
fi
if [ "${GELU:-0}" = 1 ]; then  # FP16 with ft4j's erf GELU kernel vs cuBLASLt's GELU epilogue
  for s in ${SHAPES:-"1 128" "32 128" "32 384"}; do set -- ${s/x/ }
    for flag in "" --gelu-epilogue; do
      echo "== fp16 ${1}x$2 ${flag:-erf GELU kernel}"
      timeout 60 bin/encoder_sample $1 $L $2 $H $D 1 0 0 0 $it $flag 2>&1 | grep -E "ft4j-time|rror" | tail -2
    done
  done > $OUT/gelu.log 2>&1; cat $OUT/gelu.log
fi
if [ "${EMB:-0}" = 1 ]; then  # token ids -> pooled vectors: host vs device pooling
  timeout 150 jre/bin/java -cp "$(ls lib/*.jar | paste -sd: -)" org.ft4j.bench.EmbedBench ${EMB_ARGS:-minilm 2048 1,32,128} > $OUT/embed.csv 2>&1; cat $OUT/embed.csv
fi
if [ "${SERVE:-0}" = 1 ]; then  # closed-loop clients: direct calls vs EmbeddingBatcher (FP16 MiniLM shape)
  timeout 150 jre/bin/java -cp "$(ls lib/*.jar | paste -sd: -)" org.ft4j.bench.ServeBench ${SERVE_ARGS:-gpu 1,8,64 2 128 minilm direct,batched:0,two:0} > $OUT/serve.csv 2>&1; cat $OUT/serve.csv
fi
if [ "${EPI:-0}" = 1 ]; then
  timeout 120 jre/bin/java -cp "$(ls lib/*.jar | paste -sd: -)" org.ft4j.bench.EpilogueBench ${EPI_ARGS:-128,4096,12288} > $OUT/epilogue.csv 2>&1; cat $OUT/epilogue.csv
fi
if [ "${I8:-0}" = 1 ]; then  # the INT8 layer piece by piece (GEMMs, row kernels) next to FP16's
  for wg in 0 1; do
    echo "== Int8LayerBench FT4J_INT8_WGMMA=$wg"
    FT4J_INT8_WGMMA=$wg timeout 90 jre/bin/java -cp "$(ls lib/*.jar | paste -sd: -)" org.ft4j.bench.Int8LayerBench ${I8_ARGS:-128,4096} $((H * D))
  done > $OUT/int8-layer.csv 2>&1; cat $OUT/int8-layer.csv
fi
if [ "${PROF:-0}" = 1 ]; then  # kernel profiles: where the INT8 GEMM's and row kernels' time goes
  ncu=$(command -v ncu || ls /usr/local/cuda*/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
  if [ -z "$ncu" ]; then
    echo "PROF: no ncu on this machine"
  else
    jre/bin/java -cp "$(ls lib/*.jar | paste -sd: -)" org.ft4j.bench.Int8LayerBench ${PROF_TOKENS:-4096} $((H * D)) $((4 * H * D)) gemm,row,prof > $OUT/prof-launches.txt 2>&1
    timeout ${PROF_S:-150} "$ncu" --target-processes all --kernel-name "regex:${PROF_KERNELS:-gemm_int8|dequantize|quantize_rows|add_bias_gelu|add_bias_residual_layernorm}" \
      --launch-count ${PROF_COUNT:-26} --section SpeedOfLight --section MemoryWorkloadAnalysis --section WarpStateStats \
      --section SchedulerStats --section InstructionStats --section Occupancy --section LaunchStats --csv --page raw \
      jre/bin/java -cp "$(ls lib/*.jar | paste -sd: -)" org.ft4j.bench.Int8LayerBench ${PROF_TOKENS:-4096} $((H * D)) $((4 * H * D)) gemm,row,prof \
      > $OUT/ncu.csv 2> $OUT/ncu.err
    echo "ncu rc=$? ($(wc -l < $OUT/ncu.csv) lines)"; tail -3 $OUT/ncu.err; grep "^launch" $OUT/prof-launches.txt | head -30
    python3 - "$OUT/ncu.csv" <<'PY'  # a few columns of the raw page per kernel: time, stalls, traffic
import csv, sys
rows = list(csv.reader(open(sys.argv[1], errors="replace")))
head = next((i for i, r in enumerate(rows) if "Kernel Name" in r), None)
if head is None:
    sys.exit("no kernel rows in ncu.csv")
names = rows[head]
keys = ("gpu__time_duration.sum", "stalled_no_instruction", "stalled_long_scoreboard", "stalled_barrier",
        "stalled_wait", "stalled_math_pipe_throttle", "stalled_lg_throttle", "lts__t_bytes.sum.per_second",
        "dram__bytes.sum.per_second", "sm__throughput.avg.pct_of_peak_sustained_elapsed",
        "smsp__inst_executed.sum", "launch__registers_per_thread", "sm__warps_active.avg.pct_of_peak")
cols = [i for i, n in enumerate(names) if any(k in n for k in keys)]
for r in rows[head + 1:]:
    if len(r) != len(names) or not r[names.index("Kernel Name")] or r[0] == "":
        continue
    print(r[names.index("Kernel Name")][:100])
    print("   " + "; ".join(names[i] + "=" + r[i] for i in cols))
PY
  fi
fi
if [ "${ATT:-0}" = 1 ]; then
  timeout 150 jre/bin/java -cp "$(ls lib/*.jar | paste -sd: -)" org.ft4j.bench.AttentionBench ${ATT_SHAPES:-1x128,32x128,32x384,8x1024,4x4096} $H $D > $OUT/attention.csv 2>&1; cat $OUT/attention.csv
fi
echo "total $(( $(date +%s) - START )) s"
