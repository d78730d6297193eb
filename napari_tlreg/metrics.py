"""Evaluation metrics for registered sequences: overlap, surface distance, landmark error,
intensity similarity and folding, plus a per-frame evaluation table.

Pure numpy/scipy (no torch, no Qt, no napari); ``scipy.ndimage`` is imported on first use so
``import napari_tlreg.metrics`` stays cheap. Conventions (README: Conventions): frames ``(T, H, W)``;
a displacement is a pull field in pixels, ``(T, 2, H, W)``, channels ``(row, col)``; a point ``q``
in frame ``t`` corresponds to ``q + u_t(q)`` in the reference (bilinear sample, border replication).

Definitions chosen here (each is tested against a hand-computed case):

* **Dice** ``2|A∩B| / (|A| + |B|)``. ``label=None`` compares foregrounds (every nonzero id), otherwise the
  pixels equal to ``label``. Two empty sets give ``1.0`` (nothing to disagree on).
* **Hausdorff** is the surface-distance definition of medpy (``hd``/``hd95``): the
  boundary of a mask is the mask minus its erosion by the 4-connected cross (pixels touching
  the image edge count as boundary); for every boundary pixel of ``a`` the Euclidean distance to
  the nearest boundary pixel of ``b`` and vice versa; both sets of distances are pooled and the
  ``percentile`` (numpy's linear interpolation) of the pool is returned; ``percentile=100`` is the
  classical symmetric Hausdorff distance (as MONAI's), ``95`` is medpy's HD95. (MONAI's
  ``compute_hausdorff_distance`` with a percentile takes it of each direction's distances and returns
  the larger: its HD95 can be larger than this one where one mask has a thin part the other lacks.) Distances are between pixel centres,
  in pixels, or in physical units when ``spacing=(row, col)`` is given. Both masks empty: ``0.0``;
  exactly one empty: ``inf``.
* **TRE** (target registration error) of matched points ``(row, col)``: per point the difference
  ``d = moved - target``. ``mean``/``std``/``max`` are over the Euclidean norms ``|d|`` (``std``
  is the population std, ddof=0). Following the multistep paper (002, Tables 1-3: "dx and dy
  represent the distances along the x and y axis ... ds the average error along all axes",
  captioned "errors measured as average euclidean distances"): ``dx`` = mean ``|d_col|``,
  ``dy`` = mean ``|d_row|`` (x = column, y = row) and ``ds`` = mean Euclidean distance (= ``mean``).
  The paper's numbers are consistent with exactly this: dx, dy are multiples of 1/15 (15
  landmarks, integer pixel errors), and ``sqrt(dx² + dy²) <= ds <= dx + dy`` in every row.
* **MSE** mean of ``(a - b)²`` (over ``mask`` if given).
* **LNCC** mean local normalised cross-correlation over ``(2r+1)²`` box windows (VoxelMorph's
  window sums, eps ``1e-5``; radius 4 = the 9x9 window of METHODS.md). Per pixel
  ``cc = cross / sqrt(var_a · var_b + eps)`` (signed, in [-1, 1]); ``squared=True`` gives
  VoxelMorph's loss form ``cross² / (var_a · var_b + eps)``. Windows at the image edge use
  reflected samples (``scipy.ndimage.uniform_filter``'s default); a window where either image is
  flat contributes 0.
* **Folding**: percentage of pixels with ``det(I + ∇u) <= 0``, with ``np.gradient`` differences
  (central inside, one-sided at the edges), the same numbers as ``tl.jacobian_determinant``.
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

import numpy as np

from .core.arrays import plain
from .core.notes import say
from .core.labels import frames_said, labelled_frames

__all__ = [
    "dice",
    "dice_per_label",
    "hausdorff",
    "tre",
    "mse",
    "lncc",
    "negative_jacobian_fraction",
    "folded_percent",
    "map_points",
    "evaluate",
    "summarize",
]

LNCC_EPS = 1e-5
DEFAULT_LNCC_RADIUS = 4  # 9x9 window (TLRN, VoxelMorph)
#: the radius of the mean local CC NMSR's paper reports (METHODS.md), :func:`evaluate`'s ``lncc10``
REPORTED_LNCC_RADIUS = 10


# --------------------------------------------------------------------------- helpers
def _asarray(x, name: str) -> np.ndarray:
    return plain(x, name)


def _label_array(x, name: str) -> np.ndarray:
    """Labels or masks as given (ids or bool), refused where their values are no ids: NaN counted as foreground and
    1.5 as a label of its own (Dice 0.29 where it is 0.97, without a word)."""
    a = _asarray(x, name)
    if a.dtype.kind == "f" and a.size and not (np.isfinite(a).all() and (a == np.round(a)).all()):
        raise ValueError(f"{name}: labels must be whole ids (0 background) or bool, got {a.dtype} values that are not "
                         "(NaN, or fractions: round or threshold them first)")
    if a.dtype.kind not in "biuf":
        raise ValueError(f"{name}: labels must be whole ids (0 background) or bool, got dtype {a.dtype}")
    return a


def _same_shape(a: np.ndarray, b: np.ndarray, what: str = "arrays") -> None:
    if a.shape != b.shape:
        raise ValueError(f"{what} must have the same shape, got {a.shape} and {b.shape}")


def _mask_of(x: np.ndarray, label) -> np.ndarray:
    if label is None:  # the foreground: every label, as a frame with any nonzero id counts as labelled
        return x != 0 if x.dtype != bool else x
    return x == label


def check_spacing(spacing, ndim: int = 2) -> tuple[float, ...] | None:
    """``spacing`` as ``ndim`` positive finite floats (a number: the same on every axis), or None; a clear
    ``ValueError`` otherwise."""
    if spacing is None:
        return None
    try:
        items = [spacing] if np.isscalar(spacing) else list(spacing)
        # a string is no number ("2" was taken as 2 mm, "21" as (2, 1)), nor is True (1 mm)
        if any(isinstance(v, (str, bytes, bool, np.bool_)) for v in items):
            raise TypeError
        s = (float(spacing),) * ndim if np.isscalar(spacing) else tuple(float(v) for v in items)
    except (TypeError, ValueError):  # float's own "could not convert string to float: '1mm'" named no argument
        raise ValueError(f"spacing must be {ndim} numbers (row, col) in the unit's length, or one number; got "
                         f"{spacing!r}") from None
    if len(s) != ndim:
        raise ValueError(f"spacing must have {ndim} values (row, col), got {spacing!r}")
    if not all(math.isfinite(v) and v > 0 for v in s):
        raise ValueError(f"spacing values must be positive and finite, got {spacing!r}")
    return s


def _nan_stats() -> dict:
    return {"mean": math.nan, "std": math.nan, "max": math.nan, "dx": math.nan, "dy": math.nan, "ds": math.nan}


# --------------------------------------------------------------------------- overlap
def dice(a, b, label=None) -> float:
    """Dice coefficient ``2|A∩B| / (|A|+|B|)`` of two label arrays of the same shape.

    ``label=None``: foreground ``a != 0`` vs ``b != 0``; otherwise the pixels equal to ``label``.
    Both sets empty -> ``1.0``. Shape mismatch -> ``ValueError``.
    """
    a = _label_array(a, "a")
    b = _label_array(b, "b")
    _same_shape(a, b, "label arrays")
    ma, mb = _mask_of(a, label), _mask_of(b, label)
    na, nb = int(np.count_nonzero(ma)), int(np.count_nonzero(mb))
    if na + nb == 0:
        return 1.0
    inter = int(np.count_nonzero(ma & mb))
    return 2.0 * inter / (na + nb)


def dice_per_label(a, b) -> dict[int, float]:
    """``{label: dice(a, b, label)}`` for every nonzero label present in ``a`` or ``b``."""
    a = _label_array(a, "a")
    b = _label_array(b, "b")
    _same_shape(a, b, "label arrays")
    labels = np.union1d(np.unique(a), np.unique(b))
    return {int(k): dice(a, b, label=k) for k in labels if k != 0}


# --------------------------------------------------------------------------- surface distance
def _boundary(mask: np.ndarray) -> np.ndarray:
    from scipy import ndimage as ndi

    cross = ndi.generate_binary_structure(mask.ndim, 1)
    return mask & ~ndi.binary_erosion(mask, structure=cross, iterations=1, border_value=0)


def surface_distances(a, b, spacing=None, label=None) -> np.ndarray:
    """Pooled boundary-to-boundary distances (a->b then b->a), 1-D array. Empty if a mask is empty."""
    a = _asarray(a, "a")
    b = _asarray(b, "b")
    _same_shape(a, b, "masks")
    ma, mb = _mask_of(a, label), _mask_of(b, label)
    if not ma.any() or not mb.any():
        return np.zeros(0)
    from scipy import ndimage as ndi

    sp = check_spacing(spacing, a.ndim)
    # the masks' bounding box and 1 px around it: every boundary pixel lies in it and the transform is exact, so the
    # distances are those over the whole frame (Dice/HD of a heart in a 128² cine: 0.55x the time of evaluate)
    box = tuple(slice(max(int(i.min()) - 1, 0), int(i.max()) + 2) for i in np.nonzero(ma | mb))
    ma, mb = ma[box], mb[box]
    ba, bb = _boundary(ma), _boundary(mb)
    dt_b = ndi.distance_transform_edt(~bb, sampling=sp)  # distance to the nearest boundary pixel of b
    dt_a = ndi.distance_transform_edt(~ba, sampling=sp)
    return np.concatenate([dt_b[ba], dt_a[bb]])


def hausdorff(a, b, percentile: float = 100, spacing=None, label=None) -> float:
    """Symmetric (percentile) Hausdorff distance between the boundaries of two masks.

    ``a``, ``b``: label or boolean arrays of the same shape; ``label`` as in :func:`dice`.
    ``percentile=100``: Hausdorff distance; ``95``: HD95 (percentile of the pooled surface
    distances, as medpy). Pixels, or physical units with ``spacing=(row, col)``.
    Both empty -> ``0.0``; one empty -> ``inf``.
    """
    if not 0 <= float(percentile) <= 100:
        raise ValueError(f"percentile must be in [0, 100], got {percentile!r}")
    a = _label_array(a, "a")
    b = _label_array(b, "b")
    _same_shape(a, b, "masks")
    check_spacing(spacing, a.ndim)  # validate even when a mask is empty
    ea, eb = not _mask_of(a, label).any(), not _mask_of(b, label).any()
    if ea and eb:
        return 0.0
    if ea or eb:
        return math.inf
    d = surface_distances(a, b, spacing=spacing, label=label)
    if float(percentile) == 100:
        return float(d.max())
    return float(np.percentile(d, float(percentile)))


# --------------------------------------------------------------------------- landmarks
def tre(moved_points, target_points, spacing=None) -> dict:
    """Target registration error of matched points, each ``(N, 2)`` as ``(row, col)``.

    Returns ``mean``, ``std`` (ddof=0), ``max`` of the Euclidean distances, ``dx`` (mean
    ``|Δcol|``), ``dy`` (mean ``|Δrow|``), ``ds`` (mean Euclidean distance, = ``mean``) and ``n``.
    With ``spacing=(row, col)`` the values are in physical units and the pixel values are added
    under the same keys suffixed ``_px``. ``N = 0`` gives NaNs. Mismatched N -> ``ValueError``.
    """
    m = _asarray(moved_points, "moved_points").astype(np.float64)
    p = _asarray(target_points, "target_points").astype(np.float64)
    if m.ndim == 1 and m.size == 0:
        m = m.reshape(0, 2)
    if p.ndim == 1 and p.size == 0:
        p = p.reshape(0, 2)
    if m.ndim != 2 or m.shape[1] != 2 or p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"points must be (N, 2) (row, col), got {m.shape} and {p.shape}")
    if m.shape[0] != p.shape[0]:
        raise ValueError(f"moved and target points differ in number: {m.shape[0]} vs {p.shape[0]}")
    sp = check_spacing(spacing, 2)

    def stats(d: np.ndarray) -> dict:
        if d.shape[0] == 0:
            return _nan_stats()
        dist = np.sqrt((d**2).sum(axis=1))
        return {
            "mean": float(dist.mean()),
            "std": float(dist.std()),
            "max": float(dist.max()),
            "dx": float(np.abs(d[:, 1]).mean()),
            "dy": float(np.abs(d[:, 0]).mean()),
            "ds": float(dist.mean()),
        }

    d = m - p
    px = stats(d)
    if sp is None:
        return {**px, "n": int(d.shape[0])}
    out = stats(d * np.asarray(sp))
    out.update({f"{k}_px": v for k, v in px.items()})
    out["n"] = int(d.shape[0])
    return out


def sample_field(u, t: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``u[t](q)`` ``(M, 2)`` float64 for fields ``u`` ``(T, 2, H, W)``, frame indices ``t`` ``(M,)`` and points ``q``
    ``(M, 2)`` ``(row, col)``: bilinear, the border's value outside, as :func:`map_points` samples (to the last bit or
    so: scipy's kernel sums in another order), for points of many frames at once and without its checks (the
    point tracking's Newton steps, :meth:`~napari_tlreg.result.RegistrationResult.track_points`)."""
    h, w = u.shape[-2:]
    r, c = np.clip(q[:, 0], 0, h - 1), np.clip(q[:, 1], 0, w - 1)
    r0 = np.clip(np.floor(r).astype(np.int64), 0, max(h - 2, 0))
    c0 = np.clip(np.floor(c).astype(np.int64), 0, max(w - 2, 0))
    r1, c1 = np.minimum(r0 + 1, h - 1), np.minimum(c0 + 1, w - 1)
    fr, fc = (r - r0)[:, None], (c - c0)[:, None]
    at = lambda rr, cc: np.asarray(u[t, :, rr, cc], dtype=np.float64)  # noqa: E731  (M, 2)
    return (at(r0, c0) * (1 - fr) * (1 - fc) + at(r0, c1) * (1 - fr) * fc + at(r1, c0) * fr * (1 - fc)
            + at(r1, c1) * fr * fc)


def map_points(displacement, points) -> np.ndarray:
    """Positions in the reference of points given in the frames: ``q + u_t(q)``.

    displacement: ``(T, 2, H, W)`` (or one field ``(2, H, W)``); points: ``(N, 3)`` ``(t, row, col)``
    (``(N, 2)`` ``(row, col)`` allowed with a single field). ``u_t`` is sampled bilinearly at ``q``
    with border replication outside the image. Returns ``(N, 2)`` ``(row, col)`` float64.
    """
    from scipy import ndimage as ndi

    u = _asarray(displacement, "displacement")
    pts = _asarray(points, "points").astype(np.float64)
    if u.ndim == 3:
        u = u[None]
        if pts.ndim == 2 and pts.shape[1] == 2:
            pts = np.concatenate([np.zeros((pts.shape[0], 1)), pts], axis=1)
    if u.ndim != 4 or u.shape[1] != 2:
        raise ValueError(f"displacement must be (T, 2, H, W) or (2, H, W), got {u.shape}")
    if pts.ndim == 1 and pts.size == 0:
        pts = pts.reshape(0, 3)
    if pts.ndim != 2 or pts.shape[1] != 3:
        raise ValueError(f"points must be (N, 3) (t, row, col), got {pts.shape}")
    out = pts[:, 1:].copy()
    if pts.shape[0] == 0:
        return out
    if not np.isfinite(pts).all():
        raise ValueError("points contain NaN or inf")
    t = np.rint(pts[:, 0])
    if np.any(np.abs(t - pts[:, 0]) > 1e-6):
        raise ValueError("point time indices must be integers")
    t = t.astype(np.int64)
    if t.min() < 0 or t.max() >= u.shape[0]:
        raise ValueError(f"point time index out of range [0, {u.shape[0]}): {t.min()}..{t.max()}")
    h, w = u.shape[-2:]
    for ti in np.unique(t):
        sel = t == ti
        coords = pts[sel, 1:].T  # (2, n): rows, cols
        # only the box around the points, in the field's own type (each click of the Landmarks dock copied two whole
        # 4096² planes to float64, 2-6 s on the GUI thread); the box's edge is the image's where a point lies beyond
        # it, so "nearest" samples the same border
        lo = np.clip(np.floor(coords.min(axis=1)).astype(np.int64) - 1, 0, [h - 1, w - 1])
        hi = np.clip(np.floor(coords.max(axis=1)).astype(np.int64) + 3, 1, [h, w])
        hi = np.maximum(hi, lo + 1)
        local = coords - lo[:, None]
        for ch in range(2):
            box = np.asarray(u[ti, ch, lo[0]:hi[0], lo[1]:hi[1]])
            if box.dtype == np.float16:  # (scipy has no half kernel; the box is small)
                box = box.astype(np.float32)
            out[sel, ch] += ndi.map_coordinates(box, local, order=1, mode="nearest", output=np.float64)
    return out


# --------------------------------------------------------------------------- intensities
def _stack_pair(a, b, mask):
    """The two stacks as given (a frame at a time is made float64 by the callers: a whole float64 copy of each stack,
    and of the reference broadcast for ``mse_before``, was 16 bytes a pixel of the sequence at once), their mask."""
    a = _asarray(a, "a")
    b = _asarray(b, "b")
    _same_shape(a, b, "images")
    if a.ndim not in (2, 3):
        raise ValueError(f"images must be (H, W) or (T, H, W), got {a.shape}")
    single = a.ndim == 2
    if single:
        a, b = a[None], b[None]
    m = None
    if mask is not None:
        m = _asarray(mask, "mask").astype(bool)
        if m.shape == a.shape[1:]:
            m = np.broadcast_to(m, a.shape)
        elif m.shape != a.shape:
            raise ValueError(f"mask shape {m.shape} does not match the images' {a.shape[1:]}")
    return a, b, m, single


def _reduce(per: np.ndarray, single: bool, per_frame: bool):
    if single:
        return float(per[0])
    if per_frame:
        return per
    return float(np.nanmean(per)) if per.size and not np.all(np.isnan(per)) else math.nan


def mse(a, b, mask=None, per_frame: bool = False):
    """Mean squared difference. 2-D -> float; ``(T, H, W)`` -> mean over frames (or the per-frame
    array with ``per_frame=True``). ``mask`` (same shape, or ``(H, W)`` for every frame): mean over
    it; an empty mask gives NaN."""
    a, b, m, single = _stack_pair(a, b, mask)
    per = np.empty(a.shape[0])
    for i in range(a.shape[0]):
        sq = (a[i].astype(np.float64) - b[i].astype(np.float64)) ** 2
        if m is None:
            per[i] = sq.mean()
        else:
            cnt = int(m[i].sum())
            per[i] = np.where(m[i], sq, 0.0).sum() / cnt if cnt else np.nan
    return _reduce(per, single, per_frame)


def _window_size(radius) -> int:
    r = int(radius)
    if r < 0 or r != radius:
        raise ValueError(f"radius must be a non-negative integer, got {radius!r}")
    return 2 * r + 1


def _window_terms(x, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One image's terms of :func:`lncc_map`: its float64 values, window means and window sums of squared deviations
    (taken once for an image scored against several: a frame against its warped and its unwarped reference)."""
    from scipy import ndimage as ndi

    x = np.asarray(x, dtype=np.float64)
    n = float(size**x.ndim)
    mu = ndi.uniform_filter(x, size)
    return x, mu, np.maximum(n * (ndi.uniform_filter(x * x, size) - mu * mu), 0.0)


def _lncc_of_terms(ta, tb, size: int, squared: bool) -> np.ndarray:
    from scipy import ndimage as ndi

    a, mu_a, var_a = ta
    b, mu_b, var_b = tb
    n = float(size**a.ndim)
    # window sums (VoxelMorph's form): sum(x y) - n mu_x mu_y
    cross = n * (ndi.uniform_filter(a * b, size) - mu_a * mu_b)
    if squared:
        return cross * cross / (var_a * var_b + LNCC_EPS)
    cc = cross / np.sqrt(var_a * var_b + LNCC_EPS)
    return np.clip(cc, -1.0, 1.0)


def lncc_map(a, b, radius: int = DEFAULT_LNCC_RADIUS, squared: bool = False) -> np.ndarray:
    """Per-pixel local NCC of two ``(H, W)`` images over ``(2r+1)²`` windows (see module doc)."""
    size = _window_size(radius)
    return _lncc_of_terms(_window_terms(a, size), _window_terms(b, size), size, squared)


def _mean_in(cc: np.ndarray, m) -> float:
    if m is None:
        return float(cc.mean())
    return float(cc[m].mean()) if m.any() else math.nan


def lncc(a, b, radius: int = DEFAULT_LNCC_RADIUS, mask=None, per_frame: bool = False, squared: bool = False):
    """Mean local normalised cross-correlation, ``(2·radius+1)²`` windows (default 9x9), eps 1e-5.

    2-D -> float (1.0 for identical or positively affinely related images textured in every window; a window
    where either is flat counts 0, so an image with flat areas scores below 1 against itself: ``lncc(b, b)`` is the
    best any ``a`` can reach against ``b``, 0.25-0.99 for the bundled samples at radius 4); ``(T, H, W)``
    -> mean over frames, or per frame with ``per_frame=True``. With ``mask``: mean over the mask of the windows'
    CC, each window taken on the whole image (one on the mask's edge sees past it: a sharp edge, such as an echo's
    fan against its black surround, lifts the figure, unregistered frames' more than registered ones').
    ``squared=True``: VoxelMorph's ``cc²`` form (in [0, 1]).
    """
    a, b, m, single = _stack_pair(a, b, mask)
    per = np.empty(a.shape[0])
    for i in range(a.shape[0]):
        cc = lncc_map(a[i], b[i], radius=radius, squared=squared)
        per[i] = _mean_in(cc, None if m is None else m[i])
    return _reduce(per, single, per_frame)


def lncc_after_before(warped, frames, reference: int, radius: int = DEFAULT_LNCC_RADIUS, mask=None):
    """Per-frame ``lncc(warped, frames)`` and ``lncc(frames[reference], frames)``, the same figures as two calls of
    :func:`lncc` give, each image's window terms taken once (the frame's for both, the reference's for every frame):
    6 box filters a frame instead of 10, what evaluating a sequence at the size limit spent most of its time on."""
    a, b, m, _ = _stack_pair(warped, frames, mask)
    if b.ndim != 3:
        raise ValueError(f"frames must be (T, H, W), got {b.shape}")
    size = _window_size(radius)
    ref = _window_terms(b[int(reference)], size)
    after = np.empty(b.shape[0])
    before = np.empty(b.shape[0])
    for i in range(b.shape[0]):
        frame = _window_terms(b[i], size)
        mi = None if m is None else m[i]
        after[i] = _mean_in(_lncc_of_terms(_window_terms(a[i], size), frame, size, False), mi)
        before[i] = _mean_in(_lncc_of_terms(ref, frame, size, False), mi)
    return after, before


# --------------------------------------------------------------------------- folding
def _grad(x: np.ndarray, axis: int) -> np.ndarray:
    if x.shape[axis] < 2:
        return np.zeros_like(x)
    return np.gradient(x, axis=axis)


def jacobian_determinant_np(u) -> np.ndarray:
    """``det(I + ∇u)`` in numpy (``np.gradient``): ``(2, H, W)`` -> ``(H, W)``, ``(T, 2, H, W)`` -> ``(T, H, W)``."""
    u = _asarray(u, "u").astype(np.float64)
    if not (u.ndim in (3, 4) and u.shape[-3] == 2):  # the shape given, not the one with a batch axis added
        raise ValueError(f"displacement must be (2, H, W) or (T, 2, H, W), got {u.shape}")
    if 0 in u.shape:
        raise ValueError(f"displacement is empty, shape {u.shape}: a field needs at least one frame of 1x1 px")
    single = u.ndim == 3
    if single:
        u = u[None]
    ur, uc = u[:, 0], u[:, 1]
    det = (1.0 + _grad(ur, 1)) * (1.0 + _grad(uc, 2)) - _grad(ur, 2) * _grad(uc, 1)
    return det[0] if single else det


def negative_jacobian_fraction(u, per_frame: bool = False, mask=None):
    """Percentage (0..100) of pixels where ``det(I + ∇u) <= 0``.

    ``u``: ``(2, H, W)`` -> float; ``(T, 2, H, W)`` -> percentage over all pixels of all frames,
    or a ``(T,)`` array with ``per_frame=True``. ``mask`` ``(H, W)``: of the pixels inside it only
    (the region a registration was restricted to; outside it nothing fitted the field); an empty
    mask gives NaN.
    """
    u = _asarray(u, "u")
    if u.ndim == 4 and len(u) and u.shape[1] == 2:  # a frame at a time: float64 gradients of one frame held, not all
        per = np.concatenate([folded_percent(jacobian_determinant_np(f)[None], mask) for f in u])  # (2x less peak)
    else:
        det = jacobian_determinant_np(u)
        per = folded_percent(det.reshape(-1, *det.shape[-2:]), mask)
        if det.ndim == 2:
            return float(per[0])
    return per if per_frame else float(per.mean())


def folds(det, mask=None) -> np.ndarray:
    """Bool, ``det``'s shape (``(T, H, W)`` or one frame): the pixels :func:`folded_percent` counts as folded
    (``det <= 0`` or not a number), inside ``mask`` ``(H, W)`` when given: the viewer's folds layer and the montage
    draw these."""
    fold = ~(np.asarray(det) > 0)
    return fold if mask is None else fold & np.asarray(mask, dtype=bool)


def folded_percent(det, mask=None) -> np.ndarray:
    """``(T,)`` percentage of pixels with ``det <= 0`` in each frame of ``det`` ``(T, H, W)``: of the pixels
    inside ``mask`` ``(H, W)`` when given (NaN where it is empty), else of the whole frame. A determinant that is
    not a number counts as folded (a broken field is not a fold-free one)."""
    fold = folds(det)
    if mask is None:
        return 100.0 * fold.reshape(fold.shape[0], -1).mean(axis=1)
    m = _asarray(mask, "mask")
    if m.shape != fold.shape[1:]:
        raise ValueError(f"mask must be (H, W) = {fold.shape[1:]}, got {m.shape}")
    m = m.astype(bool)
    n = int(m.sum())
    return 100.0 * fold[:, m].sum(axis=1) / n if n else np.full(fold.shape[0], np.nan)


# --------------------------------------------------------------------------- evaluation table
def landmarks_inside(landmarks: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Which ``(N, 4)`` rows ``(id, t, row, col)`` lie on a frame of ``size`` ``(H, W)`` (pixel centres ``0 .. H-1``,
    half a pixel of margin), as a bool mask: the evaluation refuses the others, the plots dock leaves them out."""
    h, w = size
    return (landmarks[:, 2] >= -0.5) & (landmarks[:, 2] <= h - 0.5) & (landmarks[:, 3] >= -0.5) & (landmarks[:, 3] <= w - 0.5)


def _landmark_table(landmarks, T: int, size: tuple[int, int] | None = None) -> np.ndarray:
    """``landmarks`` checked as ``(N, 4)`` rows ``(id, t, row, col)`` on ``T`` frames of ``size`` ``(H, W)``
    (:func:`napari_tlreg.landmarks.as_table`, the one check of them all)."""
    from .landmarks import as_table

    return as_table(_asarray(landmarks, "landmarks"), T, size)


def _hd_pair(d: np.ndarray, empty: float = math.inf) -> tuple[float, float]:
    """``(HD, HD95)`` of surface distances ``d``; ``(empty, empty)`` where there are none."""
    return (float(d.max()), float(np.percentile(d, 95))) if d.size else (empty, empty)


def _label_hd(a: np.ndarray, b: np.ndarray, k: int, spacing, suffix: str) -> dict:
    """``hd_<k>`` and ``hd95_<k>`` (+ ``suffix``) of label ``k``: 0 when both lack it, inf when one does."""
    ea, eb = not (a == k).any(), not (b == k).any()
    if ea or eb:
        v = 0.0 if (ea and eb) else math.inf
        return {f"hd_{k}{suffix}": v, f"hd95_{k}{suffix}": v}
    hd, hd95 = _hd_pair(surface_distances(a, b, spacing=spacing, label=k))
    return {f"hd_{k}{suffix}": hd, f"hd95_{k}{suffix}": hd95}


def unannotated_reference(labels, landmarks, reference: int) -> list[str]:
    """What to say when checked ``(T, H, W)`` labels, or ``(N, 4)`` landmarks, have none on the reference frame but
    some elsewhere, or none at all: only the reference's labels are carried to the other frames, and a landmark's error is measured
    against its point on the reference, so Dice and Hausdorff, or TRE, come out empty without a word (expert contours
    drawn on end-diastole and end-systole, the reference left at 0)."""
    notes = []
    if labels is not None and not labels[reference].any():
        drawn = [int(t) for t in labelled_frames(labels)]
        if drawn:
            notes.append(f"the reference frame ({reference}) has no labels, so none are carried to the other frames "
                         f"and Dice and Hausdorff stay empty; labelled frames: {frames_said(drawn)} (register with one "
                         "of them as the reference)")
        else:  # (robustness review) all 0: a run "done", Dice and Hausdorff empty, without a word
            notes.append("the labels hold no label (0 on every frame): nothing is carried to the other frames, and "
                         "Dice and Hausdorff stay empty")
    elif labels is not None:
        ids, counts = np.unique(labels[reference], return_counts=True)
        if len(ids) == 1:  # (fuzzing review) -1 everywhere, an "ignore" mask: Dice 1 and HD 0 on every frame, silently
            notes.append(f"label {int(ids[0])} covers the whole reference frame ({reference}), so carried to every "
                         "frame it covers each whole: its Dice and Hausdorff measure how much of a frame is labelled, "
                         "not the registration (is this a segmentation?)")
    if landmarks is not None and not len(landmarks):  # a landmarks file of its header alone
        notes.append("the landmarks hold no landmark: TRE stays empty")
    if landmarks is not None and len(landmarks) and not (np.asarray(landmarks)[:, 1] == reference).any():
        placed = sorted({int(t) for t in np.asarray(landmarks)[:, 1]})
        notes.append(f"no landmark lies on the reference frame ({reference}), so no landmark has a partner to be "
                     f"measured against and TRE stays empty; landmarks on frames: {frames_said(placed)} (register with "
                     "one of them as the reference)")
    return notes


def reference_only(labels, landmarks, reference: int) -> list[str]:
    """What to say, plainly (no warning: carrying a segmentation through the cycle is a use of its own), when checked
    ``(T, H, W)`` labels, or ``(N, 4)`` landmarks, lie on the reference frame only: they are carried to every frame,
    and with nothing on another frame to score them against, Dice and Hausdorff, or TRE, stay empty (one labels file
    of the reference's gave none, without a word)."""
    notes = []
    if labels is not None and labels.shape[0] > 1 and labels[reference].any() and \
            list(labelled_frames(labels)) == [reference]:
        notes.append(f"labels on the reference frame ({reference}) only: carried to every frame, with no other frame's "
                     "labels to score them against, so no Dice or Hausdorff (label another frame too, as end-systole, "
                     "to score them)")
    if landmarks is not None and len(landmarks) and (np.asarray(landmarks)[:, 1] == reference).all():
        notes.append(f"landmarks on the reference frame ({reference}) only: tracked to every frame, with no other "
                     "frame's to measure them against, so no TRE (place the same ids on another frame to measure it)")
    return notes


def evaluate(result, labels=None, landmarks=None, label_ids: Iterable[int] | None = None, mask="result",
             on_warning=None) -> list[dict]:
    """Per-frame evaluation table of a RegistrationResult: one ``dict`` per frame ``t``.

    Always: ``t``, ``is_reference``, ``mse``, ``mse_before`` (the reference unwarped against the frame), ``lncc``
    (reference warped onto the frame vs the frame, 9x9 LNCC), ``lncc10`` (21x21: the radius NMSR's paper evaluates
    with), ``lncc_before`` and ``lncc10_before`` (the reference unwarped) and ``folding_pct`` (% of pixels with
    ``det(I+∇u) <= 0``, of ``result.jacobian`` where it has one). The image match (``mse``, ``lncc``, ``lncc10``, each before too) and ``folding_pct`` are
    taken over ``mask`` ``(H, W)``:
    by default the region the registration was restricted to (``result.mask``, e.g. NMSR's ``mask``; the whole
    frame when it has none); None: the whole frame.
    With a mask every row also has ``in_mask: True``. A pair engine's result whose input held a no-data fill apart
    from its data (``result.nodata``: a satellite date's 0 border), and no mask, takes ``mse``, ``mse_before``, ``lncc`` and
    ``lncc10`` over the pixels that are data in the frame, the reference and the reference warped onto it
    (``result.data_region``: a 0 border counted gave 1.5 % less MSE where the land's was 16 % less); its rows have
    ``data_only: True``.

    ``labels`` ``(T, H, W)`` (a frame without labels is all zero): the reference frame's labels
    are propagated with ``result.warp_labels`` and compared on every other labelled frame:
    ``dice``, ``hd``, ``hd95`` (foreground, pixels), ``dice_before``/``hd_before``/``hd95_before`` (the
    reference labels unwarped), and ``dice_<k>``, ``hd_<k>``, ``hd95_<k>`` per label when there is
    more than one label (or the ids in ``label_ids``), with ``dice_<k>_before``, ``hd_<k>_before``,
    ``hd95_<k>_before``; a label not drawn on a labelled frame is taken as not
    annotated there (an expert's contours: the epicardium at end-diastole only): its columns are NaN on that frame and
    the foreground figures leave it out. With ``result.spacing``: ``hd_mm``,
    ``hd95_mm``, ``hd_before_mm``, ``hd95_before_mm`` (and ``hd_<k>_mm``, ``hd95_<k>_mm``, ``hd_<k>_before_mm``,
    ``hd95_<k>_before_mm``) too. The
    reference frame and unlabelled frames get NaN.

    ``landmarks`` ``(N, 4)`` rows ``(id, t, row, col)``: on frame ``t``, the ids present both there
    and on the reference; ``moved = map_points(displacement, (t, row, col))`` vs the reference
    positions: ``tre`` (mean), ``tre_std``, ``tre_max``, ``tre_dx`` (mean |Δcol|), ``tre_dy`` (mean
    |Δrow|), ``tre_n``, and ``tre_before`` (mean distance without registration). With spacing the
    same keys suffixed ``_mm`` (physical units). NaN on the reference and on frames without matches.

    Labels or landmarks with none on the reference frame (so Dice and Hausdorff, or TRE, are NaN on every frame) are
    said: a ``UserWarning``, or ``on_warning(message)`` (:func:`unannotated_reference`).
    """
    if not all(hasattr(result, k) for k in ("frames", "warped", "displacement", "reference")):  # (API review)
        raise TypeError(f"evaluate takes a RegistrationResult (tl.register(...) or RegistrationResult.load(folder)), "
                        f"got {type(result).__name__}")
    frames = _asarray(result.frames, "frames")
    warped = _asarray(result.warped, "warped")
    disp = _asarray(result.displacement, "displacement")
    if frames.ndim != 3:
        raise ValueError(f"result.frames must be (T, H, W), got {frames.shape}")
    T = frames.shape[0]
    ref = int(result.reference)
    if not 0 <= ref < T:
        raise ValueError(f"reference {ref} out of range [0, {T})")
    spacing = check_spacing(getattr(result, "spacing", None), 2)
    nan = math.nan

    region = getattr(result, "mask", None) if isinstance(mask, str) and mask == "result" else mask
    # the input's no-data fill left out of the image match (a satellite date's 0 border)
    data = getattr(result, "data_region", None) if region is None and isinstance(mask, str) else None
    matched = region if data is None else data
    mse_t = mse(warped, frames, mask=matched, per_frame=True)
    # (a cohort's local CC said nothing beside nothing: 0.644 on a slice, registration's gain unknown; review)
    lncc_t, lncc_before_t = lncc_after_before(warped, frames, ref, mask=matched)
    lncc10_t, lncc10_before_t = lncc_after_before(warped, frames, ref, radius=REPORTED_LNCC_RADIUS, mask=matched)
    unwarped = np.broadcast_to(frames[ref], frames.shape)
    mse_before_t = mse(unwarped, frames, mask=matched, per_frame=True)
    det = getattr(result, "jacobian", None)  # the result's own (the folds layer's, the dock's "worst folding"): one
    # computed again here, in float64, counted another fold % where a determinant lay within rounding of 0
    fold_t = folded_percent(det, region) if det is not None and np.shape(det) == frames.shape else \
        negative_jacobian_fraction(disp, per_frame=True, mask=region)
    rows: list[dict[str, Any]] = [
        {
            "t": t,
            "is_reference": t == ref,
            "mse": float(mse_t[t]),
            "mse_before": float(mse_before_t[t]),
            "lncc": float(lncc_t[t]),
            "lncc_before": float(lncc_before_t[t]),
            "lncc10": float(lncc10_t[t]),
            "lncc10_before": float(lncc10_before_t[t]),
            "folding_pct": float(fold_t[t]),
            **({"in_mask": True} if region is not None else {}),
            **({"data_only": True} if data is not None else {}),
        }
        for t in range(T)
    ]

    if labels is not None:
        from .core.labels import as_label_ids

        lab = as_label_ids(_asarray(labels, "labels"))
        if lab.shape != frames.shape:
            raise ValueError(f"labels must have the frames' shape {frames.shape}, got {lab.shape}")
        ref_lab = lab[ref]
        if label_ids is not None:
            ids = [int(k) for k in label_ids]
        else:
            present = [int(k) for k in np.unique(lab) if k != 0]
            ids = present if len(present) > 1 else []
        propagated = None
        if ref_lab.any():
            propagated = _asarray(result.warp_labels(ref_lab), "propagated labels")
            if propagated.shape != frames.shape:
                raise ValueError(f"warp_labels returned {propagated.shape}, expected {frames.shape}")
        ref_ids = np.unique(ref_lab[ref_lab != 0])
        for t, row in enumerate(rows):
            keys = ["dice", "hd", "hd95", "dice_before", "hd_before", "hd95_before"]
            if spacing is not None:
                keys += ["hd_mm", "hd95_mm", "hd_before_mm", "hd95_before_mm"]
            vals = dict.fromkeys(keys, nan)
            for k in ids:
                vals.update({f"dice_{k}": nan, f"hd_{k}": nan, f"hd95_{k}": nan,
                             f"dice_{k}_before": nan, f"hd_{k}_before": nan, f"hd95_{k}_before": nan})
                if spacing is not None:
                    vals.update({f"hd_{k}_mm": nan, f"hd95_{k}_mm": nan, f"hd_{k}_before_mm": nan,
                                 f"hd95_{k}_before_mm": nan})
            # the labels drawn on both this frame and the reference: a label on one of them only (Sunnybrook: the
            # epicardium at ED only) is not annotated on the other; it is left out of the foreground, and its own
            # columns stay NaN. (Drawn here but not on the reference, it was kept: nothing could be carried to it,
            # and the foreground's Dice read 0.70 where the labels on both read 0.88, its own Dice 0, its HD inf.)
            frame_ids = np.unique(lab[t][lab[t] != 0])
            drawn = np.intersect1d(ref_ids, frame_ids)
            if t != ref and propagated is not None and drawn.size:
                pt, mt, before = propagated[t], lab[t], ref_lab
                if not (np.array_equal(ref_ids, drawn) and np.array_equal(frame_ids, drawn)):
                    pt, mt, before = (np.where(np.isin(a, drawn), a, 0) for a in (pt, mt, ref_lab))
                # no distances: both foregrounds empty (0, as hausdorff() says) or one of them (inf)
                none = 0.0 if not (_mask_of(pt, None).any() or _mask_of(mt, None).any()) else math.inf
                vals["dice"] = dice(pt, mt)
                vals["hd"], vals["hd95"] = _hd_pair(surface_distances(pt, mt), none)
                vals["dice_before"] = dice(before, mt)
                # the frame's labels are not empty here; the reference's (of the labels drawn here) may be
                vals["hd_before"], vals["hd95_before"] = _hd_pair(surface_distances(before, mt))
                if spacing is not None:
                    vals["hd_mm"], vals["hd95_mm"] = _hd_pair(surface_distances(pt, mt, spacing=spacing), none)
                    vals["hd_before_mm"], vals["hd95_before_mm"] = _hd_pair(surface_distances(before, mt, spacing=spacing))
                for k in ids:
                    if k not in drawn:
                        continue  # not annotated on both frames: NaN
                    vals[f"dice_{k}"] = dice(pt, mt, label=k)
                    vals[f"dice_{k}_before"] = dice(before, mt, label=k)
                    vals.update(_label_hd(pt, mt, k, None, ""))
                    vals.update(_label_hd(before, mt, k, None, "_before"))
                    if spacing is not None:
                        vals.update(_label_hd(pt, mt, k, spacing, "_mm"))
                        vals.update(_label_hd(before, mt, k, spacing, "_before_mm"))
            row.update(vals)

    if landmarks is not None:
        lm = _landmark_table(landmarks, T, frames.shape[1:])
        ref_pos = {int(r[0]): r[2:4] for r in lm[lm[:, 1] == ref]}
        base = ["tre", "tre_std", "tre_max", "tre_dx", "tre_dy", "tre_before"]
        for t, row in enumerate(rows):
            vals: dict[str, Any] = dict.fromkeys(base, nan)
            vals["tre_n"] = 0
            if spacing is not None:
                vals.update({f"{k}_mm": nan for k in base})
            sel = lm[(lm[:, 1] == t) & np.isin(lm[:, 0], list(ref_pos))] if t != ref else lm[:0]
            if sel.shape[0]:
                q = sel[:, 2:4]
                p = np.stack([ref_pos[int(i)] for i in sel[:, 0]])
                moved = map_points(disp, np.column_stack([np.full(len(q), t), q]))
                after = tre(moved, p, spacing=spacing)
                before = tre(q, p, spacing=spacing)
                sfx = "_px" if spacing is not None else ""
                vals.update(
                    tre=after["mean" + sfx], tre_std=after["std" + sfx], tre_max=after["max" + sfx],
                    tre_dx=after["dx" + sfx], tre_dy=after["dy" + sfx], tre_before=before["mean" + sfx],
                    tre_n=int(after["n"]),
                )
                if spacing is not None:
                    vals.update(
                        tre_mm=after["mean"], tre_std_mm=after["std"], tre_max_mm=after["max"],
                        tre_dx_mm=after["dx"], tre_dy_mm=after["dy"], tre_before_mm=before["mean"],
                    )
            row.update(vals)
    notes = unannotated_reference(lab if labels is not None else None, lm if landmarks is not None else None, ref)
    for note in notes:  # every Dice, Hausdorff or TRE NaN, and nothing said (the CLI, batch and viewer said it)
        say(on_warning, note)
    return rows


def summarize(rows: Sequence[dict], reference: int | None = None) -> dict:
    """Mean over the non-reference frames of every numeric column, ignoring NaN; a count (``tre_n``: a column
    named ``*_n``) is summed, a maximum (``tre_max``, ``tre_max_mm``) is the largest, and the other TRE columns are
    pooled over every landmark pair (each frame weighted by its ``tre_n``; ``tre_std`` the pooled deviation).

    The reference row is the one with ``is_reference`` true (or ``t == reference`` when given).
    ``t`` and ``is_reference`` are left out; a column that is NaN everywhere gives NaN. Also
    ``n_frames``: the number of frames averaged, and ``in_mask`` / ``data_only`` (True) where the rows have them (the
    MSE and local CC taken in a mask, or with the input's no-data left out: a summary beside another's said nothing).
    """
    def is_ref(r: dict) -> bool:
        if reference is not None:
            return int(r.get("t", -1)) == int(reference)
        return bool(r.get("is_reference", False))

    kept = [r for r in rows if not is_ref(r)]
    cols: list[str] = []
    for r in rows:
        for k, v in r.items():
            if k in ("t", "is_reference") or k in cols:
                continue
            # None is a missing number (a table cleaned for JSON): a column of nothing else still gives NaN
            if isinstance(v, (bool, np.bool_)) or not (v is None or isinstance(v, (int, float, np.integer, np.floating))):
                continue
            cols.append(k)
    def column(k: str) -> np.ndarray:
        return np.array([float(r[k]) if isinstance(r.get(k), (int, float, np.integer, np.floating))
                         and not isinstance(r.get(k), (bool, np.bool_)) else math.nan for r in kept], dtype=np.float64)

    out: dict[str, float] = {}
    pairs = column("tre_n") if "tre_n" in cols else None
    for k in cols:
        vals = column(k)
        if pairs is not None and k.startswith("tre") and not (k.endswith("_n") or k.startswith("tre_max")):
            out[k] = _pooled(k, vals, pairs, column)
            continue
        vals = vals[~np.isnan(vals)]
        reduce = np.sum if k.endswith("_n") else np.max if k.endswith("_max") or k.startswith("tre_max") else np.mean
        out[k] = float(reduce(vals)) if vals.size else math.nan
        if k.endswith("_n") and vals.size:
            out[k] = int(out[k])  # a count (metrics.json said 18.0)
    out["n_frames"] = len(kept)
    for flag in ("in_mask", "data_only"):  # where the image match was taken, as the rows say it
        if any(r.get(flag) is True for r in kept):
            out[flag] = True
    return out


def _pooled(k: str, vals: np.ndarray, pairs: np.ndarray, column) -> float:
    """A TRE column over every landmark pair of the frames (each frame's figure weighted by its pairs; a standard
    deviation pooled from the frames' means and deviations), as ``tre.csv``'s ``all`` row and the Landmarks dock's
    pooled row give it: the mean of the frames' means (3.115 against the pooled 3.427 px for 6, 2 and 6 pairs) was
    put beside the pooled count, ``tre_n``."""
    ok = ~np.isnan(vals) & (pairs > 0)
    if not ok.any():
        return math.nan
    n = pairs[ok]
    if "_std" not in k:
        return float((vals[ok] * n).sum() / n.sum())
    means = column(k.replace("_std", ""))[ok]  # tre_std -> tre, tre_std_mm -> tre_mm
    grand = (means * n).sum() / n.sum()
    return float(np.sqrt((n * (vals[ok] ** 2 + (means - grand) ** 2)).sum() / n.sum()))
