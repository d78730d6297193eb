"""napari-tlreg: deformable registration of image sequences (cine MRI, echo, satellite pairs).

``import napari_tlreg as tl`` is cheap: it imports neither Qt, napari nor torch. The public
functions below are loaded on first use. Conventions (README: Conventions): frames are ``(T, H, W)``;
a displacement is a pull field in pixels, ``(T, 2, H, W)``, channels ``(row, col)``, and
``frame_t(x) ≈ reference(x + u_t(x))``.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

_LAZY = {
    "warp": "napari_tlreg.core.ops",
    "integrate_velocity": "napari_tlreg.core.ops",
    "compose": "napari_tlreg.core.ops",
    "invert": "napari_tlreg.core.ops",
    "jacobian_determinant": "napari_tlreg.core.ops",
    "register": "napari_tlreg.api",
    "methods": "napari_tlreg.api",
    "Cancelled": "napari_tlreg.api",
    "RegistrationResult": "napari_tlreg.result",
    "load_sequence": "napari_tlreg.io",
    "load_labels": "napari_tlreg.io",
    "samples": "napari_tlreg.io",
    "Sequence": "napari_tlreg.io",
}
# as dotted names too: ``napari_tlreg.api.MAX_VOXELS``, ``napari_tlreg.train.train`` (the README's) after a plain import
_SUBMODULES = {"metrics", "landmarks", "core", "engines", "io", "synth", "cli", "report", "batch", "api", "result",
               "train"}

__all__ = sorted([*_LAZY, "metrics", "__version__"])

if TYPE_CHECKING:  # pragma: no cover
    from . import landmarks, metrics
    from .api import Cancelled, methods, register
    from .core.ops import compose, integrate_velocity, invert, jacobian_determinant, warp
    from .io import Sequence, load_labels, load_sequence, samples
    from .result import RegistrationResult


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module 'napari_tlreg' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():  # the parts too (tab completion of ``tl.api``, ``tl.io``, ...)
    return sorted({*__all__, *_SUBMODULES})
