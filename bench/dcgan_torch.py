"""PyTorch counterpart of `gradtop bench dcgan`: the same small DCGAN on synthetic "real" images
uniform in [-1, 1], batch 64, Adam 2e-4 betas (0.5, 0.999), BCE with logits, one D and one G step
per iteration (D sees real and fake in one forward pass, as gradtop's does).

G: z(100) -> Linear -> (128, 7, 7) -> BN, ReLU -> ConvT 4x4/2 -> (64, 14, 14) -> BN, ReLU
   -> ConvT 4x4/2 -> (1, 28, 28) -> tanh
D: Conv 4x4/2 -> (64, 14, 14), LeakyReLU 0.2 -> Conv 4x4/2 -> (128, 7, 7), LeakyReLU 0.2
   -> Linear -> 1 logit

Usage: python3 bench/dcgan_torch.py   (ITERS=N, PEER_THREADS=N; prints one JSON line)
"""
import json, os, resource, time
import torch, torch.nn as nn

THREADS = int(os.environ.get("PEER_THREADS", "2"))
ITERS = int(os.environ.get("ITERS", "200"))
WARMUP = 10
torch.set_num_threads(THREADS)
torch.manual_seed(0)
bs, z_dim = 64, 100

G = nn.Sequential(
    nn.Linear(z_dim, 128 * 7 * 7), nn.Unflatten(1, (128, 7, 7)), nn.BatchNorm2d(128), nn.ReLU(),
    nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.ReLU(),
    nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Tanh())
D = nn.Sequential(
    nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(64, 128, 4, 2, 1), nn.LeakyReLU(0.2),
    nn.Flatten(), nn.Linear(128 * 7 * 7, 1))
og = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999))
od = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999))
bce = nn.BCEWithLogitsLoss()
real = torch.rand(bs, 1, 28, 28) * 2 - 1
targets = torch.cat([torch.ones(bs, 1), torch.zeros(bs, 1)])
ones = torch.ones(bs, 1)

for it in range(WARMUP + ITERS):
    if it == WARMUP:
        t0 = time.perf_counter()
    fake = G(torch.randn(bs, z_dim))
    od.zero_grad()
    ld = bce(D(torch.cat([real, fake.detach()])), targets)
    ld.backward()
    od.step()
    og.zero_grad()
    lg = bce(D(fake), ones)
    lg.backward()
    og.step()
dt = time.perf_counter() - t0
print(json.dumps({
    "peer": "pytorch", "workload": "dcgan", "batch": bs, "threads": THREADS, "iterations": ITERS,
    "iterations_per_sec": round(ITERS / dt, 2), "ms_per_step": round(1e3 * dt / ITERS, 2),
    "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)}))
