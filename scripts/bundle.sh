#!/usr/bin/env bash
# Builds a self-contained ft4j tarball for Linux x86_64 GPU hosts that have only an NVIDIA driver and
# the CUDA 13 libraries (libcudart.so.13, libcublas.so.13, libcublasLt.so.13): a jlink Java runtime,
# the jars, and launchers. No JDK and no Maven on the target.
#
#   scripts/bundle.sh [--with-tests] [--without-models] [--skip-build] [--archs "90a"] [--out DIR]
#
# Result: DIR/ft4j-<version>-linux-x86_64.tar.xz (default DIR: target), unpacking to ft4j/ with
#   bin/ft4j, bin/encoder_sample, bin/encoder_gemm, bin/gpu-test.sh, lib/*.jar, jre/
# --with-tests adds test-classes/ and the JUnit console launcher, for bin/gpu-test.sh.
# --without-models leaves out the embedded default models (MiniLM, BGE-small: ~220 MB of jars) and
#   their shipped INT8 scale sets; `ft4j embed` then needs --model DIR|FILE.
# The tokenizer jar keeps only its Linux x86_64 native library (the bundle's platform).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
with_tests=0
with_models=1
build=1
archs=""
out="$root/target"
while [ $# -gt 0 ]; do
  case "$1" in
    --with-tests) with_tests=1 ;;
    --without-models) with_models=0 ;;
    --skip-build) build=0 ;;
    --archs) archs="$2"; shift ;;
    --out) out="$2"; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "bundle: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

cd "$root"
if [ "$build" = 1 ]; then
  goals="package"
  [ "$with_tests" = 1 ] && goals="test-compile package"
  mvn -B -q -DskipTests ${archs:+-Dcuda.archs="$archs"} $goals
fi
version="$(ls target/ft4j-*.jar | grep -v -e sources -e javadoc | head -n 1 | sed 's/.*ft4j-\(.*\)\.jar/\1/')"
stage="$root/target/bundle/ft4j"
rm -rf "$root/target/bundle"
mkdir -p "$stage/bin" "$stage/lib"
cp "target/ft4j-$version.jar" target/lib/*.jar "$stage/lib/"
if [ "$with_models" = 0 ]; then
  rm -f "$stage"/lib/langchain4j-embeddings-*.jar
  # the INT8 scale sets shipped for those models (5 MB with their GPTQ weight rounding) go too
  if command -v python3 >/dev/null; then
    python3 - "$stage/lib/ft4j-$version.jar" <<'PY'
import os, sys, zipfile
jar = sys.argv[1]
tmp = jar + ".tmp"
with zipfile.ZipFile(jar) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
    for item in src.infolist():
        if not item.filename.startswith("int8-scales/"):
            dst.writestr(item, src.read(item.filename))
os.replace(tmp, jar)
PY
  fi
fi
# The tokenizer jar carries its native library for four platforms (~50 MB unpacked); this bundle is
# for Linux x86_64 only, so the other three go (about 13 MB less to carry to a GPU machine).
if command -v python3 >/dev/null; then
  for jar in "$stage"/lib/tokenizers-*.jar; do
    [ -f "$jar" ] || continue
    python3 - "$jar" <<'PY'
import os, re, sys, zipfile
jar = sys.argv[1]
tmp = jar + ".tmp"
other = re.compile(r"native/lib/(?!linux-x86_64/)[^/]+/")
with zipfile.ZipFile(jar) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
    for item in src.infolist():
        if not other.match(item.filename):
            dst.writestr(item, src.read(item.filename))
os.replace(tmp, jar)
PY
  done
fi
cp scripts/ft4j scripts/encoder_sample scripts/encoder_gemm scripts/gpu-test.sh "$stage/bin/"

jdk="${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")}"
modules="java.base,java.logging,java.xml,java.management,jdk.unsupported,jdk.incubator.vector"
found="$("$jdk/bin/jdeps" --print-module-deps --ignore-missing-deps --multi-release 17 \
  --class-path "$stage/lib/*" "$stage"/lib/*.jar 2>/dev/null | tail -n 1 || true)"
# jdeps prints warnings (split packages) on stdout too: keep its answer only if it is a module list
if [[ "$found" =~ ^[a-z][a-z0-9.]*(,[a-z][a-z0-9.]*)*$ ]]; then modules="$modules,$found"; fi
"$jdk/bin/jlink" --add-modules "$modules" --strip-debug --no-man-pages --no-header-files \
  --compress=0 --output "$stage/jre"

if [ "$with_tests" = 1 ]; then
  cp -r target/test-classes "$stage/test-classes"
  mvn -B -q dependency:copy -Dartifact=org.junit.platform:junit-platform-console-standalone:1.11.4 \
    -DoutputDirectory="$stage/junit"
fi

mkdir -p "$out"
tarball="$out/ft4j-$version-linux-x86_64.tar.xz"
tar -C "$root/target/bundle" -cJf "$tarball" ft4j
echo "$tarball ($(du -h "$tarball" | cut -f1)); modules: $modules"
