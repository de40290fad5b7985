"""Training throughput of the same VAE and DCGAN as pipe's train-vae / train-gan, in PyTorch.

Usage: python3 torch_train.py <vae|gan> <batch> <steps> <threads> <filters> [cuda]
Prints one JSON line: {"model", "batch", "images_per_second", "device", "torch"}.
"""
import json
import sys
import time

import torch
from torch import nn

model, batch, steps, threads, filters = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
device = "cuda" if len(sys.argv) > 6 and sys.argv[6] == "cuda" else "cpu"
torch.set_num_threads(threads)
torch.manual_seed(0)
size = 64


class Vae(nn.Module):
    """train-vae: two stride-2 4x4 convs (16, 32), dense heads to mu/logvar (latent 16), mirrored decoder."""

    def __init__(self, latent=16, f=(16, 32)):
        super().__init__()
        q = size // 4
        self.enc = nn.Sequential(nn.Conv2d(1, f[0], 4, 2, 1), nn.ReLU(), nn.Conv2d(f[0], f[1], 4, 2, 1), nn.ReLU(), nn.Flatten())
        self.mu = nn.Linear(q * q * f[1], latent)
        self.logvar = nn.Linear(q * q * f[1], latent)
        self.dec = nn.Sequential(
            nn.Linear(latent, q * q * f[1]), nn.ReLU(), nn.Unflatten(1, (f[1], q, q)),
            nn.ConvTranspose2d(f[1], f[0], 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(f[0], 1, 4, 2, 1), nn.Sigmoid())

    def loss(self, x):
        h = self.enc(x)
        mu, logvar = self.mu(h), self.logvar(h)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        xhat = self.dec(z).clamp(1e-7, 1 - 1e-7)
        rec = nn.functional.binary_cross_entropy(xhat, x, reduction="sum") / x.shape[0]
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / x.shape[0]
        return rec + kl


def gan(f, noise=64):
    """train-gan: dense -> 4x4x8f -> transposed convs with BN/ReLU -> 64x64 tanh; D: stride-2 convs, BN, leaky ReLU, one logit."""
    w = [8 * f, 4 * f, 2 * f, f]
    g = [nn.Linear(noise, 16 * w[0], bias=False), nn.BatchNorm1d(16 * w[0]), nn.ReLU(), nn.Unflatten(1, (w[0], 4, 4))]
    for i in range(4):
        last = i == 3
        g.append(nn.ConvTranspose2d(w[i], 1 if last else w[i + 1], 4, 2, 1, bias=last))
        if not last:
            g += [nn.BatchNorm2d(w[i + 1]), nn.ReLU()]
    g.append(nn.Tanh())
    d, c = [], 1
    for i, out in enumerate(reversed(w)):
        d.append(nn.Conv2d(c, out, 4, 2, 1))
        if i > 0:
            d.append(nn.BatchNorm2d(out))
        d.append(nn.LeakyReLU(0.2))
        c = out
    d += [nn.Flatten(), nn.Linear(16 * w[0], 1)]
    return nn.Sequential(*g).to(device), nn.Sequential(*d).to(device)


x = (torch.rand(batch, 1, size, size, device=device) > 0.9).float()
if model == "vae":
    net = Vae().to(device)
    opt = torch.optim.Adam(net.parameters(), 1e-3)

    def step():
        opt.zero_grad()
        net.loss(x).backward()
        opt.step()
else:
    G, D = gan(filters)
    og = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999))
    od = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    real = x * 2 - 1
    ones = torch.full((batch, 1), 0.9, device=device)
    zeros = torch.zeros(batch, 1, device=device)

    def step():
        z = torch.randn(batch, 64, device=device)
        od.zero_grad()
        loss_d = bce(D(real), ones) + bce(D(G(z).detach()), zeros)
        loss_d.backward()
        od.step()
        og.zero_grad()
        loss_g = bce(D(G(torch.randn(batch, 64, device=device))), torch.ones(batch, 1, device=device))
        loss_g.backward()
        og.step()


def sync():
    if device == "cuda":
        torch.cuda.synchronize()


for _ in range(3):
    step()
sync()
rates = []
for _ in range(3):  # the machine is noisy: the median of three timed runs
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    rates.append(steps * batch / (time.perf_counter() - t0))
print(json.dumps({"model": model, "batch": batch, "images_per_second": sorted(rates)[1], "device": device, "torch": torch.__version__}))
