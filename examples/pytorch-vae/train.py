"""The seeds' VAE in PyTorch, as a pipe command stage.

Reads the augmented training images pipe hands over as .npy (PIPE_INPUTS), trains a VAE
(two stride-2 convs + dense to mu and log sigma^2, reparameterisation, mirrored decoder,
BCE or MSE + KL, Adam) and writes model/vae.pt and model/metrics.json.
"""
import argparse
import json
import os
import time

import numpy as np
import torch
from torch.nn import functional as F

from vae import VAE


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--latent", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--loss", choices=["bce", "mse"], default="bce")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="model")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)
    inputs = json.load(open(os.environ["PIPE_INPUTS"]))
    # N x size x size x 1 float32 in [0, 1], ink 1: channels-last from tfjs, channels-first for torch.
    train = torch.from_numpy(np.load(inputs["augment"]["train"])).permute(0, 3, 1, 2).contiguous()
    size = train.shape[2]
    model = VAE(size, args.latent)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    gen = torch.Generator().manual_seed(args.seed)
    history = []
    start = time.time()
    for epoch in range(args.epochs):
        order = torch.randperm(len(train), generator=gen)
        total = recon_total = kl_total = 0.0
        for i in range(0, len(train), args.batch_size):
            x = train[order[i : i + args.batch_size]]
            mu, logvar = model.encode(x)
            z = mu + torch.randn(mu.shape, generator=gen) * torch.exp(0.5 * logvar)
            y = model.decode(z)
            per_pixel = F.binary_cross_entropy(y, x, reduction="none") if args.loss == "bce" else (y - x) ** 2
            recon = per_pixel.sum(dim=(1, 2, 3)).mean()
            kl = (-0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(dim=1)).mean()
            loss = recon + kl
            opt.zero_grad()
            loss.backward()
            opt.step()
            n = len(x)
            total += loss.item() * n
            recon_total += recon.item() * n
            kl_total += kl.item() * n
        row = {"epoch": epoch + 1, "loss": total / len(train), "recon": recon_total / len(train), "kl": kl_total / len(train)}
        history.append(row)
        print(f"epoch {epoch + 1}/{args.epochs}: loss {row['loss']:.2f} (recon {row['recon']:.2f}, kl {row['kl']:.2f})", flush=True)
    seconds = time.time() - start
    os.makedirs(args.out, exist_ok=True)
    torch.save({"state": model.state_dict(), "size": size, "latent": args.latent}, os.path.join(args.out, "vae.pt"))
    metrics = {"loss": history[-1]["loss"], "recon": history[-1]["recon"], "kl": history[-1]["kl"], "img_per_s": args.epochs * len(train) / seconds}
    json.dump(metrics, open(os.path.join(args.out, "metrics.json"), "w"), indent=2)


if __name__ == "__main__":
    main()
