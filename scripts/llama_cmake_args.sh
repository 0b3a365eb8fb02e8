#!/usr/bin/env bash
# CMAKE_ARGS for compiling llama.cpp's bindings on this machine: the x86-64 vector extensions its CPU has,
# named one by one. Not -march=native: that also turns on AMX, whose tile instructions die here with an
# illegal instruction in llama.cpp's worker threads although the CPU lists them.
set -euo pipefail
flags=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2) "
args="-DGGML_NATIVE=OFF"
has() { [[ "$flags" == *" $1 "* ]]; }
for pair in avx:AVX avx2:AVX2 fma:FMA f16c:F16C bmi2:BMI2 avx_vnni:AVX_VNNI avx512f:AVX512 \
            avx512vbmi:AVX512_VBMI avx512_vnni:AVX512_VNNI avx512_bf16:AVX512_BF16; do
  if has "${pair%%:*}"; then args+=" -DGGML_${pair##*:}=ON"; else args+=" -DGGML_${pair##*:}=OFF"; fi
done
echo "$args"
