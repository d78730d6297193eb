"""Regions: an ``(H, W)`` mask that restricts a registration's loss and the figures reported on it.

A mask travels in a result's ``params`` as a compact JSON-safe string, ``"mask:HxW:<base64 packbits>"``
(:func:`encode_mask`), so results with a mask still save to JSON and reload; :func:`coerce_mask` accepts
what a user has at hand (an array, a file, that string). :func:`signal_region` finds the region where a
sequence has signal (an ultrasound fan), which the readers give real echo clips. numpy and scipy.
"""
from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["MASK_PREFIX", "encode_mask", "decode_mask", "is_encoded_mask", "coerce_mask", "signal_region"]

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
    if p.suffix.lower() not in (".npy", ".npz", ".tif", ".tiff", ".png"):
        raise ValueError(f"{who}: mask file must be .npy, .npz, .tif or .png, got {path}")
    try:
        return _read_mask_array(p)
    except Exception as exc:  # a corrupt file (zipfile.BadZipFile, a TIFF or PNG error, ...): one line that says so
        raise ValueError(f"{who}: mask file {p.name} is not readable ({unreadable_reason(exc)})") from None


def unreadable_reason(exc: BaseException) -> str:
    """Why a NumPy (or other) file could not be read, in a line. numpy's text for bytes without its header says to
    load the file "unsafely" with pickle: that is not advice to pass on about a file that is only corrupt."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "pickled" in text or "allow_pickle" in text:
        return "no NumPy array in it: truncated, corrupt or another format"
    return f"truncated or corrupt: {text[:157] + '...' if len(text) > 160 else text}"


def _read_mask_array(p: Path) -> np.ndarray:
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
    raise AssertionError(suffix)  # the suffixes are checked first


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


def signal_region(frames: np.ndarray, box=None) -> np.ndarray | None:
    """Where a sequence ``(T, H, W)`` has signal: an ultrasound clip's fan, as a bool ``(H, W)`` mask
    (None when there is no region to speak of: blank frames, a line).

    The convex hull of the largest region ever brighter than 2 % of the clip's maximum (closed over
    3 px), eroded by 2 px so that the fan's rim stays out. ``box`` ``(row0, row1, col0, col1)`` (the
    DICOM SequenceOfUltrasoundRegions) keeps out what lies outside the imaging region: text, ECG
    trace, scale bars.
    """
    from matplotlib.path import Path as MPath
    from scipy import ndimage as ndi
    from scipy.spatial import ConvexHull

    frames = np.asarray(frames)
    if frames.ndim != 3 or not frames.size or not np.isfinite(frames).all():
        return None
    peak = frames.max()
    if not peak > 0:
        return None
    m = frames.max(0) > 0.02 * peak
    if box is not None:
        r0, r1, c0, c1 = box
        inside = np.zeros_like(m)
        inside[r0:r1, c0:c1] = True
        m &= inside
    m = ndi.binary_closing(m, iterations=3)
    lab, n = ndi.label(m)
    if n > 1:
        m = lab == (np.argmax(np.bincount(lab.ravel())[1:]) + 1)
    pts = np.argwhere(m).astype(float)
    if len(pts) < 3 or np.linalg.matrix_rank(pts - pts.mean(0)) < 2:
        return None  # nothing, or a line: no area to register in
    hull = MPath(pts[ConvexHull(pts).vertices])
    rr, cc = np.mgrid[: m.shape[0], : m.shape[1]]
    fan = hull.contains_points(np.stack([rr.ravel(), cc.ravel()], 1)).reshape(m.shape)
    fan = ndi.binary_erosion(fan, iterations=2)
    return fan if fan.any() else None
