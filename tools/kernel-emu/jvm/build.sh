#!/usr/bin/env bash
# Builds kernel-emu's JVM mode (README.md in this folder): libft4j-emu.so = the C API of libft4j
# over every kernel on the CPU emulator + a fake CUDA runtime + a fake cuBLASLt, and the empty
# stand-ins of the driver and cuBLAS libraries that the JavaCPP presets' JNI libraries name.
#   tools/kernel-emu/jvm/build.sh [OUT_DIR]      (default: $FT4J_EMU_BUILD/jvm, /tmp/ft4j-kernel-emu/jvm)
# Needs g++ (C++17), python3 and the CUDA runtime headers (the CUDA toolkit's include folder, for
# fake_cudart.cpp only: $CUDA_HOME/include, default /usr/local/cuda/include).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
EMU="$(dirname "$HERE")"
REPO="$(cd "$EMU/../.." && pwd)"
OUT="${1:-${FT4J_EMU_BUILD:-/tmp/ft4j-kernel-emu}/jvm}"
CUDA_INC="${CUDA_HOME:-/usr/local/cuda}/include"
CXX="${CXX:-g++}"
mkdir -p "$OUT/src" "$OUT/lib"
[[ -f "$CUDA_INC/cuda_runtime_api.h" ]] || { echo "build.sh: no CUDA headers in $CUDA_INC (set CUDA_HOME)" >&2; exit 1; }

python3 "$EMU/prep.py" "$REPO/kernels" "$OUT/src" activation.cu attention.cu convert.cu embedding.cu \
  fused_attention.cu gemm_int8.cu layernorm.cu padding.cu pooling.cu quantize.cu
python3 "$EMU/prep.py" "$REPO/native/src" "$OUT/src" ft4j.cpp
python3 "$EMU/prep.py" "$REPO/native/include" "$OUT/src" ft4j.h

FLAGS="-std=c++17 -O1 -g -fPIC -Wall -Wno-unknown-pragmas"
objs=()
compile() {  # source, object, extra flags
  local src=$1 obj=$2; shift 2
  if [[ ! -f "$obj" || "$src" -nt "$obj" || -n "$(find "$OUT/src" "$EMU/shim" -newer "$obj" -print -quit)" ]]; then
    # shellcheck disable=SC2086
    "$CXX" $FLAGS "$@" -c "$src" -o "$obj"
  fi
  objs+=("$obj")
}
# the kernels on the emulator: sm_90 device code (tensor-core paths), the emulator's CUDA stand-ins
compile "$HERE/libft4j_emu.cpp" "$OUT/libft4j_emu.o" -fvisibility=hidden -D__CUDA_ARCH__=800 -DFT4J_HAS_SM90A \
  -I"$EMU/shim" -I"$OUT/src"
compile "$HERE/fake_cudart.cpp" "$OUT/fake_cudart.o" -I"$CUDA_INC"
[[ -f "$HERE/fake_cublaslt.cpp" ]] && compile "$HERE/fake_cublaslt.cpp" "$OUT/fake_cublaslt.o"
"$CXX" -shared -o "$OUT/lib/libft4j-emu.so" "${objs[@]}" -lpthread

# Empty libraries under the names the JNI libraries need (their symbols come from the preload).
echo 'int kernel_emu_stub;' > "$OUT/stub.c"
for name in libcuda.so.1 libcublas.so.13 libcublasLt.so.13; do
  gcc -shared -fPIC "$OUT/stub.c" -o "$OUT/lib/$name"
done
echo "$OUT/lib"
