"""Synthetic sequences with exact ground-truth motion (numpy/scipy only, no torch).

Every generator returns a :class:`~napari_tlreg.io.Sequence` whose
``metadata["displacement"]`` is the ground-truth pull field ``(T, 2, H, W)`` float32 in pixels
(channels row, col; zero at the reference, frame 0), so that
``frame_t ≈ napari_tlreg.warp(frames[0], u_t)`` (README: Conventions). Intensities are float32 in [0, 1].

- :func:`lemniscate`, :func:`lemniscate_split`, :func:`lemniscate_dataset`, :func:`lemniscate_batch`:
  the TLRN paper's lemniscate series (affine motion, 1000/200/200 split).
- :func:`cardiac_phantom`, :func:`cardiac_batch`: cine short-axis MRI phantom with myocardium labels.
- :func:`echo_sequence`: apical echo-like sector with speckle and LV wall labels.
- :func:`satellite_pair`: bi-temporal urban scene with 15 landmark pairs.
"""
from .cardiac import cardiac_batch, cardiac_phantom
from .echo import echo_sequence, sector_mask
from .lemniscate import (
    SPLIT_SEEDS,
    SPLIT_SIZES,
    lemniscate,
    lemniscate_batch,
    lemniscate_curve,
    lemniscate_dataset,
    lemniscate_split,
)
from .satellite import satellite_pair, solve_landmark

__all__ = [
    "lemniscate",
    "lemniscate_split",
    "lemniscate_dataset",
    "lemniscate_batch",
    "lemniscate_curve",
    "SPLIT_SIZES",
    "SPLIT_SEEDS",
    "cardiac_phantom",
    "cardiac_batch",
    "echo_sequence",
    "sector_mask",
    "satellite_pair",
    "solve_landmark",
]
