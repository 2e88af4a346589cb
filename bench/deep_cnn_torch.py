"""PyTorch counterpart of `gradtop bench --scenario scenarios/fashion-deep-cnn.toml` (or, with
WORKLOAD=cifar10-cnn, of `scenarios/cifar10-cnn.toml`): the same network layer for layer, Adam
1e-3, cross-entropy, in training mode, batch 32, on synthetic data of the real shape (30 warm-up
steps, then STEPS timed steps, as gradtop's bench does).

fashion-deep-cnn: Conv2d(1, 32, 3) -> BatchNorm2d -> ReLU -> MaxPool2d(2) -> Conv2d(32, 64, 3) ->
BatchNorm2d -> ReLU -> MaxPool2d(2) -> Flatten -> Dropout(0.25) -> Linear(1600, 128) -> ReLU ->
Dropout(0.5) -> Linear(128, 10), on 1x28x28.
cifar10-cnn: Conv2d(3, 32, 3, padding=1) -> ReLU -> MaxPool2d(2) -> Conv2d(32, 64, 3, padding=1)
-> ReLU -> MaxPool2d(2) -> Flatten -> Dropout(0.3) -> Linear(4096, 128) -> ReLU ->
Linear(128, 10), on 3x32x32.

Usage: python3 bench/deep_cnn_torch.py   (WORKLOAD=…, STEPS=N, BATCH=N, PEER_THREADS=N; prints
one JSON line)
"""
import json, os, resource, time
import torch, torch.nn as nn

THREADS = int(os.environ.get("PEER_THREADS", "2"))
STEPS = int(os.environ.get("STEPS", "400"))
bs = int(os.environ.get("BATCH", "32"))
WORKLOAD = os.environ.get("WORKLOAD", "fashion-deep-cnn")
torch.set_num_threads(THREADS)
torch.manual_seed(0)

if WORKLOAD == "cifar10-cnn":
    shape = (3, 32, 32)
    m = nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.3), nn.Linear(64 * 8 * 8, 128), nn.ReLU(),
        nn.Linear(128, 10),
    )
else:
    shape = (1, 28, 28)
    m = nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.25), nn.Linear(64 * 5 * 5, 128), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(128, 10),
    )
m.train()
opt = torch.optim.Adam(m.parameters(), lr=1e-3)
lossf = nn.CrossEntropyLoss()
x = torch.rand(bs, *shape)
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
    "peer": "pytorch", "torch": torch.__version__, "workload": WORKLOAD, "batch": bs,
    "threads": THREADS, "steps": STEPS, "samples_per_sec": round(STEPS * bs / dt, 1),
    "ms_per_step": round(1e3 * dt / STEPS, 3),
    "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
}))
