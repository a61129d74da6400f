#!/usr/bin/env bash
# kernel-emu: runs the real CUDA kernel sources (kernels/*.cu) on the CPU under an emulator and
# compares them with double-precision references (README.md). Needs bash, python3 and g++ (C++17);
# no nvcc, CUDA headers or GPU.
#
#   tools/kernel-emu/run.sh                 build (cached) and run every test
#   tools/kernel-emu/run.sh --self-check    prove the tests can fail: mutated kernel copies must
#                                           each be caught
#   options: --only NAME[,NAME...]  run only these tests (emu quantize layernorm pooling embedding
#                                   activation padding attention convert gemm_int8 gemm_int8_sm75
#                                   fused_attention fused_attention_sm75 capi)
#            --kernels DIR          test the kernel sources in DIR instead of kernels/
#   environment: FT4J_EMU_BUILD (build folder, default /tmp/ft4j-kernel-emu), CXX,
#                FT4J_EMU_CXXFLAGS (extra flags), FT4J_EMU_JOBS (parallel jobs, default nproc),
#                FT4J_EMU_STRICT=1 (known kernel issues fail too), FT4J_EMU_VERBOSE=1
#
# Exit status: 0 when every test passes, 1 on any mismatch, fault (guard page, read-only input),
# emulator finding (race, shuffle mask, barrier) or build error, 2 on a usage error.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
BUILD="${FT4J_EMU_BUILD:-/tmp/ft4j-kernel-emu}"
KERNELS="$REPO/kernels"
CXX="${CXX:-g++}"
CXXFLAGS="-std=c++17 -O2 -Wall -Wno-unknown-pragmas ${FT4J_EMU_CXXFLAGS:-}"
JOBS="${FT4J_EMU_JOBS:-$(nproc 2>/dev/null || echo 2)}"
TEST_TIMEOUT=300

# The tests in the order of the report; RUN_ORDER builds and runs them longest first; KERNEL_OF:
# the kernel source each one includes ("-": the emulator's own toy kernels).
# SOURCE_OF: a test built from another test's source (default test_NAME.cpp); FLAGS_OF: its extra
# compiler flags (the tensor-core tests: the CUDA architecture the device code is compiled for and
# the emulated device, EMU_SM).
ALL_TESTS=(emu quantize layernorm pooling embedding activation padding attention convert
           gemm_int8 gemm_int8_sm75 fused_attention fused_attention_sm75 capi)
RUN_ORDER=(fused_attention capi gemm_int8 quantize fused_attention_sm75 gemm_int8_sm75 attention
           layernorm pooling embedding emu activation convert padding)
declare -A KERNEL_OF=([emu]=- [quantize]=quantize.cu [layernorm]=layernorm.cu [pooling]=pooling.cu
                      [embedding]=embedding.cu [activation]=activation.cu [padding]=padding.cu
                      [attention]=attention.cu [convert]=convert.cu [gemm_int8]=gemm_int8.cu
                      [gemm_int8_sm75]=gemm_int8.cu [fused_attention]=fused_attention.cu
                      [fused_attention_sm75]=fused_attention.cu)
declare -A SOURCE_OF=([gemm_int8_sm75]=gemm_int8 [fused_attention_sm75]=fused_attention)
declare -A FLAGS_OF=([gemm_int8]="-D__CUDA_ARCH__=800 -DEMU_SM=90 -DFT4J_HAS_SM90A"
                     [gemm_int8_sm75]="-D__CUDA_ARCH__=750 -DEMU_SM=75"
                     [fused_attention]="-D__CUDA_ARCH__=800 -DEMU_SM=90 -DFT4J_HAS_SM90A -O1"
                     [fused_attention_sm75]="-D__CUDA_ARCH__=750 -DEMU_SM=75 -O1"
                     [capi]="-O0 -DFT4J_HAS_SM90A")
# (-O1 / -O0: the biggest translation units, where optimising costs more compile time than it saves
# run time: the C API test runs 0.6 s either way)
# capi: the C API layer (native/src/ft4j.cpp) over every kernel, in one translation unit; NATIVE_OF:
# the files of native/ a test includes (prepared into the build folder like the kernels).
KERNEL_OF[capi]="activation.cu attention.cu convert.cu embedding.cu fused_attention.cu gemm_int8.cu
                 layernorm.cu padding.cu pooling.cu quantize.cu"
declare -A NATIVE_OF=([capi]="src/ft4j.cpp include/ft4j.h")

SELF_CHECK=0
ONLY=""
QUIET=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --self-check) SELF_CHECK=1 ;;
    --only) ONLY="${2:?--only needs a list}"; shift ;;
    --kernels) KERNELS="$(cd "${2:?--kernels needs a folder}" && pwd)"; shift ;;
    --quiet) QUIET=1 ;;  # (self-check) no per-kernel lines
    -h|--help) sed -n '2,18p' "$HERE/run.sh"; exit 0 ;;
    *) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

[[ ${#RUN_ORDER[@]} == ${#ALL_TESTS[@]} ]] || { echo "run.sh: RUN_ORDER and ALL_TESTS differ" >&2; exit 2; }
TESTS=("${ALL_TESTS[@]}")
if [[ -n "$ONLY" ]]; then
  IFS=',' read -r -a TESTS <<<"$ONLY"
  for t in "${TESTS[@]}"; do
    [[ -n "${KERNEL_OF[$t]:-}" ]] || { echo "run.sh: unknown test '$t' (${ALL_TESTS[*]})" >&2; exit 2; }
  done
fi

for tool in python3 "$CXX"; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool not found" >&2; exit 1; }
done
CXX_VERSION=$("$CXX" --version 2>&1 | sed -n 1p)

now_ms() { echo $(($(date +%s%N) / 1000000)); }
since() { local d=$(($(now_ms) - $1)); echo "$((d / 1000)).$(((d % 1000) / 100))"; }  # seconds
START=$(now_ms)

# ---- self-check: mutated copies of the kernels must fail -------------------------------------
if [[ $SELF_CHECK == 1 ]]; then
  # name | file | tests that must catch it | old text (must occur exactly once) | new text
  MUTATIONS=(
    "block_sum without its first __syncthreads|common.cuh|layernorm|  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  if (warp == 0) {
    float t = lane < warps ? scratch[lane] : 0.f;|  if (lane == 0) scratch[warp] = v;
  if (warp == 0) {
    float t = lane < warps ? scratch[lane] : 0.f;"
    "int8 clamp admits -128|common.cuh|quantize|q = q > 127 ? 127 : (q < -127 ? -127 : q);|q = q > 127 ? 127 : (q < -128 ? -128 : q);"
    "packed quantize stores int8 pack c at c instead of c * N|quantize.cu|quantize|q.store(qout_row + static_cast<int64_t>(c) * N);|q.store(qout_row + c);"
    "packed layernorm caches x pack-major (another thread's slots in later passes)|quantize.cu|quantize|        row[i * packs + c] = x[i];
        sum += x[i];|        row[c * N + i] = x[i];
        sum += x[i];"
    "pool_rows reads one column past the row|pooling.cu|pooling|sum += to_float(base[int64_t(r) * p.hidden + c]);|sum += to_float(base[int64_t(r) * p.hidden + c + 1]);"
    "kRowSharedBytes = all 48 KiB (static scratch not left room)|common.cuh|layernorm|constexpr size_t kRowSharedBytes = kDefaultSharedBytes - 256;|constexpr size_t kRowSharedBytes = kDefaultSharedBytes;"
    "INT8 GEMM pipeline reads a stage before its copies land|gemm_int8.cu|gemm_int8|    cp_async_wait<kPStages - 2>();|    cp_async_wait<kPStages - 1>();"
    "INT8 GEMM B fragment: second k half from the first|gemm_int8.cu|gemm_int8|      bf[j][1] = load_s32(&bs[s][c][16 + 4 * t]);|      bf[j][1] = load_s32(&bs[s][c][4 * t]);"
    "attention P fragments in the wrong registers|fused_attention.cu|fused_attention|    pa[kk][1] = pack_half2(s[2 * kk][2], s[2 * kk][3]);
    pa[kk][2] = pack_half2(s[2 * kk + 1][0], s[2 * kk + 1][1]);|    pa[kk][2] = pack_half2(s[2 * kk][2], s[2 * kk][3]);
    pa[kk][1] = pack_half2(s[2 * kk + 1][0], s[2 * kk + 1][1]);"
    "attention prefetch overwrites a stage other warps still read (no __syncthreads)|fused_attention.cu|fused_attention|    __syncthreads();  // this stage is read by everyone before the next prefetch overwrites it
|"
    "attention V loaded without .trans|fused_attention.cu|fused_attention|        ldmatrix_x4<true>(vb,|        ldmatrix_x4<false>(vb,"
    "INT8 wgmma tiles written without the 128-byte swizzle|gemm_int8.cu|gemm_int8|tile + r * kWBK + 16 * (c ^ (r & 7))|tile + r * kWBK + 16 * c"
    "INT8 wgmma copies one step further ahead (they overwrite a stage the wgmmas still read)|gemm_int8.cu|gemm_int8|kPrefetch = kStages - 1 - kInFlight;|kPrefetch = kStages - kInFlight;"
    "INT8 wgmma pair kernel leaves a step of wgmmas in flight (its copies overwrite their stage)|gemm_int8.cu|gemm_int8|    wgmma_wait<Wg::kInFlight>();|    wgmma_wait<1>();"
    "INT8 wgmma: both warpgroups read the first 64 rows of A|gemm_int8.cu|gemm_int8|a_tile(kt % Wg::kStages) + wg * 64 * kWBK;|a_tile(kt % Wg::kStages);"
    "INT8 GEMM paired store swaps its two columns|gemm_int8.cu|gemm_int8|OutPair<E>{x, y};|OutPair<E>{y, x};"
    "INT8 GEMM unpaired stores (odd N) put the second column's value in the first|gemm_int8.cu|gemm_int8|        out[at] = x;|        out[at] = y;"
    "INT8 GEMM int8 epilogue requantizes column col + 1 with col's scale|gemm_int8.cu|gemm_int8|const float inv1 = e.inv(col1);|const float inv1 = e.inv(col);"
    "attention wgmma: Q stored without the 128-byte swizzle|fused_attention.cu|fused_attention|qs + sw128_chunk(Tl::kQueries, r, c)) = v;|qs + (c >> 6) * Tl::kQueries * 128 + r * 128 + 2 * (c & 63)) = v;"
    "attention wgmma: two K/V stages (a refill overwrites V that a P V in flight reads)|fused_attention.cu|fused_attention|constexpr int kWgStages = 3;|constexpr int kWgStages = 2;"
    "attention wgmma: both warpgroups take the first 64 query rows|fused_attention.cu|fused_attention|qs + wg * 64 * 128;|qs;"
    "attention wgmma: V's 64-column sub-tiles at the wrong distance (leading byte offset)|fused_attention.cu|fused_attention|v_tile(st) + kk * 16 * 128, kN * 128)|v_tile(st) + kk * 16 * 128, 64 * 128)"
  )
  failures=0
  i=0
  for m in "${MUTATIONS[@]}"; do
    i=$((i + 1))
    IFS='|' read -r -d '' name file tests old new <<<"$m" || true
    new="${new%$'\n'}"
    dir="$BUILD/self-check/m$i"
    rm -rf "$dir/kernels"
    mkdir -p "$dir"
    cp -r "$KERNELS" "$dir/kernels"
    python3 - "$dir/kernels/$file" "$old" "$new" <<'PY'
import sys
path, old, new = sys.argv[1:4]
src = open(path).read()
n = src.count(old)
if n != 1:
    sys.exit(f"self-check: the mutation's text occurs {n} times in {path} (expected once): update run.sh")
open(path, "w").write(src.replace(old, new))
PY
    t0=$(now_ms)
    set +e
    FT4J_EMU_BUILD="$dir" FT4J_EMU_FAIL_FAST=1 bash "$HERE/run.sh" --quiet --kernels "$dir/kernels" --only "$tests" >"$dir/out.log" 2>&1
    rc=$?
    set -e
    secs=$(since "$t0")
    why=$( (grep -m1 '^  ' "$dir/out.log" || grep -m1 '^FAIL' "$dir/out.log") | sed 's/^ *//' | cut -c1-220 || true)
    if [[ $rc == 1 ]] && grep -q '^FAIL' "$dir/out.log" && ! grep -q 'build failed' "$dir/out.log"; then
      printf 'CAUGHT  mutation %d: %s (%s, %ss)\n        %s\n' "$i" "$name" "$tests" "$secs" "$why"
    else
      printf 'MISSED  mutation %d: %s: run.sh exited %d (log: %s)\n' "$i" "$name" "$rc" "$dir/out.log"
      failures=$((failures + 1))
    fi
  done
  total=$(since "$START")
  if [[ $failures -gt 0 ]]; then
    echo "kernel-emu self-check: $failures of ${#MUTATIONS[@]} mutations NOT caught (${total}s)"
    exit 1
  fi
  echo "kernel-emu self-check: all ${#MUTATIONS[@]} mutations caught (${total}s)"
  exit 0
fi

# ---- prepare the sources --------------------------------------------------------------------
python3 "$HERE/prep.py" --self-test
SRC="$BUILD/src"
BIN="$BUILD/bin"
LOGS="$BUILD/logs"
mkdir -p "$SRC" "$BIN" "$LOGS"
kernel_files=()
for t in "${TESTS[@]}"; do
  read -r -d '' -a files <<<"${KERNEL_OF[$t]}" || true  # one file, several (capi) or - (none)
  [[ "${files[0]}" != - ]] && kernel_files+=("${files[@]}")
done
[[ ${#kernel_files[@]} -gt 0 ]] && python3 "$HERE/prep.py" "$KERNELS" "$SRC" "${kernel_files[@]}"
for t in "${TESTS[@]}"; do
  for f in ${NATIVE_OF[$t]:-}; do
    python3 "$HERE/prep.py" "$REPO/native/$(dirname "$f")" "$SRC" "$(basename "$f")"
  done
done
test_files=(emu_selftest.cu)
for t in "${TESTS[@]}"; do test_files+=("test_${SOURCE_OF[$t]:-$t}.cpp"); done
python3 "$HERE/prep.py" "$HERE/tests" "$SRC" "${test_files[@]}"

# ---- build (each test is one translation unit: test + the kernel source it includes) -----------
build_one() {
  local t=$1
  local src="$SRC/test_${SOURCE_OF[$t]:-$t}.cpp"
  local flags="$CXXFLAGS ${FLAGS_OF[$t]:-}"
  local key
  # rebuilt when the compiler, the flags, the shim, the test headers, this test or any prepared
  # kernel file changes
  key=$( { echo "$CXX $flags $CXX_VERSION"; cat "$HERE"/shim/*.h "$HERE"/tests/*.h "$src";
           find "$SRC" -maxdepth 1 -type f ! -name 'test_*' ! -name '*.tmp' -print0 | LC_ALL=C sort -z |
             xargs -0 cat; } |
         sha256sum | cut -c1-32)
  if [[ -x "$BIN/test_$t" && "$(cat "$BIN/test_$t.key" 2>/dev/null)" == "$key" ]]; then
    return 0
  fi
  rm -f "$BIN/test_$t.key"
  # shellcheck disable=SC2086
  if ! "$CXX" $flags -I"$HERE/shim" -I"$SRC" -I"$HERE/tests" "$src" \
      -o "$BIN/test_$t" >"$LOGS/build_$t.log" 2>&1; then
    return 1
  fi
  echo "$key" >"$BIN/test_$t.key"
}

run_one() {
  local t=$1
  local rc=0
  if ! build_one "$t"; then
    echo build >"$LOGS/$t.rc"
    grep -m 8 -E ': (fatal )?error' "$LOGS/build_$t.log" | sed 's/^/  /' >"$LOGS/$t.log" || true
    return 0
  fi
  timeout "$TEST_TIMEOUT" "$BIN/test_$t" >"$LOGS/$t.log" 2>&1 || rc=$?
  echo "$rc" >"$LOGS/$t.rc"
}

running=0
for t in "${RUN_ORDER[@]}"; do
  [[ " ${TESTS[*]} " == *" $t "* ]] || continue
  rm -f "$LOGS/$t.rc" "$LOGS/$t.log"
  run_one "$t" 2>"$LOGS/$t.shell" &  # (bash's own "Segmentation fault" notice goes there)
  running=$((running + 1))
  if [[ $running -ge $JOBS ]]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait

# ---- report ---------------------------------------------------------------------------------
status=0
for t in "${TESTS[@]}"; do
  rc=$(cat "$LOGS/$t.rc" 2>/dev/null || echo 1)
  log="$LOGS/$t.log"
  if [[ $QUIET == 0 ]]; then
    grep '^SUMMARY ' "$log" 2>/dev/null | sed 's/^SUMMARY //' || true
    [[ -n "${FT4J_EMU_VERBOSE:-}" ]] && grep '^  worst at' "$log" 2>/dev/null || true
  fi
  if [[ "$rc" != 0 ]]; then
    status=1
    if [[ "$rc" == build ]]; then
      what="build failed"
      log="$LOGS/build_$t.log"
    elif [[ "$rc" == 124 ]]; then
      what="timed out after ${TEST_TIMEOUT}s"
    elif [[ "$rc" -gt 128 ]]; then
      sig=$((rc - 128))
      what="killed by signal $sig ($(kill -l "$sig" 2>/dev/null || echo '?'))"
      [[ $sig == 11 ]] && what+=": out-of-bounds access (guard page) or write to a kernel input"
    else
      what="exit status $rc"
    fi
    echo "FAIL test_$t: $what (log: $log)"
    grep -m 12 -E '^(MISMATCH|KNOWN-ISSUE|EMU|FAULT|FAIL|  |kernel-emu)' "$LOGS/$t.log" 2>/dev/null |
      sed 's/^/  /' | cut -c1-400 || true
  fi
done
total=$(since "$START")
if [[ $status == 0 ]]; then
  [[ $QUIET == 0 ]] && echo "kernel-emu: all ${#TESTS[@]} tests passed in ${total}s (build: $BUILD)"
else
  echo "kernel-emu: FAILED in ${total}s (logs: $LOGS)"
fi
exit $status
