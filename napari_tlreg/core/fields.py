"""Displacement-field algebra in torch (no Qt, no napari).

Every function here speaks the project's one convention (README: Conventions):
a displacement is a *pull* field in pixels, shape ``(N, 2, H, W)`` (batched) with
channel 0 = row offset and channel 1 = col offset, and
``warp(I, u)(x) = I(x + u(x))``. Pixel centres sit on integer coordinates
(``align_corners=True``) and samples outside the image replicate the border.

These are the tensor kernels the engines call on their device; the numpy-facing
wrappers exported at top level live in :mod:`napari_tlreg.core.ops`.
"""
from __future__ import annotations

import math

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
    if order == 0:
        return _warp_nearest(image, u)
    out = F.grid_sample(
        image.to(u.dtype),
        _sampling_grid(u),
        mode=_MODES[order],
        padding_mode="border",
        align_corners=True,
    )
    if not image.is_floating_point():
        out = round_into(out, image.dtype)
    return out


def round_into(values: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Interpolated ``values`` rounded into the integer (or bool) ``dtype``, clipped to its range, not wrapped round
    it (bicubic overshoots a step edge: -12 would become 244 in uint8). 64-bit limits are clipped to the float just
    below them (2**63 - 1 as a float is 2**63, which wraps)."""
    if dtype == torch.bool:
        lo, hi = 0.0, 1.0
    else:
        info = torch.iinfo(dtype)
        lo, hi = float(info.min), float(info.max)
        if info.bits == 64:
            hi = math.nextafter(hi, 0.0)
    return values.round().clamp(lo, hi).to(dtype)


def _warp_nearest(image: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Nearest-neighbour :func:`warp`: each output pixel takes the value of the pixel nearest ``x + u(x)`` (halves
    round up, as scipy's ``order=0`` does; grid_sample's nearest rounds them to even, so a field of exactly half a
    pixel dropped every other column of a label), the border replicated. Values are picked whole: exact for any dtype
    (an integer label id of any size comes back as it was)."""
    n, c, h, w = image.shape
    pos = identity_grid(h, w, u.device, u.dtype) + u
    row = torch.floor(pos[:, 0] + 0.5).clamp_(0, h - 1).long()
    col = torch.floor(pos[:, 1] + 0.5).clamp_(0, w - 1).long()
    index = (row * w + col).view(n, 1, h * w).expand(n, c, h * w)
    signed = _SIGNED_VIEW.get(image.dtype)  # torch's gather has no uint16/32/64 kernel: the same bits as signed
    flat = image.reshape(n, c, h * w)
    if signed is not None:
        return flat.contiguous().view(signed).gather(2, index).view(image.dtype).view(n, c, h, w)
    return flat.gather(2, index).view(n, c, h, w)


_SIGNED_VIEW = {torch.uint16: torch.int16, torch.uint32: torch.int32, torch.uint64: torch.int64}


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


#: :func:`invert` leaves the fixed-point iteration for Newton's once an iteration cuts the residual by less than this
SLOW_CONVERGENCE = 0.9


def invert(u: torch.Tensor, iterations: int = 100, tol: float = 1e-4, init: torch.Tensor | None = None) -> torch.Tensor:
    """Inverse of a displacement: ``v`` with ``compose(u, v) ≈ 0``, i.e. ``v(x) + u(x + v(x)) = 0``.

    Fixed-point iteration ``v <- -u(x + v(x))``, which converges where the field compresses by less than 2x
    (``|∇u| < 1``, at the rate of ``|∇u|``); where it stalls (an iteration cuts the residual by less than
    :data:`SLOW_CONVERGENCE`: a local zoom near or past 2x), Newton's steps
    ``v <- v - (I + ∇u(x + v))⁻¹ (v + u(x + v))`` take over, which converge wherever ``x + u(x)`` does not fold. The
    least residual ``max |v + u(x + v)|`` seen is returned (for invertible smooth fields ``compose(v, u) ≈ 0`` too).
    Stops early when the residual is below ``tol`` pixels. ``tol=0`` runs every iteration of the fixed-point
    update, without a host sync and differentiable (NMSR's ``symmetric`` loss). ``init``: where to start (an
    engine's learned inverse, refined); ``-u`` when None.
    """
    v = -u if init is None else init.to(dtype=u.dtype, device=u.device)
    if tol <= 0:
        for _ in range(iterations):
            v = -warp(u, v)
        return v
    best, best_res, newton, grad_u = v, math.inf, False, None
    for _ in range(iterations):
        r = v + warp(u, v)  # the residual of v: the fixed-point update is v - r
        res = float(r.detach().abs().amax())
        slow = res > SLOW_CONVERGENCE * best_res
        if res < best_res:
            best, best_res = v, res
        if slow and not newton:  # the fixed-point iteration stalls or diverges: Newton from the best v so far
            newton, v = True, best
            r = v + warp(u, v)
        if res < tol:
            break
        if not newton:
            v = v - r
            continue
        if grad_u is None:
            grad_u = torch.stack([_gradient(u[:, 0], 1), _gradient(u[:, 0], 2),
                                  _gradient(u[:, 1], 1), _gradient(u[:, 1], 2)], 1)
        g = warp(grad_u, v)  # ∇u at x + v(x)
        a, b, c, d = 1.0 + g[:, 0], g[:, 1], g[:, 2], 1.0 + g[:, 3]
        det = a * d - b * c
        ok = det.abs() > 1e-6  # folded or singular pixels take the fixed-point step
        safe = torch.where(ok, det, torch.ones_like(det))
        step = torch.stack([torch.where(ok, (d * r[:, 0] - b * r[:, 1]) / safe, r[:, 0]),
                            torch.where(ok, (a * r[:, 1] - c * r[:, 0]) / safe, r[:, 1])], 1)
        v = v - step.clamp(-1.0, 1.0)  # at most a pixel a step: Newton far from the answer can overshoot
    else:
        r = v + warp(u, v)
        if float(r.detach().abs().amax()) < best_res:
            best = v
    return best


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
