"""PyTorch counterpart of `gradtop bench mlp`: the classifier MLP 784 -> 256 -> 128 -> 10 with ReLU,
Adam 1e-3, cross-entropy, batch 32, on synthetic data of the real shape (30 warm-up steps, then
STEPS timed steps, as gradtop's bench does).

Usage: python3 bench/mlp_torch.py   (STEPS=N, BATCH=N, PEER_THREADS=N; prints one JSON line)
"""
import json, os, resource, time
import torch, torch.nn as nn

THREADS = int(os.environ.get("PEER_THREADS", "2"))
STEPS = int(os.environ.get("STEPS", "400"))
bs = int(os.environ.get("BATCH", "32"))
torch.set_num_threads(THREADS)
torch.manual_seed(0)

m = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                  nn.Linear(128, 10))
opt = torch.optim.Adam(m.parameters(), lr=1e-3)
lossf = nn.CrossEntropyLoss()
x = torch.rand(bs, 1, 28, 28)
y = torch.randint(0, 10, (bs,))


def step():
    opt.zero_grad()
    loss = lossf(m(x), y)
    loss.backward()
    opt.step()


for _ in range(30):
    step()
t0 = time.perf_counter()
for _ in range(STEPS):
    step()
dt = time.perf_counter() - t0
print(json.dumps({
    "peer": "pytorch", "torch": torch.__version__, "workload": "mlp", "batch": bs,
    "threads": THREADS, "steps": STEPS, "samples_per_sec": round(STEPS * bs / dt, 1),
    "ms_per_step": round(1e3 * dt / STEPS, 3),
    "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)}))
