#!/usr/bin/env bash
# A prepared check of gradtop on an NVIDIA GPU box, in one run of a few minutes: the CUDA
# build (or a binary given in $GRADTOP_BIN), `gradtop bench` on the GPU and on the CPU, one
# Fashion-MNIST epoch of the seed CNN on the GPU at batch 32 and 512, the portable-path tests,
# and the same CNN epoch in PyTorch on the same GPU when torch is installed. Everything goes
# under $OUT (default ./gpu-check-out); summary.txt says what ran and what did not.
#
#     bash scripts/gpu-check.sh                 # builds with scripts/cuda-toolkit.sh first
#     GRADTOP_BIN=path/to/gradtop bash scripts/gpu-check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/gpu-check-out}"
mkdir -p "$OUT"
say() { echo "gpu-check: $*" | tee -a "$OUT/summary.txt" >&2; }
# Runs a step with a time limit, its output in $OUT/NAME, and says how it ended.
step() {
  local name=$1 limit=$2
  shift 2
  local start=$SECONDS
  timeout "$limit" "$@" >"$OUT/$name" 2>"$OUT/$name.err"
  say "$name: exit $? in $((SECONDS - start)) s"
}

nvidia-smi >"$OUT/nvidia-smi.txt" 2>&1 || say "nvidia-smi failed: see nvidia-smi.txt"
eval "$(bash scripts/cuda-toolkit.sh 2>>"$OUT/toolkit.err")" || say "the CUDA toolkit could not be installed (toolkit.err)"
bin="${GRADTOP_BIN:-}"
if [[ -z "$bin" ]]; then
  step build.log 400 env CARGO_TARGET_DIR=target/cuda cargo build --release --features cuda
  bin=target/cuda/release/gradtop
fi
[[ -x "$bin" ]] || { say "no gradtop binary at $bin"; exit 1; }

step bench-cuda.jsonl 120 "$bin" bench all --device cuda --json
step bench-cpu.jsonl 120 "$bin" bench all --device cpu --json
for batch in 32 512; do
  step "fashion-cnn-cuda-b$batch.jsonl" 150 "$bin" train scenarios/fashion-cnn.toml --headless \
    --json --device cuda --set epochs=1 --set "batch_size=$batch" --runs-dir "$OUT/runs"
done
step portable-tests.txt 240 env CARGO_TARGET_DIR=target/cuda \
  cargo test --release --features cuda --test portable

if python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  for batch in 32 512; do
    step "fashion-cnn-torch-cuda-b$batch.json" 150 env BATCH="$batch" python3 - <<'PY'
# The seed CNN (Conv32 3×3 → MaxPool2 → Dense128 → Dense10, Adam 1e-3) for one epoch of
# Fashion-MNIST on the GPU: the PyTorch counterpart of the gradtop epoch above.
import gzip, json, os, time, numpy as np, torch, torch.nn as nn
def idx(path):
    raw = open(path, "rb").read() if not path.endswith(".gz") else gzip.open(path).read()
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(raw[3])]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * len(dims)).reshape(dims)
base = "/usr/share/datasets/fashion-mnist/"
pick = lambda stem: base + stem if os.path.exists(base + stem) else base + stem + ".gz"
x = torch.tensor(idx(pick("train-images-idx3-ubyte")), dtype=torch.float32).div(255).unsqueeze(1).cuda()
y = torch.tensor(idx(pick("train-labels-idx1-ubyte")), dtype=torch.long).cuda()
xt = torch.tensor(idx(pick("t10k-images-idx3-ubyte")), dtype=torch.float32).div(255).unsqueeze(1).cuda()
yt = torch.tensor(idx(pick("t10k-labels-idx1-ubyte")), dtype=torch.long).cuda()
bs = int(os.environ["BATCH"]); torch.manual_seed(0)
model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                      nn.Linear(32 * 13 * 13, 128), nn.ReLU(), nn.Linear(128, 10)).cuda()
opt = torch.optim.Adam(model.parameters(), 1e-3); loss_fn = nn.CrossEntropyLoss()
torch.cuda.synchronize(); start = time.time()
for i in torch.randperm(len(x), device="cuda").split(bs):
    opt.zero_grad(); loss_fn(model(x[i]), y[i]).backward(); opt.step()
torch.cuda.synchronize(); wall = time.time() - start
with torch.no_grad(): acc = (model(xt).argmax(1) == yt).float().mean().item()
print(json.dumps({"batch": bs, "wall_s": wall, "samples_per_sec": len(x) / wall, "test_accuracy": acc}))
PY
  done
else
  say "PyTorch with CUDA is not installed here: no PyTorch counterpart"
fi
say "done: $OUT"
