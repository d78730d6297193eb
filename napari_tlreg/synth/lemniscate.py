"""The TLRN paper's synthetic "lemniscate" series (paper 000, section 4.1).

Reference image: a thick lemniscate of Bernoulli,
``x = a cos α / (sin²α + 1)``, ``y = a sin α cos α / (sin²α + 1)`` (α in [0, 2π]), made thick by
offsets ``±σx, ±σy`` (the Minkowski sum of the curve with an ellipse of half-axes σx, σy in the
shape's own axes). Later frames are affine images (scale, rotation, translation) of the first,
the motion growing over time so that the last frames move most.

Rendering is analytic: the curve is the zero set of ``F = (x²+y²)² - a²(x²-y²)`` and the band is
``|F| / sqrt((σx ∂F/∂x)² + (σy ∂F/∂y)²) < 1`` (first-order distance, anti-aliased edge). Frame
``t`` is that continuous image evaluated at ``x + u_t(x)`` (clipped to the image, i.e. border
replication), so ``frame_t ≈ warp(frame_0, u_t)`` holds up to bilinear interpolation error.

Ranges (size 64; lengths scale with ``size / 64``):
    a ~ U(0.20, 0.28)·size, σx, σy ~ U(1.0, 2.0) px, orientation ~ U(0, π), centre ±1.5 px;
    at the last frame: rotation ±U(10°, 30°), scale U(0.8, 1.2) per axis (anisotropy ≤ ±7 %,
    clipped to [0.8, 1.2]), shift U(-3, 3) px per axis; frame t applies the fraction
    τ_t = (t / (T-1))^γ, γ ~ U(0.7, 1.4), of each (rotation angle, scale - 1, shift).
Splits: 1000 / 200 / 200 sequences, sequence ``i`` of split ``s`` uses seed ``SPLIT_SEEDS[s] + i``.
"""
from __future__ import annotations

import numpy as np

from ..io.sequence import Sequence
from ._common import as_rng, pixel_grid

__all__ = [
    "lemniscate",
    "lemniscate_batch",
    "lemniscate_split",
    "lemniscate_dataset",
    "lemniscate_curve",
    "SPLIT_SIZES",
    "SPLIT_SEEDS",
]

SPLIT_SIZES = {"train": 1000, "val": 200, "test": 200}
SPLIT_SEEDS = {"train": 1_000_000, "val": 2_000_000, "test": 3_000_000}

_EDGE = np.float32(0.5)  # anti-aliasing half-width of the band edge (pixels)


def lemniscate_curve(a: float, n: int = 400) -> np.ndarray:
    """Points ``(n, 2)`` (x, y) of the paper's contour, α uniform in [0, 2π)."""
    al = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    d = np.sin(al) ** 2 + 1
    return np.stack([a * np.cos(al) / d, a * np.sin(al) * np.cos(al) / d], axis=1)


def _draw(rng: np.random.Generator, n: int, size: int) -> dict:
    """Draw ``n`` parameter sets (one rng call per quantity, in a fixed order)."""
    s = size / 64.0
    p = {
        "a": rng.uniform(0.20, 0.28, n) * size,
        "sigma": rng.uniform(1.0, 2.0, (n, 2)) * s,
        "psi": rng.uniform(0.0, np.pi, n),
        "centre": (size - 1) / 2.0 + rng.uniform(-1.5, 1.5, (n, 2)) * s,
        "rot": np.deg2rad(rng.uniform(10.0, 30.0, n)) * rng.choice([-1.0, 1.0], n),
        "scale": rng.uniform(0.8, 1.2, n),
        "aniso": rng.uniform(0.93, 1.07, n),
        "shift": rng.uniform(-3.0, 3.0, (n, 2)) * s,
        "gamma": rng.uniform(0.7, 1.4, n),
    }
    sr = np.clip(p["scale"] * p["aniso"], 0.8, 1.2)
    sc = np.clip(p["scale"] / p["aniso"], 0.8, 1.2)
    p["scale_rc"] = np.stack([sr, sc], axis=1)
    return p


def _fields(p: dict, n_frames: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pull fields ``(n, T, 2, H, W)`` and the per-frame inverse affines.

    Forward map of frame t (reference point p -> frame point q): ``q = c + b_t + M_t (p - c)``,
    ``M_t = R(θ_t) diag(s_row, s_col)``. Then ``frame_t(q) = ref(p)``, so the pull is
    ``x + u_t(x) = c + M_t⁻¹ (x - c - b_t)``.
    """
    n = p["a"].shape[0]
    t = np.arange(n_frames, dtype=np.float64)
    frac = (t / max(n_frames - 1, 1))[None, :] ** p["gamma"][:, None]  # (n, T)
    th = p["rot"][:, None] * frac
    srow = 1.0 + (p["scale_rc"][:, 0:1] - 1.0) * frac
    scol = 1.0 + (p["scale_rc"][:, 1:2] - 1.0) * frac
    b = p["shift"][:, None, :] * frac[..., None]  # (n, T, 2)
    cos, sin = np.cos(th), np.sin(th)
    # M⁻¹ = diag(1/s) R(-θ); R(θ) = [[cos, -sin], [sin, cos]] acting on (row, col)
    minv = np.empty((n, n_frames, 2, 2))
    minv[..., 0, 0] = cos / srow
    minv[..., 0, 1] = sin / srow
    minv[..., 1, 0] = -sin / scol
    minv[..., 1, 1] = cos / scol
    c = p["centre"][:, None, :]  # (n, 1, 2)
    off = c[..., :] - np.einsum("ntij,ntj->nti", minv, c + b)  # x + u = minv x + off
    rr, cc = pixel_grid(size, size)
    f32 = np.float32
    m = minv.astype(f32)[..., None, None]
    o = off.astype(f32)[..., None, None]
    pr = m[:, :, 0, 0] * rr + m[:, :, 0, 1] * cc + o[:, :, 0]
    pc = m[:, :, 1, 0] * rr + m[:, :, 1, 1] * cc + o[:, :, 1]
    u = np.stack([pr - rr, pc - cc], axis=2)
    u[:, 0] = 0.0  # exact zero at the reference
    return u, np.stack([pr, pc], axis=2)


def _render(p: dict, pos: np.ndarray, size: int) -> np.ndarray:
    """Evaluate the continuous reference image at positions ``pos`` ``(n, T, 2, H, W)``."""
    f32 = np.float32
    hi = f32(size - 1)
    pr = np.clip(pos[:, :, 0], f32(0), hi)  # border replication
    pc = np.clip(pos[:, :, 1], f32(0), hi)
    sh = (-1, 1, 1, 1)
    cy = p["centre"][:, 0].astype(f32).reshape(sh)
    cx = p["centre"][:, 1].astype(f32).reshape(sh)
    ca = np.cos(p["psi"]).astype(f32).reshape(sh)
    sa = np.sin(p["psi"]).astype(f32).reshape(sh)
    dr = pr - cy
    dc = pc - cx
    x = ca * dc + sa * dr
    y = ca * dr - sa * dc
    a2 = (p["a"].astype(f32) ** 2).reshape(sh)
    x2 = x * x
    y2 = y * y
    r2 = x2 + y2
    F = r2 * r2 - a2 * (x2 - y2)
    gx = x * (4 * r2 - 2 * a2) * p["sigma"][:, 0].astype(f32).reshape(sh)
    gy = y * (4 * r2 + 2 * a2) * p["sigma"][:, 1].astype(f32).reshape(sh)
    d = np.abs(F) / np.sqrt(gx * gx + gy * gy + f32(1e-6))
    # every curve point is within radius a of the centre: a lower bound that removes
    # spurious bands of the first-order estimate far from the curve
    smax = p["sigma"].max(axis=1).astype(f32).reshape(sh)
    far = (np.sqrt(r2) - np.sqrt(a2)) / smax
    d = np.maximum(d, far)
    smean = p["sigma"].mean(axis=1).astype(f32).reshape(sh)
    img = f32(0.5) - f32(0.5) * np.tanh((d - f32(1)) * smean / _EDGE)
    return img


def lemniscate_batch(
    n: int, rng: np.random.Generator | None = None, n_frames: int = 12, size: int = 64, chunk: int = 32
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random lemniscate series for on-the-fly training.

    Returns ``frames (n, T, H, W)`` float32 in [0, 1] (frame 0 the reference) and pull fields
    ``u (n, T, 2, H, W)`` float32 in pixels with ``u[:, 0] = 0`` and
    ``frames[:, t] ≈ warp(frames[:, 0], u[:, t])``.
    """
    rng = as_rng(None, rng)
    frames = np.empty((n, n_frames, size, size), np.float32)
    fields = np.empty((n, n_frames, 2, size, size), np.float32)
    for i in range(0, n, chunk):
        k = min(chunk, n - i)
        p = _draw(rng, k, size)
        u, pos = _fields(p, n_frames, size)
        frames[i : i + k] = _render(p, pos, size)
        fields[i : i + k] = u
    return frames, fields


def _params_dict(p: dict, i: int = 0) -> dict:
    return {
        "a": float(p["a"][i]),
        "sigma": [float(v) for v in p["sigma"][i]],
        "orientation_deg": float(np.rad2deg(p["psi"][i])),
        "centre": [float(v) for v in p["centre"][i]],
        "final_rotation_deg": float(np.rad2deg(p["rot"][i])),
        "final_scale_rc": [float(v) for v in p["scale_rc"][i]],
        "final_shift_rc": [float(v) for v in p["shift"][i]],
        "gamma": float(p["gamma"][i]),
    }


def lemniscate(n_frames: int = 12, size: int = 64, seed=0, rng: np.random.Generator | None = None) -> Sequence:
    """One lemniscate series as a :class:`Sequence` with ground truth.

    ``metadata["displacement"]``: ``(T, 2, H, W)`` float32 pull field (zero at frame 0);
    ``metadata["params"]``: the drawn shape and motion parameters. Deterministic in ``seed``.
    """
    if n_frames < 1 or size < 16:
        raise ValueError(f"need n_frames >= 1 and size >= 16, got {n_frames}, {size}")
    g = as_rng(seed, rng)
    p = _draw(g, 1, size)
    u, pos = _fields(p, n_frames, size)
    frames = _render(p, pos, size)[0]
    return Sequence(
        frames=frames,
        spacing=(1.0, 1.0),
        unit="px",
        name="lemniscate",
        metadata={
            "displacement": u[0],
            "reference": 0,
            "generator": "napari_tlreg.synth.lemniscate",
            "seed": seed if rng is None else None,
            "params": _params_dict(p),
        },
    )


def _split_seed(split: str, index: int) -> int:
    if split not in SPLIT_SIZES:
        raise ValueError(f"split must be one of {sorted(SPLIT_SIZES)}, got {split!r}")
    if not 0 <= int(index) < SPLIT_SIZES[split]:
        raise IndexError(f"{split} has {SPLIT_SIZES[split]} sequences, index {index} is out of range")
    return SPLIT_SEEDS[split] + int(index)


def lemniscate_split(split: str = "train", index: int = 0, n_frames: int = 12, size: int = 64) -> Sequence:
    """Sequence ``index`` of the paper's 1000/200/200 split (seed ``SPLIT_SEEDS[split] + index``)."""
    seq = lemniscate(n_frames, size, seed=_split_seed(split, index))
    seq.name = f"lemniscate-{split}-{int(index):04d}"
    seq.metadata["split"] = split
    seq.metadata["index"] = int(index)
    return seq


def lemniscate_dataset(
    split: str = "train", n_frames: int = 12, size: int = 64, limit: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The whole split as arrays: ``frames (N, T, H, W)``, ``u (N, T, 2, H, W)`` float32.

    Identical, sequence by sequence, to :func:`lemniscate_split` (train: 1000 x 12 x 64 x 64,
    about 200 MB of frames and 400 MB of fields). ``limit`` keeps the first ``limit`` sequences.
    """
    count = SPLIT_SIZES.get(split)
    if count is None:
        raise ValueError(f"split must be one of {sorted(SPLIT_SIZES)}, got {split!r}")
    if limit is not None:
        count = min(count, int(limit))
    frames = np.empty((count, n_frames, size, size), np.float32)
    fields = np.empty((count, n_frames, 2, size, size), np.float32)
    for i in range(count):
        g = np.random.default_rng(_split_seed(split, i))
        p = _draw(g, 1, size)
        u, pos = _fields(p, n_frames, size)
        frames[i] = _render(p, pos, size)[0]
        fields[i] = u[0]
    return frames, fields
