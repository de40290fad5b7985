"""The seeds' VAE: two stride-2 convs + dense encoder to (mu, log sigma^2), mirrored decoder.

The same shapes as pipe's train-vae (4x4 kernels, 16 and 32 filters), so the two frameworks train one design.
"""
import torch
from torch import nn


class VAE(nn.Module):
    def __init__(self, size, latent, filters=(16, 32)):
        super().__init__()
        f1, f2 = filters
        self.side = size // 4
        flat = f2 * self.side * self.side
        self.enc = nn.Sequential(
            nn.Conv2d(1, f1, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(f1, f2, 4, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(),
        )
        self.mu = nn.Linear(flat, latent)
        self.logvar = nn.Linear(flat, latent)
        self.dec_in = nn.Linear(latent, flat)
        self.dec = nn.Sequential(
            nn.ReLU(),
            nn.Unflatten(1, (f2, self.side, self.side)),
            nn.ConvTranspose2d(f2, f1, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(f1, 1, 4, stride=2, padding=1), nn.Sigmoid(),
        )

    def encode(self, x):
        h = self.enc(x)
        return self.mu(h), self.logvar(h)

    def decode(self, z):
        return self.dec(self.dec_in(z))
