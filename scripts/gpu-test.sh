#!/usr/bin/env bash
# Runs ft4j's GPU tests (JUnit tag "gpu") and compute-sanitizer memcheck over the kernel tests on a
# CUDA machine, then prints a summary. Exit status 0 only if every step passed.
#
# Layouts:
#  - a bundle made by `scripts/bundle.sh --with-tests` (jre/, lib/, test-classes/, junit/): needs
#    only an NVIDIA driver and the CUDA 13 libraries (cuBLAS) on the host;
#  - the repository after `mvn -B -DskipTests verify` (target/...), with a JDK on the PATH.
# The JUnit console launcher does not expand "dir/*" class-path entries: jars are listed one by one.
# Options (environment): FT4J_TEST_TAGS (default gpu; "all" runs CPU tests too), SANITIZE=0 to skip
# compute-sanitizer, FT4J_JAVA_OPTS for JVM options of the test run (e.g.
# -Dft4j.realModelFixture=FILE for RealModelGpuTest, see RealModelFixture), FT4J_TEST_SELECT for
# JUnit console selectors that replace the class-path scan (e.g. "--select-class
# org.ft4j.nativeapi.KernelGpuTest" to rerun one class).
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"

if [ -d "$root/test-classes" ]; then
  classes="$(ls "$root"/lib/*.jar | paste -sd: -)"
  tests="$root/test-classes"
  console="$(ls "$root"/junit/junit-platform-console-standalone-*.jar | head -n 1)"
else
  jar="$(ls "$root"/target/ft4j-*.jar 2>/dev/null | head -n 1)"
  [ -n "$jar" ] || { echo "gpu-test: build first: mvn -B -DskipTests verify" >&2; exit 2; }
  classes="$jar:$(ls "$root"/target/lib/*.jar | paste -sd: -)"
  tests="$root/target/test-classes"
  console="$(ls "$root"/target/junit/junit-platform-console-standalone-*.jar 2>/dev/null | head -n 1)"
  if [ -z "$console" ]; then
    (cd "$root" && mvn -B -q dependency:copy \
      -Dartifact=org.junit.platform:junit-platform-console-standalone:1.11.4 \
      -DoutputDirectory="$root/target/junit") || exit 2
    console="$(ls "$root"/target/junit/junit-platform-console-standalone-*.jar | head -n 1)"
  fi
fi
if [ -x "$root/jre/bin/java" ]; then java="$root/jre/bin/java"; else java="${JAVA_HOME:+$JAVA_HOME/bin/}java"; fi
for d in /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda-13.0/targets/x86_64-linux/lib; do
  [ -d "$d" ] && export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
done
out="${FT4J_TEST_OUT:-$root/gpu-test-results}"
mkdir -p "$out"

tags="${FT4J_TEST_TAGS:-gpu}"
tag_args=(--include-tag "$tags")
[ "$tags" = "all" ] && tag_args=()
selectors=(--scan-class-path "$tests" "${tag_args[@]}")
[ -n "${FT4J_TEST_SELECT:-}" ] && read -r -a selectors <<< "$FT4J_TEST_SELECT"

command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | sed 's/^/gpu: /'

echo "== JUnit (${FT4J_TEST_SELECT:-$tags tests})"
"$java" -Xss4m ${FT4J_JAVA_OPTS:-} -jar "$console" execute --disable-banner --details=summary \
  --class-path "$classes:$tests" "${selectors[@]}" \
  --reports-dir "$out/junit" 2>&1 | tee "$out/junit.log"
junit_status=${PIPESTATUS[0]}

sanitizer_status=0
sanitizer_lines=()
# run_sanitizer TOOL LOG SELECTORS...: one compute-sanitizer run over the selected tests
run_sanitizer() {
  local tool="$1" log="$2"; shift 2
  echo "== compute-sanitizer $tool over $*"
  "$sanitizer" --tool "$tool" --target-processes all --error-exitcode 9 \
    "$java" -Xss4m -jar "$console" execute --disable-banner --details=summary \
    --class-path "$classes:$tests" "$@" 2>&1 | tee "$out/$log"
  local status=${PIPESTATUS[0]}
  [ "$status" = 0 ] || sanitizer_status=$status
  sanitizer_lines+=("$tool: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$out/$log" | tail -n 1) (exit $status)")
}
if [ "${SANITIZE:-1}" != "0" ]; then
  sanitizer="$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -n 1)"
  if [ -n "$sanitizer" ]; then
    # memcheck: every kernel test (FP and INT8); racecheck (shared-memory hazards, slow): both
    # fused attentions (FP and int8) on both of their paths, and the offsets scan.
    run_sanitizer memcheck memcheck.log \
      --select-class org.ft4j.nativeapi.KernelGpuTest --select-class org.ft4j.nativeapi.FusedAttentionGpuTest \
      --select-class org.ft4j.nativeapi.Int8KernelGpuTest --select-class org.ft4j.nativeapi.Int8GemmGpuTest \
      --select-class org.ft4j.nativeapi.Int8AttentionGpuTest
    run_sanitizer racecheck racecheck.log \
      --select-method 'org.ft4j.nativeapi.FusedAttentionGpuTest#withoutBiasAndWithAnotherScale' \
      --select-method 'org.ft4j.nativeapi.FusedAttentionGpuTest#lengthsToOffsetsScansAnyBatch' \
      --select-method 'org.ft4j.nativeapi.Int8AttentionGpuTest#withoutBias'
  else
    sanitizer_lines+=("compute-sanitizer not found")
    sanitizer_status=3
  fi
else
  sanitizer_lines+=("compute-sanitizer skipped")
fi

echo
echo "== summary"
grep -E 'tests (successful|failed|skipped|aborted)' "$out/junit.log" | sed 's/^[^0-9]*/junit: /'
printf '%s\n' "${sanitizer_lines[@]}"
[ "$junit_status" = 0 ] && [ "$sanitizer_status" = 0 ]
