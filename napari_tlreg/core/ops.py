"""The public, numpy-facing deformation functions (``tl.warp`` etc.).

Inputs are numpy arrays or torch tensors; outputs are numpy arrays. float64 input is
computed in float64, everything else in float32. Shapes follow README: Conventions:
a field is ``(2, H, W)`` or ``(T, 2, H, W)``, pixels, channels ``(row, col)``, pull.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from . import fields as _f
from .arrays import plain
from .notes import user_stacklevel

__all__ = ["warp", "integrate_velocity", "compose", "invert", "jacobian_determinant", "resolve_device"]


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; ``"cuda"`` without a GPU raises ``ValueError``."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        dev = None
    if dev is None or dev.type not in ("cpu", "cuda"):  # mps, meta, xpu...: torch fails far inside, unclearly
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was requested but no CUDA GPU is available (use 'auto' or 'cpu')")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        n = torch.cuda.device_count()  # torch's own "invalid device ordinal" comes far inside a run
        raise ValueError(f"device {device!r}: this machine has {n} CUDA GPU{'s' if n != 1 else ''} "
                         f"(cuda:0{f' .. cuda:{n - 1}' if n > 1 else ''})")
    return dev


def _tensor(x, dtype=None, device=None, name: str = "input") -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        if x.is_complex():
            plain(x)  # its ValueError
        t = x
    else:
        a = np.ascontiguousarray(plain(x))
        if a.dtype.kind == "f" and a.dtype.itemsize > 8:  # long double: torch has none
            a = a.astype(np.float64)
        if a.dtype.kind not in "biuf":  # None, text: torch's "can't convert np.ndarray of type numpy.object_" (API review)
            raise ValueError(f"{name} must be an array of numbers, got "
                             + (f"an array of dtype {a.dtype}" if np.ndim(x) else repr(x)[:60]))
        # torch warns of "undefined behavior" on a read-only array (a memmap, np.load(mmap_mode="r")): a copy
        t = torch.as_tensor(a if a.flags.writeable else a.copy())
    if dtype is not None:
        t = t.to(dtype)
    if device is not None:
        t = t.to(device)
    return t


def _float_dtype(*arrays) -> torch.dtype:
    def wide(a) -> bool:  # '>f8' (big-endian) is float64 too
        dt = getattr(a, "dtype", None)
        return dt == torch.float64 or (isinstance(dt, np.dtype) and dt.kind == "f" and dt.itemsize == 8)
    return torch.float64 if any(wide(a) for a in arrays) else torch.float32


def _field(u, name: str = "displacement") -> tuple[torch.Tensor, bool]:
    """Validate a field; return it batched ``(N, 2, H, W)`` and whether it was a single frame."""
    dt = _float_dtype(u)
    t = _tensor(u, dt, name=name)
    if not bool(torch.isfinite(t).all()):  # a broken field would warp to plausible values and count as fold-free
        bad = int((~torch.isfinite(t)).sum())
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s)")
    if t.ndim in (3, 4) and t.shape[-3] == 2 and 0 in t.shape:  # torch's grid_sampler error came from deep inside
        raise ValueError(f"{name} is empty, shape {tuple(t.shape)}: a field needs at least one frame of 1x1 px")
    if t.ndim == 3 and t.shape[0] == 2:
        return t[None], True
    if t.ndim == 4 and t.shape[1] == 2:
        return t, False
    raise ValueError(f"{name} must have shape (2, H, W) or (T, 2, H, W), got {tuple(t.shape)}")


def _out(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def warp(image, displacement, order: int = 1) -> np.ndarray:
    """Pull ``image`` through ``displacement``: ``out(x) = image(x + u(x))``.

    - image ``(H, W)`` or ``(C, H, W)`` with a field ``(2, H, W)`` -> same shape as image;
    - image ``(T, H, W)`` with fields ``(T, 2, H, W)`` -> ``(T, H, W)``, frame by frame;
    - image ``(H, W)`` with fields ``(T, 2, H, W)`` -> ``(T, H, W)`` (one image through every field).
    order: 1 bilinear (the default, for every dtype), 0 nearest (labels: the README's Conventions warp them with
    ``order=0``, as :meth:`RegistrationResult.warp_labels` does), 3 bicubic. Integer images come back in their own
    dtype (interpolated values rounded and clipped into it), float images in theirs (computed in float64 where either
    the image or the field is; a float32 image through numpy's float64 field came back float64).
    """
    img_np = plain(image, "image") if not isinstance(image, torch.Tensor) else None
    img_dtype = img_np.dtype if img_np is not None else None
    is_int = (img_dtype is not None and (img_dtype.kind in "iub")) or (
        isinstance(image, torch.Tensor) and not image.is_floating_point()
    )
    u, single = _field(displacement)
    h, w = u.shape[-2:]
    img = _tensor(image if img_np is None else (img_np.astype(np.int64) if img_dtype.kind == "b" else img_np), name="image")
    if tuple(img.shape[-2:]) != (h, w) or img.ndim not in (2, 3):
        raise ValueError(f"image shape {tuple(img.shape)} does not match field {(2, h, w) if single else tuple(u.shape)}")
    # one device for both (a GPU tensor beside a numpy array: "Expected all tensors to be on the same device")
    if u.device != img.device:
        if img.device.type == "cpu":
            img = img.to(u.device)
        else:
            u = u.to(img.device)
    if img.dtype == torch.float64:  # float64 in: computed in float64, whatever the field's dtype
        u = u.to(torch.float64)
    if is_int and order == 0:  # labels: exact for any integer (fields.warp picks each value whole)
        work = img
    else:
        # integers wider than float32's 24-bit mantissa are interpolated in float64 (16777217 stays 16777217)
        wide = is_int and img.dtype not in (torch.bool, torch.uint8, torch.int8, torch.int16, torch.uint16)
        work = img.to(torch.float64 if wide else u.dtype)
    if single:
        src = work[None, None] if work.ndim == 2 else work[None]
        out = _f.warp(src, u.to(src.dtype) if src.is_floating_point() else u, order)[0]
        out = out[0] if img.ndim == 2 else out
    else:
        if img.ndim == 2:
            src = work[None, None]
        elif img.shape[0] == u.shape[0]:
            src = work[:, None]
        else:
            raise ValueError(f"image stack {tuple(img.shape)} and fields {tuple(u.shape)} differ in length")
        out = _f.warp(src, u.to(src.dtype) if src.is_floating_point() else u, order)[:, 0]
    if is_int:
        # in the image's own dtype: numpy's, or the torch tensor's
        own = img_dtype if img_dtype is not None else torch.empty(0, dtype=image.dtype).numpy().dtype
        if out.is_floating_point():  # bicubic overshoots the values it interpolates: clipped, not wrapped round
            out = _f.round_into(out, torch.from_numpy(np.empty(0, own)).dtype)
        return _out(out).astype(own)
    try:  # in the image's own float dtype (bfloat16, which numpy has not, as computed)
        own = img_dtype if img_dtype is not None else torch.empty(0, dtype=image.dtype).numpy().dtype
    except TypeError:
        own = None
    return _out(out) if own is None else _out(out).astype(own, copy=False)


def integrate_velocity(velocity, steps: int = 7) -> np.ndarray:
    """Scaling and squaring: stationary velocity ``(2, H, W)`` or ``(T, 2, H, W)`` (pixels) -> displacement, same shape."""
    # a whole number of squarings (1.5 ran 1 and "7" ran 7, without a word): refused as check_reference refuses 1.0
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"steps must be a whole number of squarings >= 0, got {steps!r}")
    v, single = _field(velocity, "velocity")
    u = _f.integrate_velocity(v, int(steps))
    return _out(u[0] if single else u)


def compose(a, b) -> np.ndarray:
    """The field ``c`` with ``warp(warp(I, a), b) == warp(I, c)``: ``c(x) = b(x) + a(x + b(x))``."""
    ta, sa = _field(a, "a")
    tb, sb = _field(b, "b")
    if ta.shape[-2:] != tb.shape[-2:]:
        raise ValueError(f"fields differ in size: {tuple(np.shape(a))} vs {tuple(np.shape(b))}")
    if len(ta) != len(tb) and 1 not in (len(ta), len(tb)):  # (it said "batch mismatch: image ... vs field ...")
        raise ValueError(f"a has {len(ta)} fields and b {len(tb)}: give as many of each, or one of either")
    dt = torch.promote_types(ta.dtype, tb.dtype)
    dev = tb.device if ta.device.type == "cpu" else ta.device  # a GPU tensor beside a numpy array: on the tensor's
    c = _f.compose(ta.to(device=dev, dtype=dt), tb.to(device=dev, dtype=dt))
    return _out(c[0] if (sa and sb) else c)


#: the residual (px) above which :func:`invert` warns that what it returns is no inverse: ``max |v + u(x + v)|``, or
#: where ``u`` folds, the larger of it and ``max |u + v(x + u)|`` (where ``x + u(x)`` lies in the frame)
INVERSE_TOLERANCE = 0.5


def invert(u, iterations: int = 100, tol: float = 1e-4) -> np.ndarray:
    """Inverse displacement (fixed-point iteration, Newton's steps where it stalls): ``compose(u, invert(u)) ≈ 0``. Shape as ``u``.

    Warns (``UserWarning``) where the residual ``compose(u, v) = v + u(x + v)``, or where ``u`` folds either it or
    ``compose(v, u) = u + v(x + u)`` (where ``x + u(x)`` lies in the frame, where ``v`` is known), stays above :data:`INVERSE_TOLERANCE` px: where
    ``x + u(x)`` folds no inverse exists (a field folded on 37 % of its pixels came back 23.5 px off, without a word;
    over a fold the first can be solved, one of several points taken, and the second is 5.7 px off: math review)."""
    v, residual, folded = inverse_of(u, iterations, tol)
    if residual > INVERSE_TOLERANCE:
        import warnings

        if folded:
            t, pct = folded
            why = (f": the field{f' of frame {t}' if t is not None else ''} folds on {pct:.3g} % of its pixels, where "
                   "no inverse exists")
        else:  # more iterations did not help a strong shrink (its inverse reads beyond the frame's border)
            why = f": where it does not fold, its inverse may read beyond the frame's border (or need more than {iterations} iterations)"
        warnings.warn(f"invert: the inverse is off by up to {residual:.3g} px (compose(u, inverse) and "
                      f"compose(inverse, u) should be 0){why}",
                      UserWarning, stacklevel=user_stacklevel())
    return v


def inverse_of(u, iterations: int = 100, tol: float = 1e-4, init=None) -> tuple[np.ndarray, float, tuple[int | None, float] | None]:
    """:func:`invert`'s inverse without its warning, with its residual (px: ``max |v + u(x + v)|``, where ``u`` folds
    the larger of it and ``max |u + v(x + u)|`` where ``x + u(x)`` lies in the frame) and, where that is
    above :data:`INVERSE_TOLERANCE` and ``u`` folds, ``(frame, %)``: the frame that folds most (None for one field) and
    the % of its pixels with det <= 0 (else None); for a caller that checks what it needs of it itself. ``init``: an
    inverse to start from, ``u``'s shape (an engine's learned one)."""
    # (API review) -1 and 0 returned -u without a word (its error 0.18 px where the default reaches 4e-5), 2.5 ran 2
    if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)) or iterations < 1:
        raise ValueError(f"iterations must be a whole number >= 1, got {iterations!r}")
    try:  # (10**400 raised OverflowError)
        number = float(tol) if not isinstance(tol, bool) and isinstance(tol, (int, float, np.integer, np.floating)) else None
    except OverflowError:
        number = None
    if number is None or not 0 < number < math.inf:
        raise ValueError(f"tol must be a number > 0 (px), got {repr(tol)[:40]}")
    t, single = _field(u)
    start = None
    if init is not None:
        start, _ = _field(init)
        if start.shape != t.shape:
            raise ValueError(f"init must have the field's shape {tuple(t.shape)}, got {tuple(start.shape)}")
    v = _f.invert(t, iterations=int(iterations), tol=float(tol), init=start)
    residual = float((v + _f.warp(t, v)).abs().amax()) if v.numel() else 0.0
    back = _back_residual(t, v) if v.numel() else 0.0
    folded = None
    if max(residual, back) > INVERSE_TOLERANCE:
        pct = (_f.jacobian_determinant(t) <= 0).flatten(1).double().mean(1) * 100  # a frame's share, not the stack's
        k = int(pct.argmax())
        folded = (None if single else k, float(pct[k])) if float(pct[k]) > 0 else None
        if folded:  # (where it does not fold, compose(v, u) is off by v's interpolation alone: 0.9 px in a 3x zoom)
            residual = max(residual, back)
    return _out(v[0] if single else v), residual, folded


def _back_residual(u: torch.Tensor, v: torch.Tensor) -> float:
    """``max |u + v(x + u)|`` (``compose(v, u)``) over the pixels whose ``x + u(x)`` lies in the frame (elsewhere ``v`` is
    read at the border's value, and a rotation's corners would be "off")."""
    h, w = u.shape[-2:]
    rows = torch.arange(h, dtype=u.dtype, device=u.device).view(1, h, 1) + u[:, 0]
    cols = torch.arange(w, dtype=u.dtype, device=u.device).view(1, 1, w) + u[:, 1]
    inside = (rows >= 0) & (rows <= h - 1) & (cols >= 0) & (cols <= w - 1)
    back = (u + _f.warp(v, u)).abs().amax(1)
    return float(back[inside].max()) if bool(inside.any()) else 0.0


def jacobian_determinant(u) -> np.ndarray:
    """``det(I + ∇u)`` with central differences: ``(2, H, W)`` -> ``(H, W)``, ``(T, 2, H, W)`` -> ``(T, H, W)``."""
    t, single = _field(u)
    j = _f.jacobian_determinant(t)
    return _out(j[0] if single else j)
