"""Displacement-field algebra in torch (no Qt, no napari).

Every function here speaks the project's one convention (CONVENTIONS.md):
a displacement is a *pull* field in pixels, shape ``(N, 2, H, W)`` (batched) with
channel 0 = row offset and channel 1 = col offset, and
``warp(I, u)(x) = I(x + u(x))``. Pixel centres sit on integer coordinates
(``align_corners=True``) and samples outside the image replicate the border.

These are the tensor kernels the engines call on their device; the numpy-facing
wrappers exported at top level live in :mod:`napari_tlreg.core.ops`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = [
    "identity_grid",
    "warp",
    "integrate_velocity",
    "compose",
    "invert",
    "jacobian_determinant",
    "resize_field",
]


def identity_grid(h: int, w: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """Pixel coordinates ``(1, 2, H, W)``: channel 0 = row index, channel 1 = col index."""
    r = torch.arange(h, device=device, dtype=dtype)
    c = torch.arange(w, device=device, dtype=dtype)
    rr, cc = torch.meshgrid(r, c, indexing="ij")
    return torch.stack([rr, cc])[None]


def _sampling_grid(u: torch.Tensor) -> torch.Tensor:
    """Pull field ``(N, 2, H, W)`` in pixels -> grid_sample grid ``(N, H, W, 2)`` in [-1, 1], (x=col, y=row)."""
    n, _, h, w = u.shape
    pos = identity_grid(h, w, u.device, u.dtype) + u
    # align_corners=True: pixel 0 -> -1, pixel (size-1) -> +1. A size-1 axis maps to 0.
    row = pos[:, 0] * (2.0 / max(h - 1, 1)) - 1.0
    col = pos[:, 1] * (2.0 / max(w - 1, 1)) - 1.0
    return torch.stack([col, row], dim=-1)  # grid_sample's last axis is (x, y) = (col, row)


_MODES = {0: "nearest", 1: "bilinear", 3: "bicubic"}


def warp(image: torch.Tensor, u: torch.Tensor, order: int = 1) -> torch.Tensor:
    """Sample ``image`` at ``x + u(x)``.

    image: ``(N, C, H, W)``; u: ``(N, 2, H, W)`` pixels (or ``(1, 2, H, W)`` broadcast over N,
    or N fields with a single image). order: 1 = bilinear (intensities, fields), 0 = nearest (labels),
    3 = bicubic (Keys, a = -0.75: intensities where bilinear's smoothing would bias a loss).
    Returns ``(N, C, H, W)`` in image's dtype.
    """
    if order not in (0, 1, 3):
        raise ValueError(f"order must be 0 (nearest), 1 (bilinear) or 3 (bicubic), got {order!r}")
    if image.shape[0] != u.shape[0]:
        if image.shape[0] == 1:
            image = image.expand(u.shape[0], *image.shape[1:])
        elif u.shape[0] == 1:
            u = u.expand(image.shape[0], *u.shape[1:])
        else:
            raise ValueError(f"batch mismatch: image {tuple(image.shape)} vs field {tuple(u.shape)}")
    if order == 0 and not image.is_floating_point():
        return _warp_integers(image, u)
    out = F.grid_sample(
        image.to(u.dtype),
        _sampling_grid(u),
        mode=_MODES[order],
        padding_mode="border",
        align_corners=True,
    )
    if not image.is_floating_point():
        out = out.round().to(image.dtype)
    return out


def _warp_integers(image: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Nearest-neighbour :func:`warp` of an integer image, exact for any value: float32 holds integers up to 2**24
    only (a label id 16777217 came back as 16777216), so the values go through as 16-bit parts, each picked from
    the same source pixel by the same grid, and are put together again."""
    x = image.to(torch.int64)
    lo = int(x.min()) if x.numel() else 0
    x = x - lo
    n = max(1, (int(x.max()).bit_length() + 15) // 16) if x.numel() else 1
    c = x.shape[1]
    parts = torch.cat([(x >> (16 * k)) & 0xFFFF for k in range(n)], 1).to(u.dtype)
    out = F.grid_sample(parts, _sampling_grid(u), mode="nearest", padding_mode="border", align_corners=True)
    out = out.round().to(torch.int64)
    whole = sum(out[:, k * c:(k + 1) * c] << (16 * k) for k in range(n)) + lo
    return whole.to(image.dtype)


def compose(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``c(x) = b(x) + a(x + b(x))``, so that ``warp(warp(I, a), b) == warp(I, c)``. Shapes ``(N, 2, H, W)``."""
    return b + warp(a, b)


def integrate_velocity(v: torch.Tensor, steps: int = 7) -> torch.Tensor:
    """Scaling and squaring of a stationary velocity field ``(N, 2, H, W)`` (pixels) -> displacement."""
    if steps < 0:
        raise ValueError("steps must be >= 0")
    u = v / (2.0**steps)
    for _ in range(steps):
        u = u + warp(u, u)
    return u


def invert(u: torch.Tensor, iterations: int = 100, tol: float = 1e-4) -> torch.Tensor:
    """Inverse of a displacement by fixed-point iteration ``v <- -u(x + v(x))``.

    Returns ``v`` with ``compose(u, v) ≈ 0`` (and, for invertible smooth fields, ``compose(v, u) ≈ 0``).
    Stops early when the update's max change is below ``tol`` pixels (``tol=0``: runs all ``iterations``;
    differentiable, as NMSR's ``symmetric`` loss uses it).
    """
    v = -u
    for _ in range(iterations):
        nv = -warp(u, v)
        done = tol > 0 and float((nv - v).detach().abs().amax()) < tol  # tol 0: every iteration (no sync)
        v = nv
        if done:
            break
    return v


def _gradient(x: torch.Tensor, dim: int) -> torch.Tensor:
    """np.gradient along ``dim``: central differences inside, one-sided at the edges (unit spacing)."""
    n = x.shape[dim]
    if n < 2:
        return torch.zeros_like(x)
    g = torch.empty_like(x)
    mid = (x.narrow(dim, 2, n - 2) - x.narrow(dim, 0, n - 2)) / 2.0
    g.narrow(dim, 1, n - 2).copy_(mid)
    g.narrow(dim, 0, 1).copy_(x.narrow(dim, 1, 1) - x.narrow(dim, 0, 1))
    g.narrow(dim, n - 1, 1).copy_(x.narrow(dim, n - 1, 1) - x.narrow(dim, n - 2, 1))
    return g


def jacobian_determinant(u: torch.Tensor) -> torch.Tensor:
    """``det(I + ∇u)`` of the map ``x -> x + u(x)``, central differences. ``(N, 2, H, W)`` -> ``(N, H, W)``."""
    dr_dr = _gradient(u[:, 0], 1)
    dr_dc = _gradient(u[:, 0], 2)
    dc_dr = _gradient(u[:, 1], 1)
    dc_dc = _gradient(u[:, 1], 2)
    return (1.0 + dr_dr) * (1.0 + dc_dc) - dr_dc * dc_dr


def resize_field(u: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resample a pixel displacement ``(N, 2, h, w)`` to ``size = (H, W)``, rescaling its values to the new grid."""
    h, w = u.shape[-2:]
    H, W = size
    out = F.interpolate(u, size=(H, W), mode="bilinear", align_corners=True)
    scale = torch.tensor([(H - 1) / max(h - 1, 1), (W - 1) / max(w - 1, 1)], dtype=u.dtype, device=u.device)
    return out * scale.view(1, 2, 1, 1)
