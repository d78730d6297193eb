"""Small numpy/scipy helpers shared by the synthetic generators (no torch).

Coordinates follow README: Conventions: ``(row, col)``, pixel centres on integer coordinates,
samples outside the image replicate the border (``align_corners=True`` + border padding).
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..io.sequence import Sequence

__all__ = [
    "as_rng",
    "pixel_grid",
    "soft_inside",
    "smoothstep",
    "cosine_taper",
    "smooth_noise",
    "sample_bilinear",
    "sample_field",
    "warp_nearest",
    "cycle_activation",
    "pull_consistency",
]


def as_rng(seed=None, rng: np.random.Generator | None = None) -> np.random.Generator:
    """A ``Generator`` from ``rng`` (used as is) or from ``seed`` (int, sequence of ints or ``None``)."""
    if rng is not None:
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        return rng
    return np.random.default_rng(seed)


def pixel_grid(h: int, w: int, dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Row and column coordinates of every pixel centre, each ``(H, W)``."""
    r = np.arange(h, dtype=dtype)[:, None]
    c = np.arange(w, dtype=dtype)[None, :]
    return np.broadcast_to(r, (h, w)).copy(), np.broadcast_to(c, (h, w)).copy()


def soft_inside(signed_dist, width: float = 0.5):
    """Anti-aliased indicator: ~1 where ``signed_dist`` (pixels, negative inside) < 0, ~0 outside."""
    return 0.5 - 0.5 * np.tanh(np.asarray(signed_dist) / np.float32(width))


def smoothstep(x):
    """C1 cubic ramp: 0 for ``x <= 0``, 1 for ``x >= 1``."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def cosine_taper(r, r0: float, r1: float):
    """1 for ``r <= r0``, 0 for ``r >= r1``, half a cosine in between (C1)."""
    x = np.clip((np.asarray(r) - r0) / max(r1 - r0, 1e-6), 0.0, 1.0)
    return 0.5 + 0.5 * np.cos(np.pi * x)


def smooth_noise(rng: np.random.Generator, shape, sigma, dtype=np.float32) -> np.ndarray:
    """Gaussian-filtered white noise, zero mean and unit standard deviation."""
    n = ndimage.gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap")
    n -= n.mean()
    n /= max(float(n.std()), 1e-12)
    return n.astype(dtype)


def sample_bilinear(image: np.ndarray, rows, cols) -> np.ndarray:
    """Bilinear sample of ``image`` (H, W) at float coordinates (any shape), border replication."""
    rows = np.asarray(rows)
    coords = np.stack([rows.ravel(), np.asarray(cols).ravel()])
    out = ndimage.map_coordinates(image, coords, order=1, mode="nearest")
    return out.reshape(rows.shape)


def sample_field(u: np.ndarray, points) -> np.ndarray:
    """Bilinear sample of a field ``(2, H, W)`` at points ``(N, 2)`` (row, col) -> ``(N, 2)``."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return np.stack(
        [sample_bilinear(np.asarray(u[k], np.float64), p[:, 0], p[:, 1]) for k in range(2)], axis=1
    )


def warp_nearest(labels: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``labels_t = labels(x + u_t(x))`` with nearest sampling and border replication.

    labels ``(H, W)`` integer; u ``(T, 2, H, W)`` or ``(N, T, 2, H, W)``. The numpy twin of
    ``napari_tlreg.core.ops.warp(labels, u, order=0)``: halves round up as there (``np.rint`` rounds them to even, and
    a field of exactly half a pixel gave other pixels than the core's warp).
    """
    h, w = labels.shape
    rr, cc = pixel_grid(h, w)
    ri = np.clip(np.floor(rr + u[..., 0, :, :] + 0.5), 0, h - 1).astype(np.intp)
    ci = np.clip(np.floor(cc + u[..., 1, :, :] + 0.5), 0, w - 1).astype(np.intp)
    return labels[ri, ci]


def farthest_points(pts: np.ndarray, n: int, rng: np.random.Generator) -> list[int]:
    """Indices of ``n`` of ``pts`` ``(N, 2)`` spread out by farthest-point sampling from a random start (none for
    ``n <= 0``)."""
    if n <= 0:
        return []
    chosen = [int(rng.integers(len(pts)))]
    dmin = np.linalg.norm(pts - pts[chosen[0]], axis=1)
    while len(chosen) < n:
        k = int(np.argmax(dmin))
        chosen.append(k)
        dmin = np.minimum(dmin, np.linalg.norm(pts - pts[k], axis=1))
    return chosen


def cycle_activation(n_frames: int, systole: float, cycle: str = "full") -> np.ndarray:
    """Contraction level in [0, 1] for each frame: 0 at end-diastole (frame 0), 1 at end-systole.

    ``cycle="full"``: one heart beat over ``n_frames`` frames (frame ``n_frames`` would be the
    next end-diastole), ED -> ES in the first ``systole`` fraction of the cycle, then ES -> ED;
    smooth (zero slope at ED and ES). ``cycle="systole"``: ED -> ES over the frames, the last
    frame at end-systole (the TLRN paper's half cycle).
    """
    t = np.arange(n_frames, dtype=np.float64)
    if cycle == "systole":
        phase = t / max(n_frames - 1, 1)
        return 0.5 - 0.5 * np.cos(np.pi * phase)
    if cycle != "full":
        raise ValueError(f"cycle must be 'full' or 'systole', got {cycle!r}")
    phase = t / n_frames
    up = 0.5 - 0.5 * np.cos(np.pi * np.clip(phase / systole, 0, 1))
    down = 0.5 + 0.5 * np.cos(np.pi * np.clip((phase - systole) / (1 - systole), 0, 1))
    return np.where(phase <= systole, up, down)


def pull_consistency(frames: np.ndarray, u: np.ndarray, reference: int = 0, valid=None) -> dict:
    """MSE of ``warp(frames[reference], u_t)`` vs ``frames[t]`` next to MSE(reference, frame_t).

    Bilinear warp in numpy (border replication) so it needs no torch; ``valid`` an optional
    ``(H, W)`` bool mask where to measure. Returns per-frame arrays ``warped`` and ``identity``.
    """
    ref = np.asarray(frames[reference], np.float64)
    h, w = ref.shape
    rr, cc = pixel_grid(h, w, np.float64)
    m = np.ones((h, w), bool) if valid is None else np.asarray(valid, bool)
    warped, ident = [], []
    for t in range(frames.shape[0]):
        wt = sample_bilinear(ref, rr + u[t, 0], cc + u[t, 1])
        warped.append(float(np.mean((wt - frames[t])[m] ** 2)))
        ident.append(float(np.mean((ref - frames[t])[m] ** 2)))
    return {"warped": np.array(warped), "identity": np.array(ident)}


def cycle_sequence(frames, labels, u, act, *, mm: float, name: str, label_names: dict, n_frames: int, cycle: str,
                   half_cycle_ms: float, seed, rng, params: dict, **metadata) -> Sequence:
    """The :class:`~napari_tlreg.io.sequence.Sequence` of a synthetic cardiac cycle (phantom or echo):
    frames, labels, pixel size, and the ground truth + provenance every generator records."""
    return Sequence(
        frames=frames,
        labels=labels,
        spacing=(mm, mm),
        unit="mm",
        name=name,
        metadata={
            "displacement": u,
            **metadata,
            "reference": 0,
            "activation": act.astype(np.float32),
            "label_names": label_names,
            "frame_time_ms": 900.0 / n_frames if cycle == "full" else half_cycle_ms / max(n_frames - 1, 1),
            "generator": f"napari_tlreg.synth.{name}",
            "seed": seed if rng is None else None,
            "params": params,
        },
    )
