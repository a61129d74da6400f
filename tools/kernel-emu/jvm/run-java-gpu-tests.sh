#!/usr/bin/env bash
# Runs ft4j's GPU tests (JUnit tag "gpu") on the CPU: the JVM gets libft4j-emu.so preloaded (the
# C API over the emulated kernels, a fake CUDA runtime and cuBLASLt; README.md in this folder), so
# the Java GPU paths run for real against host memory. Not a GPU result: no timing, and cuBLASLt
# and the tensor cores are models.
#   tools/kernel-emu/jvm/run-java-gpu-tests.sh [JUnit console selectors...]
#   (default: --include-tag gpu --scan-class-path; e.g. --select-class org.ft4j.nativeapi.KernelGpuTest)
# Needs a built checkout (mvn -B -DskipTests verify, or any verify: target/classes, target/test-classes)
# and the dependency jars (target/lib, or ~/.m2 through `mvn dependency:build-classpath`).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../../.." && pwd)"
LIB="$(bash "$HERE/build.sh" | tail -n 1)"
cd "$REPO"
if ls target/lib/*.jar >/dev/null 2>&1; then
  deps="$(ls target/lib/*.jar | paste -sd: -)"
else
  mvn -B -q -o dependency:build-classpath -Dmdep.outputFile=target/kernel-emu-cp.txt >/dev/null
  deps="$(cat target/kernel-emu-cp.txt)"
fi
console="$(ls target/junit/junit-platform-console-standalone-*.jar 2>/dev/null | head -n 1 || true)"
[[ -n "$console" ]] || console="$(ls ~/.m2/repository/org/junit/platform/junit-platform-console-standalone/*/junit-platform-console-standalone-*.jar | head -n 1)"
selectors=("$@")
[[ ${#selectors[@]} -gt 0 ]] || selectors=(--include-tag gpu --scan-class-path target/test-classes)
LD_PRELOAD="$LIB/libft4j-emu.so" LD_LIBRARY_PATH="$LIB" \
  java -Xss4m -Djava.library.path="$LIB" ${FT4J_JAVA_OPTS:-} -jar "$console" execute --disable-banner \
  --details=summary --class-path "target/test-classes:target/classes:$deps" "${selectors[@]}"
