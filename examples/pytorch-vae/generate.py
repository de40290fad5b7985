"""Decode random latents of the trained VAE: PNGs in outputs/, all samples as samples.npy for pipe's evaluate."""
import argparse
import os

import numpy as np
import torch
from PIL import Image

from vae import VAE


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="model/vae.pt")
    ap.add_argument("--count", type=int, default=512)
    ap.add_argument("--pngs", type=int, default=64, help="how many of the samples to write as PNG")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    saved = torch.load(args.model)
    model = VAE(saved["size"], saved["latent"])
    model.load_state_dict(saved["state"])
    model.eval()
    gen = torch.Generator().manual_seed(args.seed)
    with torch.no_grad():
        images = model.decode(torch.randn(args.count, saved["latent"], generator=gen))
    # Back to pipe's layout: N x size x size x 1, float32 in [0, 1], ink 1.
    np.save("samples.npy", images.permute(0, 2, 3, 1).numpy().astype(np.float32))
    os.makedirs("outputs", exist_ok=True)
    for i, img in enumerate(images[: args.pngs]):
        # Ink dark on white paper, as a person reads a signature.
        Image.fromarray(((1 - img[0].numpy()) * 255).round().astype(np.uint8)).save(f"outputs/{i:04d}.png")


if __name__ == "__main__":
    main()
