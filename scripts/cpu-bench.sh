#!/usr/bin/env bash
# CPU embedding throughput: ft4j's float32 CPU encoder vs ONNX Runtime vs the float64 reference
# (org.ft4j.bench.CpuBench, in the test classes because ONNX Runtime is a test dependency).
#   scripts/cpu-bench.sh [minilm|bge-small] [batch,...] [texts.jsonl]
#   scripts/cpu-bench.sh gemm [rows,...]   the GEMM alone (org.ft4j.cpu.CpuGemmBench): GFLOP/s of
#                                           BERT-family projections on one thread and on the pool
# Needs a built checkout (mvn -B verify, or mvn -B -DskipTests test-compile). FT4J_JAVA_OPTS adds
# JVM options (e.g. -Dft4j.cpu.kernels=scalar to time the plain-Java kernels); FT4J_JAVA names the
# java command (default: java on the PATH), e.g. a JDK 25 one.
set -euo pipefail
cd "$(dirname "$0")/.."
cp=target/test-classpath.txt
if [ ! -s "$cp" ] || [ pom.xml -nt "$cp" ]; then
  mvn -B -q dependency:build-classpath -Dmdep.outputFile="$cp" -Dmdep.includeScope=test >&2
fi
main=org.ft4j.bench.CpuBench
if [ "${1:-}" = gemm ]; then
  main=org.ft4j.cpu.CpuGemmBench
  shift
fi
exec "${FT4J_JAVA:-java}" --add-modules jdk.incubator.vector ${FT4J_JAVA_OPTS:-} \
  -cp "target/test-classes:target/classes:$(cat "$cp")" "$main" "$@"
