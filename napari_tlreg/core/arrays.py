"""What every public function makes of the arrays it is given (numpy only): a plain numpy array of real numbers in
the machine's byte order, whatever array-like came in (a torch tensor, a view, a memmap, a dask or big-endian array).

Refused, not guessed at: a masked array (its mask would be dropped, the values under it used: an MSE of 12,498,765
where the masked one is 0) and complex numbers (their imaginary part would be dropped)."""
from __future__ import annotations

import numpy as np


def plain(x, name: str = "array", dtype=None) -> np.ndarray:
    """``x`` as a numpy array (``dtype`` if given): a torch tensor detached and brought to the CPU, another byte order
    turned to the machine's; ``ValueError`` for a masked array or complex numbers."""
    if isinstance(x, np.ma.MaskedArray):
        raise ValueError(f"{name} is a masked array, whose mask would be ignored: pass its values (x.filled(...)) and "
                         "the region as the function's mask, where it takes one")
    if hasattr(x, "detach"):  # a torch tensor, without importing torch
        x = x.detach().cpu()
        if x.is_complex():
            raise ValueError(f"{name} must be real numbers, got {x.dtype} (take the magnitude first)")
        x = x.float() if str(x.dtype) == "torch.bfloat16" else x  # numpy has no bfloat16
        x = x.numpy()
    a = np.asarray(x)
    if a.dtype.kind == "c":
        raise ValueError(f"{name} must be real numbers, got dtype {a.dtype} (take the magnitude first)")
    if not a.dtype.isnative:  # FITS, some .npy and TIFF files: torch refuses them
        a = a.astype(a.dtype.newbyteorder("="))
    return a if dtype is None else a.astype(dtype, copy=False)


def recorded_frames(meta) -> list[int] | None:
    """``meta["frames"]`` (a sub-clip's record, ``Sequence[a:b]``, ``register --frames``, the dock's frames A to B; a
    result's provenance) when it is ``[start, stop, step]`` of whole numbers, else None."""
    v = (meta or {}).get("frames") if isinstance(meta, dict) or meta is None else None
    if isinstance(v, list) and len(v) == 3 and all(isinstance(x, int) and not isinstance(x, bool) for x in v):
        return v
    return None


def frame_time_ms(meta) -> float | None:
    """``meta["frame_time_ms"]`` (a reader's: a DICOM's FrameTime or trigger times, a NIfTI's pixdim[4], a video's
    rate; a result's provenance) when it is a positive finite number of milliseconds between frames, else None."""
    v = (meta or {}).get("frame_time_ms") if isinstance(meta, dict) or meta is None else None
    if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_)) \
            and np.isfinite(v) and v > 0:
        return float(v)
    return None
