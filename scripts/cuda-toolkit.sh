#!/usr/bin/env bash
# Installs the CUDA 13.0 toolkit that `cargo build --features cuda` needs, from NVIDIA's Python
# wheels (no driver, no GPU and no root needed to compile), and prints the environment to use
# it as `export` lines:
#
#     eval "$(bash scripts/cuda-toolkit.sh)" && cargo build --release --features cuda
#
# The toolkit goes to $GRADTOP_CUDA_ROOT (default ~/.cache/gradtop/cuda-13.0) and is installed
# once; what is already there is reused. Progress goes to stderr, the exports to stdout.
#
# The wheels ship the compiler, headers and the runtime libraries but not the driver's
# libcuda.so, which candle links against: a stub with every `cu*` entry point of cuda.h (each
# returning CUDA_ERROR_UNKNOWN) is built into lib64/stubs for linking only. A GPU box runs the
# binary with its driver's libcuda.so.1 and these runtime libraries on LD_LIBRARY_PATH.
set -euo pipefail

root="${GRADTOP_CUDA_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/gradtop/cuda-13.0}"
# Pinned together: pip otherwise pulls newer crt and nvvm that this nvcc cannot use.
wheels=(
  nvidia-cuda-nvcc==13.0.88
  nvidia-cuda-runtime==13.0.88
  nvidia-cuda-cccl==13.0.85
  nvidia-cuda-crt==13.0.88
  nvidia-cuda-nvrtc==13.0.88
  nvidia-nvvm==13.0.88
  nvidia-cublas==13.0.2.14
  nvidia-curand==10.4.0.35
)
say() { echo "cuda-toolkit: $*" >&2; }

toolkit="$root/pip/nvidia/cu13"
if [[ ! -f "$root/.complete" ]]; then
  command -v python3 >/dev/null || { say "python3 with pip is needed to fetch the wheels"; exit 1; }
  command -v cc >/dev/null || { say "a C compiler (cc) is needed to build the libcuda stub"; exit 1; }
  say "installing the CUDA 13.0 wheels into $root (about 1.2 GB)"
  mkdir -p "$root"
  # --target keeps the wheels out of the system Python, so a distribution's "externally
  # managed" guard does not apply.
  PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --quiet --disable-pip-version-check --no-deps \
    --target "$root/pip" "${wheels[@]}" >&2

  # The layout CUDA build scripts expect: bin/, include/, nvvm/ and lib64/ with unversioned
  # names for the libraries that are linked.
  ln -sfn lib "$toolkit/lib64"
  for lib in cudart cublas cublasLt curand nvrtc; do
    versioned=$(cd "$toolkit/lib" && ls "lib$lib.so."* | grep -v builtins | grep -v '\.alt\.' | head -1)
    ln -sfn "$versioned" "$toolkit/lib/lib$lib.so"
  done

  say "building the libcuda stub"
  mkdir -p "$toolkit/lib/stubs"
  stub_c="$toolkit/lib/stubs/libcuda-stub.c"
  {
    echo "/* Every cu* entry point of cuda.h, for linking without a driver: each fails. */"
    # Both the names as written and as the header's version macros rename them (cuMemAlloc
    # and cuMemAlloc_v2): a binding may use either.
    { grep -oE '\bcu[A-Za-z0-9_]+\(' "$toolkit/include/cuda.h"
      cc -E -P -I "$toolkit/include" "$toolkit/include/cuda.h" | grep -oE '\bcu[A-Za-z0-9_]+\('
    } | tr -d '(' | sort -u | while read -r name; do
      echo "int $name(void) { return 999; }"
    done
  } > "$stub_c"
  cc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$toolkit/lib/stubs/libcuda.so.1" "$stub_c"
  ln -sfn libcuda.so.1 "$toolkit/lib/stubs/libcuda.so"
  touch "$root/.complete"
  say "done"
else
  say "using the toolkit in $root"
fi

echo "export CUDA_ROOT='$toolkit'"
echo "export CUDA_PATH='$toolkit'"
echo "export CUDA_TOOLKIT_ROOT_DIR='$toolkit'"
echo "export CUDA_COMPUTE_CAP='${CUDA_COMPUTE_CAP:-90}'"
echo "export PATH='$toolkit/bin':\"\$PATH\""
echo "export LIBRARY_PATH='$toolkit/lib/stubs:$toolkit/lib'\${LIBRARY_PATH:+:\$LIBRARY_PATH}"
echo "export LD_LIBRARY_PATH='$toolkit/lib'\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
