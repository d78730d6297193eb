"""Regions: an ``(H, W)`` mask that restricts a registration's loss and the figures reported on it.

A mask travels in a result's ``params`` as a compact JSON-safe string, ``"mask:HxW:<base64 packbits>"``
(:func:`encode_mask`), so results with a mask still save to JSON and reload; :func:`coerce_mask` accepts
what a user has at hand (an array, a file, that string). numpy only.
"""
from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["MASK_PREFIX", "encode_mask", "decode_mask", "is_encoded_mask", "coerce_mask"]

MASK_PREFIX = "mask:"


def encode_mask(mask: np.ndarray) -> str:
    """A bool ``(H, W)`` mask as a compact JSON-safe string ``"mask:HxW:<base64 packbits>"`` (kept in result params)."""
    m = np.asarray(mask, bool)
    return f"{MASK_PREFIX}{m.shape[0]}x{m.shape[1]}:" + base64.b64encode(np.packbits(m.ravel())).decode("ascii")


def decode_mask(text: str) -> np.ndarray:
    """Inverse of :func:`encode_mask`: the bool ``(H, W)`` mask."""
    head, _, data = text[len(MASK_PREFIX):].partition(":")
    h, w = (int(v) for v in head.split("x"))
    bits = np.unpackbits(np.frombuffer(base64.b64decode(data), np.uint8))[: h * w]
    return bits.reshape(h, w).astype(bool)


def is_encoded_mask(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(MASK_PREFIX)


def _read_mask_file(path: str, who: str) -> np.ndarray:
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{who}: mask file not found: {path}")
    suffix = p.suffix.lower()
    if suffix == ".npy":
        return np.load(p, allow_pickle=False)
    if suffix == ".npz":
        with np.load(p, allow_pickle=False) as d:
            key = "mask" if "mask" in d else next(iter(d.files))
            return d[key]
    if suffix in (".tif", ".tiff"):
        import tifffile

        return tifffile.imread(p)
    if suffix == ".png":
        from PIL import Image

        return np.asarray(Image.open(p).convert("L"))
    raise ValueError(f"{who}: mask file must be .npy, .npz, .tif or .png, got {path}")


def coerce_mask(value: Any, who: str = "mask") -> str | None:
    """None, an (H, W) array (numpy/torch, nonzero = inside), a file path or an encoded mask -> encoded string.

    ``who`` starts the error messages (the engine's name)."""
    if value is None:
        return None
    if isinstance(value, str):
        if value.startswith(MASK_PREFIX):
            try:
                arr = decode_mask(value)
            except Exception as exc:
                raise ValueError(f"{who}: malformed encoded mask ({exc})") from exc
        elif value == "":
            return None
        else:
            arr = _read_mask_file(value, who)
    else:
        if hasattr(value, "detach"):
            value = value.detach().cpu().numpy()
        arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{who}: mask must be a boolean or numeric (H, W) array, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{who}: mask must be a 2-D (H, W) array, got shape {arr.shape}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(f"{who}: mask contains NaN or infinite values")
    m = arr != 0
    if not m.any():
        raise ValueError(f"{who}: mask is empty (no nonzero pixel)")
    return encode_mask(m)
