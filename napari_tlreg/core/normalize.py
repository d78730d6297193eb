"""Intensity normalisation shared by every engine (CONVENTIONS.md)."""
from __future__ import annotations

import numpy as np


def normalize_sequence(frames: np.ndarray, low: float = 1.0, high: float = 99.0) -> np.ndarray:
    """Robust per-sequence scaling to [0, 1]: the ``low``/``high`` percentiles map to 0/1, then clip.

    frames: ``(T, H, W)`` (any real dtype) -> float32 of the same shape. A constant sequence maps to 0.
    """
    f = np.asarray(frames, dtype=np.float32)
    lo, hi = np.percentile(f, [low, high])
    if not hi > lo:
        lo, hi = float(f.min()), float(f.max())
    if not hi > lo:
        return np.zeros_like(f)
    return np.clip((f - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)
