"""Replays a `gradtop trace` in PyTorch and compares the two step by step.

    gradtop trace scenarios/fashion-cnn.toml --steps 100 --out /tmp/trace
    python3 bench/parity_torch.py /tmp/trace            # needs torch, safetensors

The trace holds gradtop's initial weights, the training-set indices of every batch (and, for
the GAN, every noise batch) and, at the dumped steps, every gradient, Adam's moments and the
weights after the step. This script loads the same weights into the same model in PyTorch,
trains on the same batches with torch.optim.Adam, and after each dumped step prints the
largest absolute and relative difference per tensor (relative: max |gradtop − torch| over
max |torch|, so a tensor of near-zeros does not blow it up). Float32 rounding alone gives
relative differences around 1e-6 after one step and a slow drift after that; anything near
1e-2 is a real difference in the math. Exit status 1 when step 1 differs by more than 1e-4.
"""
import argparse, gzip, json, os, struct, sys

import torch
import torch.nn as nn
from safetensors.torch import load_file


def read_idx(data_dir, stem):
    """The IDX file `stem` (e.g. train-images-idx3-ubyte) of `data_dir`, gzip'd or raw, as
    bytes after its header: images (n, 1, rows, cols) or labels (n,)."""
    for name in (stem + ".gz", stem):
        path = os.path.join(data_dir, name)
        if os.path.exists(path):
            opener = gzip.open if name.endswith(".gz") else open
            with opener(path, "rb") as f:
                raw = f.read()
            magic, n = struct.unpack(">II", raw[:8])
            if magic == 2051:
                rows, cols = struct.unpack(">II", raw[8:16])
                return torch.frombuffer(bytearray(raw[16:]), dtype=torch.uint8).view(n, 1, rows, cols)
            if magic == 2049:
                return torch.frombuffer(bytearray(raw[8:]), dtype=torch.uint8).long()
            sys.exit(f"{path}: not an IDX image or label file (magic {magic})")
    sys.exit(f"{data_dir}: no {stem}(.gz)")


def cnn():
    model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(32 * 13 * 13, 128), nn.ReLU(), nn.Linear(128, 10))
    return model, {"conv1": "0", "fc1": "4", "fc2": "6"}


def mlp():
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128),
                          nn.ReLU(), nn.Linear(128, 10))
    return model, {"fc1": "1", "fc2": "3", "fc3": "5"}


def gan_networks(z_dim):
    g = nn.Sequential(nn.Linear(z_dim, 256), nn.LeakyReLU(0.2), nn.Linear(256, 512),
                      nn.LeakyReLU(0.2), nn.Linear(512, 784), nn.Tanh())
    d = nn.Sequential(nn.Linear(784, 512), nn.LeakyReLU(0.2), nn.Linear(512, 256),
                      nn.LeakyReLU(0.2), nn.Linear(256, 1))
    layers = {"fc1": "0", "fc2": "2", "fc3": "4"}
    return g, d, layers


class Net:
    """One torch network, its Adam, and the names gradtop gives its weights, gradients and moments."""

    def __init__(self, model, layers, weight_prefix, adam_prefix, var_prefix, lr, trace, dtype):
        self.model = model.to(dtype)
        self.weight_prefix, self.adam_prefix, self.dtype = weight_prefix, adam_prefix, dtype
        params = dict(self.model.named_parameters())
        # gradtop's variable name (e.g. "g.fc1.weight") -> the torch parameter
        self.vars = {f"{var_prefix}{ours}.{leaf}": params[f"{theirs}.{leaf}"]
                     for ours, theirs in layers.items() for leaf in ("weight", "bias")}
        self.opt = torch.optim.Adam(self.model.parameters(), lr=lr, betas=(trace["beta1"], trace["beta2"]),
                                    eps=trace["eps"])
        self.grads = {}

    def load(self, tensors):
        with torch.no_grad():
            for name, p in self.vars.items():
                p.copy_(tensors[self.weight_prefix + name].to(self.dtype))

    def step(self, loss):
        """Backward and one Adam step, keeping the gradients for comparison."""
        self.opt.zero_grad()
        loss.backward()
        self.grads = {name: p.grad.detach().clone() for name, p in self.vars.items()}
        self.opt.step()

    def snapshot(self, out):
        """Weights, gradients and moments under the names gradtop's trace gives them."""
        for name, p in self.vars.items():
            state = self.opt.state[p]
            out[self.weight_prefix + name] = p.detach().clone()
            out["grad." + self.weight_prefix + name] = self.grads[name]
            out[f"{self.adam_prefix}m.{name}"] = state["exp_avg"].clone()
            out[f"{self.adam_prefix}v.{name}"] = state["exp_avg_sq"].clone()


def kind_of(key):
    if key.startswith("grad."):
        return "grad"
    if ".m." in key and key.startswith("adam"):
        return "adam m"
    if ".v." in key and key.startswith("adam"):
        return "adam v"
    return "input" if key.startswith("input.") else "weight"


def difference(ours, theirs):
    ours, theirs = ours.double(), theirs.double()
    abs_diff = (ours - theirs).abs().max().item()
    scale = theirs.abs().max().item()
    return abs_diff, abs_diff / scale if scale > 0 else (0.0 if abs_diff == 0 else float("inf"))


WHATS = ("grad", "adam m", "adam v", "weight")


def compare(ours, theirs):
    """Per tensor (name, kind, max |Δ|, relative) for every tensor both hold."""
    return [(key, kind_of(key), *difference(ours[key], theirs[key])) for key in theirs if key in ours]


def worst_of(rows, what):
    return max((r[3] for r in rows if r[1] == what), default=0.0)


def check_init(tensors, names):
    """gradtop draws its own initial weights: check them against PyTorch's default, U(±1/√fan_in)."""
    print("initial weights against PyTorch's default U(±1/√fan_in): bound, max |w|, std / (bound/√3)")
    for name in names:
        w = tensors[name]
        fan_in = tensors[name.rsplit(".", 1)[0] + ".weight"][0].numel()
        bound = fan_in ** -0.5
        spread = f"{w.std().item() / (bound / 3 ** 0.5):.3f}" if w.numel() > 1 else "—"
        print(f"    {name:<28} {bound:.5f}  {w.abs().max().item():.5f}  {spread}")


def check_batches(steps, train_size):
    seen, repeats = set(), 0
    for entry in steps:
        for i in entry["indices"]:
            repeats += i in seen
            seen.add(i)
    print(f"batches: {sum(len(e['indices']) for e in steps)} indices, {len(seen)} distinct "
          f"({len(seen) / train_size:.1%} of the training set), {repeats} repeated")


def replay_classifier(trace, folder, images, labels, dtype):
    """Yields (step, losses, tensors) after every dumped step."""
    model, layers = {"cnn": cnn, "mlp": mlp}[trace["model"]]()
    net = Net(model, layers, "", "adam.", "", trace["lr"], trace, dtype)
    net.load(load_file(os.path.join(folder, "init.safetensors")))
    lossf = nn.CrossEntropyLoss()
    for entry in trace["steps"]:
        idx = torch.tensor(entry["indices"], dtype=torch.long)
        x = images[idx].to(dtype).div(255)
        loss = lossf(net.model(x), labels[idx])
        net.step(loss)
        if entry["step"] in trace["dumps"]:
            tensors = {"input.images": x}
            net.snapshot(tensors)
            yield entry["step"], {"loss": loss.item()}, tensors


def replay_gan(trace, folder, images, labels, dtype):
    """Yields (step, losses, tensors) after every dumped iteration."""
    g, d, layers = gan_networks(trace["z_dim"])
    gen = Net(g, layers, "generator.", "adam_g.", "g.", trace["lr_g"], trace, dtype)
    disc = Net(d, layers, "discriminator.", "adam_d.", "d.", trace["lr_d"], trace, dtype)
    init = load_file(os.path.join(folder, "init.safetensors"))
    gen.load(init), disc.load(init)
    bce = nn.BCEWithLogitsLoss()
    for entry in trace["steps"]:
        step, idx = entry["step"], torch.tensor(entry["indices"], dtype=torch.long)
        dumped = step in trace["dumps"]
        name = f"step-{step:06}.safetensors" if dumped else f"noise-{step:06}.safetensors"
        z = load_file(os.path.join(folder, name))["input.noise"].to(dtype)
        real = images[idx].to(dtype).div(127.5).sub(1).view(-1, 784)
        fake = gen.model(z)
        d_real, d_fake = disc.model(real), disc.model(fake.detach())
        ld = bce(d_real, torch.full_like(d_real, trace["label_smoothing"])) + bce(d_fake, torch.zeros_like(d_fake))
        disc.step(ld)
        out = disc.model(fake)
        lg = bce(out, torch.ones_like(out))
        gen.step(lg)
        if dumped:
            tensors = {}
            disc.snapshot(tensors)
            gen.snapshot(tensors)
            yield step, {"d_loss": ld.item(), "g_loss": lg.item()}, tensors


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("trace", help="folder written by `gradtop trace`")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", metavar="FILE", help="also write the comparison as JSON")
    parser.add_argument("--verbose", action="store_true", help="every tensor at every dumped step")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with open(os.path.join(args.trace, "trace.json")) as f:
        trace = json.load(f)
    images = read_idx(trace["data_dir"], "train-images-idx3-ubyte")
    labels = read_idx(trace["data_dir"], "train-labels-idx1-ubyte")
    print(f"{trace['kind']} {trace['model']} on {trace['dataset']}, {len(trace['steps'])} steps, "
          f"gradtop kernels {trace['kernels']}, torch {torch.__version__}, {args.threads} threads")
    init = load_file(os.path.join(args.trace, "init.safetensors"))
    if trace["kind"] == "classifier":
        replay, lr = replay_classifier, trace["lr"]
        check_init(init, [k for k in init if not k.startswith("adam")])
    else:
        replay, lr = replay_gan, min(trace["lr_g"], trace["lr_d"])
        check_init(init, [k for k in init if k.startswith(("generator.", "discriminator."))])
    check_batches(trace["steps"], len(images))
    print()
    print("gradtop against PyTorch float32: worst relative difference per kind of tensor")
    print("(max |gradtop − torch| / max |torch|) and the largest weight difference in units of lr.")
    print("The float64 columns measure drift against PyTorch in float64: gradtop's and PyTorch")
    print("float32's own, side by side: float32 rounding alone makes them of one size.")
    print(f"{'step':>6}  " + "  ".join(f"{w:>9}" for w in WHATS) + f"  {'Δw / lr':>9}  "
          f"{'gt vs f64':>9}  {'pt vs f64':>9}  losses gradtop / torch")
    results, first = [], None
    runs = zip(replay(trace, args.trace, images, labels, torch.float32),
               replay(trace, args.trace, images, labels, torch.float64))
    for (step, losses, t32), (_, _, t64) in runs:
        ours = load_file(os.path.join(args.trace, f"step-{step:06}.safetensors"))
        rows = compare(ours, t32)
        worst = {w: worst_of(rows, w) for w in WHATS}
        weight_in_lr = max((r[2] for r in rows if r[1] == "weight"), default=0.0) / lr
        ours_vs_64 = worst_of(compare(ours, t64), "weight")
        torch_vs_64 = worst_of(compare(t32, t64), "weight")
        loss_text = "  ".join(f"{k} {trace['steps'][step - 1][k]:.7g} / {v:.7g}" for k, v in losses.items())
        print(f"{step:>6}  " + "  ".join(f"{worst[w]:>9.2e}" for w in WHATS) +
              f"  {weight_in_lr:>9.2e}  {ours_vs_64:>9.2e}  {torch_vs_64:>9.2e}  {loss_text}")
        if args.verbose:
            for name, what, a, r in rows:
                print(f"        {name:<34} {what:<7} max|Δ| {a:.3e}  rel {r:.3e}")
        results.append({"step": step, "losses_torch": losses, "worst_relative": worst,
                        "weight_diff_in_lr": weight_in_lr, "weights_vs_float64": {"gradtop": ours_vs_64,
                                                                                "torch_float32": torch_vs_64},
                        "tensors": [{"name": n, "what": w, "max_abs": a, "relative": r} for n, w, a, r in rows]})
        first = first or (worst, weight_in_lr)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"trace": args.trace, "torch": torch.__version__, "steps": results}, f, indent=1)
    if first is None:
        return
    worst, weight_in_lr = first
    math = max(worst[w] for w in ("grad", "adam m", "adam v"))
    # Adam's first step moves a weight by lr·g/(|g| + ε): where |g| is near ε (1e-8), a rounding
    # difference in g moves the weight by a visible fraction of lr, so weights get their own bound.
    if math > 1e-4 or weight_in_lr > 0.05:
        print(f"step 1 differs: gradients/moments {math:.2e} (bound 1e-4), weights {weight_in_lr:.2e} lr (bound 0.05)")
        sys.exit(1)
    print(f"step 1 agrees: gradients and moments within {math:.1e}, weights within {weight_in_lr:.1e} lr")


if __name__ == "__main__":
    main()
