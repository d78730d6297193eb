"""Networks shared by the learned engines (torch only).

``SVFUNet`` is the VoxelMorph-style velocity U-Net of the TLRN paper (encoder 16-32-32,
bottleneck 32 at 1/8, decoder 32-32-32 + 32-16-16, flow head to 2 channels) split into
``encode`` / ``decode`` so TLRN can run its temporal latent residual unit on the bottleneck.
``flow_level=1`` ends the decoder at half resolution (no full-resolution convolutions, the
full-resolution skip unused): the velocity comes out on the 1/2 grid, is integrated there and the
displacement upsampled (VoxelMorph's ``int_downsize=2``); ~3x fewer multiply-adds at 64 px.
``TemporalResidualUnit`` is the paper's ``ẑ_t = LeakyReLU(F(ẑ_{t-1} ⊕ z_t) + W(ẑ_{t-1} ⊕ z_t))``.
All tensors are ``(N, C, H, W)``; H and W must be multiples of ``SVFUNet.multiple`` (8).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def conv_block(cin: int, cout: int) -> nn.Sequential:
    """3x3 conv (bias) + LeakyReLU(0.2)."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.LeakyReLU(0.2))


class SVFUNet(nn.Module):
    """Pair (fixed, moving) ``(N, 2, H, W)`` -> stationary velocity ``(N, 2, H, W)`` in pixels.

    enc: features of the encoder levels (default 16, 32, 32) followed by the bottleneck width
    (default 32); dec: decoder widths after the three upsampling steps, then the final convs.
    """

    multiple = 8
    #: run the convolutions channels-last (same arithmetic, ~1.5x faster on CPU); torch.func.vmap
    #: cannot query that layout, so the NMSR engine turns it off on the module it maps over pairs
    channels_last = True

    def __init__(self, enc=(16, 32, 32, 32), dec=(32, 32, 32, 32, 16, 16), flow_level: int = 0):
        super().__init__()
        if flow_level not in (0, 1):
            raise ValueError(f"flow_level must be 0 (full resolution) or 1 (half), got {flow_level!r}")
        self.flow_level = flow_level
        e0, e1, e2, eb = enc
        self.enc = nn.ModuleList([conv_block(2, e0), conv_block(e0, e1), conv_block(e1, e2)])
        self.bottleneck = conv_block(e2, eb)
        d0, d1, d2, d3, d4, d5 = dec
        self.dec0 = conv_block(eb, d0)  # at 1/8
        self.dec1 = conv_block(d0 + e2, d1)  # at 1/4
        self.dec2 = conv_block(d1 + e1, d2)  # at 1/2
        skip0 = e0 if flow_level == 0 else 0  # the full-resolution skip only feeds a full-resolution head
        self.final = nn.Sequential(conv_block(d2 + skip0, d3), conv_block(d3, d4), conv_block(d4, d5))
        self.flow = nn.Conv2d(d5, 2, 3, padding=1)
        nn.init.normal_(self.flow.weight, 0.0, 1e-5)
        nn.init.zeros_(self.flow.bias)
        self.latent_channels = eb

    def encode(self, pair: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``(N, 2, H, W)`` -> bottleneck ``z`` ``(N, C, H/8, W/8)`` and the skips (full, 1/2, 1/4)."""
        skips = []
        x = pair.contiguous(memory_format=torch.channels_last) if self.channels_last else pair
        for i, block in enumerate(self.enc):
            x = block(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        return self.bottleneck(x), skips

    def decode(self, z: torch.Tensor, skips: list[torch.Tensor]) -> torch.Tensor:
        """Bottleneck + skips -> velocity ``(N, 2, H, W)`` (``flow_level=1``: ``(N, 2, H/2, W/2)`` in pixels of that grid)."""
        x = self.dec0(z)
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = self.dec1(self.join(x, skips[2]))
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = self.dec2(self.join(x, skips[1]))
        if self.flow_level == 0:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
            x = self.join(x, skips[0])
        return self.flow(self.final(x)).contiguous()

    def join(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """A decoder level's input: the upsampled features, then the encoder's skip, along the channels."""
        return torch.cat([x, skip], 1)

    def forward(self, pair: torch.Tensor) -> torch.Tensor:
        z, skips = self.encode(pair)
        return self.decode(z, skips)


class TemporalResidualUnit(nn.Module):
    """``ẑ_t = LeakyReLU(F(ẑ_{t-1} ⊕ z_t) + W(ẑ_{t-1} ⊕ z_t))`` on bottleneck features ``(N, C, h, w)``."""

    def __init__(self, channels: int = 32):
        super().__init__()
        c2 = 2 * channels
        self.F = nn.Sequential(
            nn.Conv2d(c2, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.LeakyReLU(0.2),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
        )
        self.W = nn.Sequential(nn.Conv2d(c2, channels, 1, bias=False), nn.BatchNorm2d(channels))
        self.act = nn.LeakyReLU(0.2)

    def forward(self, prev: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        x = torch.cat([prev, z], 1)
        return self.act(self.F(x) + self.W(x))


class TLRNNet(nn.Module):
    """TLRN: the SVF U-Net with a temporal latent residual unit recurring over the frames.

    ``forward(ref, frames)``: ``ref`` ``(B, 1, H, W)``, ``frames`` ``(B, K, H, W)`` ordered by time away
    from the reference (k = 0 is the frame next to it) -> velocities ``(B, K, 2, H, W)``.
    ``residual=False`` gives the pairwise VoxelMorph ablation with identical weights layout.
    ``shared=True`` uses one unit for every step (runs on any K); otherwise ``n_units`` units.
    """

    def __init__(self, enc=(16, 32, 32, 32), dec=(32, 32, 32, 32, 16, 16), residual=True, shared=True, n_units=1, flow_level=0):
        super().__init__()
        self.unet = SVFUNet(enc, dec, flow_level)
        self.residual = residual
        self.shared = shared
        c = self.unet.latent_channels
        n = 1 if shared else max(1, n_units)
        self.units = nn.ModuleList([TemporalResidualUnit(c) for _ in range(n)]) if residual else nn.ModuleList()

    def forward(self, ref: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        return self.step(ref, frames)[0]

    def step(self, ref: torch.Tensor, frames: torch.Tensor, state: torch.Tensor | None = None, t0: int = 0):
        """Velocities for a block of frames continuing a chain: returns ``(v (B, K, 2, h, w), last latent)``.

        ``(h, w)`` is ``(H, W)`` or, with ``flow_level=1``, ``(H/2, W/2)``.

        ``state`` is the last ``ẑ`` of the previous block (``None`` at the chain's start) and ``t0`` the
        index of this block's first frame in the chain, so a long chain can be streamed in blocks
        with the same result as one call.
        """
        b, k, h, w = frames.shape
        pairs = torch.stack([ref.expand(b, k, h, w), frames], 2).reshape(b * k, 2, h, w)
        z, skips = self.unet.encode(pairs)  # all pairs of all sequences in one batch
        zs = z.reshape(b, k, *z.shape[1:])
        if self.residual:
            out = []
            for i in range(k):
                t = t0 + i
                if t == 0:  # the chain starts: ẑ_1 = z_1
                    cur = zs[:, i]
                else:
                    prev = out[-1] if out else state
                    unit = self.units[0] if self.shared else self.units[min(t - 1, len(self.units) - 1)]
                    cur = unit(prev, zs[:, i])
                out.append(cur)
            zs = torch.stack(out, 1)
            z = zs.reshape(b * k, *z.shape[1:])
        v = self.unet.decode(z, skips)
        return v.reshape(b, k, *v.shape[1:]), zs[:, -1]


def half_resolution_state(state: dict) -> dict:
    """Warm start for a ``flow_level=1`` network from a full-resolution one's state dict.

    Every layer is kept except where the heads differ: the first head convolution drops its
    full-resolution-skip inputs (the last ``e0`` channels of the concatenation) and the flow layer
    is halved (velocities in pixels of the half grid). A state that already fits is returned as is.
    """
    key = "unet.final.0.0.weight"
    if key not in state or "unet.dec2.0.weight" not in state:
        return state
    d2 = state["unet.dec2.0.weight"].shape[0]
    if state[key].shape[1] == d2:
        return state
    out = dict(state)
    out[key] = state[key][:, :d2].clone()
    out["unet.flow.weight"] = state["unet.flow.weight"] * 0.5
    out["unet.flow.bias"] = state["unet.flow.bias"] * 0.5
    return out


def velocity_to_displacement(v: torch.Tensor, steps: int, flow_level: int = 0) -> torch.Tensor:
    """Scaling and squaring of ``v`` ``(N, 2, h, w)`` on its own grid, then up to the image grid.

    ``flow_level=1``: ``v`` lives on the half grid (the max-pooled one, whose pixel ``i`` is centred on
    image pixel ``2i + 0.5``), so the displacement is upsampled by exactly 2 with that geometry
    (bilinear, ``align_corners=False``) and its values doubled.
    """
    from ..core import fields

    u = fields.integrate_velocity(v, steps)
    if flow_level:
        f = 2**flow_level
        u = F.interpolate(u, scale_factor=f, mode="bilinear", align_corners=False) * f
    return u


def grad_l2(v: torch.Tensor) -> torch.Tensor:
    """"Grad l2" smoothness: mean over the two axes of mean(forward difference²). ``v`` ``(..., H, W)``."""
    return grad_l2_per_item(v[None])[0]


def grad_l2_per_item(v: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """:func:`grad_l2` of each item of ``v`` ``(N, ..., H, W)`` on its own: ``(N,)`` (their mean is ``grad_l2(v)``).

    ``weight`` ``(N, 1, H, W)``: each squared difference weighted by the mean of the weights at its two ends
    (ones: the plain sum)."""
    dr = v[..., 1:, :] - v[..., :-1, :]
    dc = v[..., :, 1:] - v[..., :, :-1]
    if weight is None:
        return 0.5 * (dr.pow(2).flatten(1).mean(1) + dc.pow(2).flatten(1).mean(1))
    wr = 0.5 * (weight[..., 1:, :] + weight[..., :-1, :])
    wc = 0.5 * (weight[..., :, 1:] + weight[..., :, :-1])
    return 0.5 * ((wr * dr.pow(2)).flatten(1).mean(1) + (wc * dc.pow(2)).flatten(1).mean(1))
