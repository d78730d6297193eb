"""Shared machinery of the pair engines (``multistep``, ``hsyn``): torch only, no Qt.

* :func:`nodata_mask` / :func:`prepare_pair`: real 16-bit imagery arrives with haze (a different
  gain/offset per date) and no-data borders. Every image is rescaled on its own (robust 1st/99th
  percentile of its *valid* pixels -> 0/1), no-data pixels are filled with the nearest valid value
  (so the networks see no artificial edge that does not move with the scene) and a validity mask
  is returned for the losses and the affine fit.
* :func:`phase_correlation`: the global shift ``d`` (row, col) with ``fixed(x) ≈ moving(x + d)`` (a pull translation).
* :func:`affine_prealign`: a global affine pull field per pair (the multistep paper's "A" stage),
  phase-correlation initialised, then Gauss-Newton on a 3-level pyramid (1/4, 1/2, 1) with a linear
  photometric model (gain, offset), masked by validity. Batched over pairs.

Conventions (README: Conventions): images ``(N, 1, H, W)``; fields are pull displacements in pixels
``(N, 2, H, W)``, channels (row, col); ``warp(moving, u) ≈ fixed``.
"""
from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..core import fields
from ..core.nodata import MIN_FRACTION, data_pixels
from .nmsr import noise_variance

__all__ = [
    "nodata_mask",
    "robust_normalize",
    "fill_nodata",
    "prepare_pair",
    "phase_correlation",
    "affine_field",
    "affine_prealign",
    "pad_to_multiple",
    "resample",
]


# ---- no-data, normalisation -------------------------------------------------------------------
def nodata_mask(images: torch.Tensor, min_fraction: float = MIN_FRACTION) -> torch.Tensor:
    """Boolean ``(N, 1, H, W)``: True where an image is **valid** data (:func:`napari_tlreg.core.nodata.data_pixels`).

    No-data = a region of exactly constant value equal to the image's minimum or maximum, that
    touches the image border and covers at least ``min_fraction`` of the image (the fill of a
    scene footprint or a swath edge). Dark or saturated pixels inside the scene stay valid.
    """
    return torch.from_numpy(data_pixels(images.detach().cpu().numpy(), min_fraction)).to(images.device)


def robust_normalize(images: torch.Tensor, valid: torch.Tensor | None = None, low: float = 0.01, high: float = 0.99) -> torch.Tensor:
    """Each image on its own: its ``low``/``high`` quantiles over valid pixels -> 0/1, clipped to [-0.25, 1.25]."""
    n = images.shape[0]
    flat = images.reshape(n, -1)
    out = torch.empty_like(images)
    step = max(1, flat.shape[1] // 16384)  # quantiles from ~16k samples: exact enough, fast
    for i in range(n):
        v = flat[i, ::step]
        if valid is not None:
            m = valid.reshape(n, -1)[i, ::step]
            if m.any():
                v = v[m]
        q = torch.quantile(v.float(), torch.tensor([low, high], device=v.device))
        lo, hi = float(q[0]), float(q[1])
        if not hi > lo:
            lo, hi = float(v.min()), float(v.max())
        scale = 1.0 / (hi - lo) if hi > lo else 0.0
        out[i] = ((images[i] - lo) * scale).clamp(-0.25, 1.25)
    return out


def fill_nodata(images: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """No-data pixels take the value of the nearest valid pixel (no edge where the data stops)."""
    if bool(valid.all()):
        return images
    from scipy import ndimage

    x = images.detach().cpu().numpy().copy()
    m = valid.detach().cpu().numpy()
    for i in range(x.shape[0]):
        if m[i, 0].all() or not m[i, 0].any():
            continue
        idx = ndimage.distance_transform_edt(~m[i, 0], return_distances=False, return_indices=True)
        x[i, 0] = x[i, 0][idx[0], idx[1]]
    return torch.from_numpy(x).to(images.device, images.dtype)


def prepare_pair(moving: torch.Tensor, fixed: torch.Tensor, mask_nodata: bool = True, valid=None):
    """``(N,1,H,W)`` x2 -> normalised, filled moving and fixed, and their validity masks (or ``None``). ``valid``: the
    masks ``(vm, vf)`` (True: data) when the no-data is known (a ``nodata`` value given), else found
    (:func:`nodata_mask`)."""
    if mask_nodata and valid is not None:
        vm, vf = valid
    elif mask_nodata:
        vm, vf = nodata_mask(moving), nodata_mask(fixed)
    else:
        vm = vf = None
    m = robust_normalize(moving, vm)
    f = robust_normalize(fixed, vf)
    if mask_nodata:
        m, f = fill_nodata(m, vm), fill_nodata(f, vf)
    return m, f, vm, vf


# ---- sizes --------------------------------------------------------------------------------------
#: Pairs processed together: as many as fit this many pixels (8 pairs of 256², 2 of 512²), at least one,
#: so memory is bounded by image size, not by the number of frames.
CHUNK_PIXELS = 8 * 256 * 256


def chunk_size(h: int, w: int) -> int:
    """How many ``h x w`` pairs one batch of a pair engine holds (the affine stage runs at full size)."""
    return int(max(1, min(8, CHUNK_PIXELS // max(1, h * w))))


def network_chunk(x: torch.Tensor, chunk: int) -> int:
    """Pairs a pair engine's network runs at once: one on the CPU, where a batch is no faster (8 pairs of 256²: 1.84 s
    as one batch, 0.90 s one by one) and each pair is a point to report progress and take a cancel at; ``chunk``
    on a GPU."""
    return 1 if x.device.type == "cpu" else chunk


class PairSteps:
    """Progress and cancel of a pair engine, one step a network pass of a pair: ``passes`` passes of each of ``n``
    pairs (``total = n·passes``). ``at(first)`` gives the ``step(i, label)`` that :func:`register_pairs` calls before
    the pass of its ``i``-th pair (of a chunk starting at pair ``first``); ``ctx.report`` takes a cancel there."""

    def __init__(self, ctx, n: int, passes: int = 1):
        self.ctx, self.n, self.total, self.done = ctx, n, n * passes, 0

    def at(self, first: int):
        def step(i: int, label: str = "", count: int = 1) -> None:
            """Before the pass of ``count`` pairs from the ``i``-th (one on the CPU, a batch on a GPU)."""
            a = first + i + 1
            which = f"pair {a}" if count == 1 else f"pairs {a}-{a + count - 1}"
            self.ctx.report(self.done, self.total, f"{which} of {self.n}" + (f" ({label})" if label else ""))
            self.done += count
        return step

    def end(self) -> None:
        self.ctx.report(self.total, self.total, f"{self.n} pair(s) registered")


#: Pair engines run at native resolution up to this many times their training size (longer side).
NATIVE_UP_TO = 4


def auto_scale(h: int, w: int, train_size: int) -> float:
    """``scale = 0`` of the pair engines: native resolution while the longer side is at most
    ``NATIVE_UP_TO`` x the training size (after the affine stage only a few pixels of motion are
    left, which the networks resolve best at full resolution: held-out 256 px pairs' landmark error
    0.21 vs 0.26 px for multistep, 0.16 vs 0.20 px for hsyn against half resolution; on the real
    Sentinel-2 pair hsyn's median-shift error 0.14 vs 0.32 px, multistep's 0.17 vs 0.04 px:
    ``benchmarks/pairs.py``), else resampled down to that size (never up)."""
    return float(min(1.0, max(0.125, NATIVE_UP_TO * train_size / max(h, w))))


def pixels_at_once(shape: tuple[int, int, int], scale: float, train_size: int) -> tuple[int, int]:
    """A pair engine's ``Engine.pixels_at_once``: one chunk of pairs at full size (the affine stage) and at the
    resolution the network runs at (``scale``, 0: :func:`auto_scale`)."""
    t, h, w = shape
    s = scale or auto_scale(h, w, train_size)
    n = min(t - 1, chunk_size(h, w))
    return h * w * n, max(1, round(h * s)) * max(1, round(w * s)) * n


def check_scale(engine: str, scale: float) -> None:
    """The ``scale`` parameter of a pair engine: 0 (auto, :func:`auto_scale`) or a factor in [0.125, 2]."""
    if scale != 0.0 and not 0.125 <= scale <= 2.0:
        raise ValueError(f"{engine}: scale must be 0 (auto) or in [0.125, 2], got {scale}")


#: the pair engines' ``nodata`` parameter (multistep, hsyn)
NODATA_HELP = ("the input's no-data value (a satellite tile's fill, e.g. 0 or 65535): its pixels, and only those, are "
               "left out of the intensity scaling, the losses and the figures (not set: a constant border at a frame's "
               "minimum or maximum is found). A GeoTIFF's own value (GDAL_NODATA) fills it in; not taken with "
               "mask_nodata off (which leaves no no-data out)")


def check_nodata(engine: str, params: dict[str, Any]) -> None:
    """The ``nodata`` parameter of a pair engine: None (found) or a finite number (a text from the viewer's form is read
    as one); set in ``params`` as a float."""
    value = params["nodata"]
    if isinstance(value, str) and not value.strip():  # "--param nodata=": none given, found by the rule
        params["nodata"] = value = None
    if value is None:
        return
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ValueError(f"{engine}: nodata must be a number (the input's no-data value, e.g. 0 or 65535), got "
                             f"{params['nodata']!r}") from None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise ValueError(f"{engine}: nodata must be a finite number (the input's no-data value, e.g. 0 or 65535), got "
                         f"{params['nodata']!r}")
    if not params["mask_nodata"]:
        raise ValueError(f"{engine}: nodata={float(value):g} leaves a no-data value out and mask_nodata=False leaves "
                         "none out: give one of them")
    params["nodata"] = float(value)


def given_valid(ctx, reference: int, idx: list[int]):
    """``(vm, vf)`` ``(N, 1, H, W)`` bool (True: data) for the pairs of frames ``idx`` against ``reference`` from the run's
    known no-data (``ctx.nodata``, a ``nodata`` value given), or None (found by each pair)."""
    if ctx.nodata is None:
        return None
    data = ~ctx.nodata
    return data[reference][None, None].expand(len(idx), 1, -1, -1), data[idx][:, None]


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Replicate-pad ``(N, C, H, W)`` at the bottom/right so H, W are multiples; returns the original size.

    Padding only at the end keeps the top-left origin, which the multistep cumulative-sum grid needs.
    """
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode="replicate")
    return x, (h, w)


def resample(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of images (anti-aliased when shrinking), pixel centres on the corners' grid."""
    if tuple(images.shape[-2:]) == tuple(size):
        return images
    shrink = size[0] < images.shape[-2] or size[1] < images.shape[-1]
    return F.interpolate(images, size=size, mode="bilinear", align_corners=True, antialias=shrink)


# ---- global shift ---------------------------------------------------------------------------------
def despike(images: torch.Tensor) -> torch.Tensor:
    """Each pixel of ``images`` ``(N, H, W)`` clamped to the range of its 8 neighbours (edges replicated): a pixel
    brighter or darker than all of them (a camera's hot or dead pixel) takes their nearest value; edges, lines and
    blobs of 2 px or more are kept."""
    padded = F.pad(images[:, None], (1, 1, 1, 1), mode="replicate")[:, 0]
    h, w = images.shape[1:]
    hi = lo = None
    for i in range(3):
        for j in range(3):
            if (i, j) != (1, 1):
                v = padded[:, i:i + h, j:j + w]
                hi = v if hi is None else torch.maximum(hi, v)
                lo = v if lo is None else torch.minimum(lo, v)
    return torch.minimum(torch.maximum(images, lo), hi)


def phase_correlation(moving: torch.Tensor, fixed: torch.Tensor, upsample: int = 20) -> torch.Tensor:
    """Global shift ``d`` ``(N, 2)`` (row, col) with ``fixed(x) ≈ moving(x + d)``: a pull translation.

    Hann-windowed normalised cross-power spectrum of the images :func:`despike`-d; the integer peak is refined by a
    local upsampled DFT (factor ``upsample``, Guizar-Sicairos et al. 2008). Despiked: whitened, a single bright pixel
    weighs as much as the images' structure at every frequency (three hot pixels a frame in a fluorescence
    time-lapse put the peak at their offsets, 5-10 px from the drift, and the affine stage fell back to none).
    """
    n, _, h, w = moving.shape
    dev = moving.device
    win = torch.outer(torch.hann_window(h, periodic=False, device=dev, dtype=torch.float64),
                      torch.hann_window(w, periodic=False, device=dev, dtype=torch.float64))
    a = despike(moving[:, 0].double())
    b = despike(fixed[:, 0].double())
    a = (a - a.mean((1, 2), keepdim=True)) * win
    b = (b - b.mean((1, 2), keepdim=True)) * win
    R = torch.fft.fft2(a) * torch.conj(torch.fft.fft2(b))
    R = R / (R.abs() + 1e-12)
    cc = torch.fft.ifft2(R).abs()
    out = torch.zeros(n, 2, dtype=torch.float64, device=dev)
    region = int(np.ceil(1.5 * upsample))
    kr = (torch.fft.ifftshift(torch.arange(h, device=dev)) - h // 2).double()
    kc = (torch.fft.ifftshift(torch.arange(w, device=dev)) - w // 2).double()
    for i in range(n):
        p = int(torch.argmax(cc[i]))
        pr, pc = divmod(p, w)
        sh = torch.tensor([pr if pr <= h // 2 else pr - h, pc if pc <= w // 2 else pc - w], dtype=torch.float64, device=dev)
        off = region // 2 - sh * upsample
        rr = torch.arange(region, device=dev, dtype=torch.float64)[:, None] - off[0]
        rc = torch.arange(region, device=dev, dtype=torch.float64)[None, :] - off[1]
        row_k = torch.exp(2j * np.pi / (h * upsample) * rr * kr[None, :])
        col_k = torch.exp(2j * np.pi / (w * upsample) * kc[:, None] * rc)
        up = (row_k @ R[i] @ col_k).abs()
        q = int(torch.argmax(up))
        qr, qc = divmod(q, region)
        out[i] = sh + (torch.tensor([qr, qc], dtype=torch.float64, device=dev) - region // 2) / upsample
    return out.to(moving.dtype)


# ---- affine ---------------------------------------------------------------------------------------
def affine_field(theta: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Pull field ``(N, 2, H, W)`` of ``x -> c + A (x - c) + b`` with ``theta = [A (2x2 row-major), b]`` ``(N, 6)``.

    ``c`` is the image centre, coordinates (row, col) in pixels.
    """
    grid = fields.identity_grid(h, w, theta.device, theta.dtype)  # (1, 2, H, W)
    c = torch.tensor([(h - 1) / 2.0, (w - 1) / 2.0], device=theta.device, dtype=theta.dtype).view(1, 2, 1, 1)
    x = grid - c
    A = theta[:, :4].view(-1, 2, 2)
    b = theta[:, 4:].view(-1, 2, 1, 1)
    y = torch.einsum("nij,bjhw->nihw", A, x) + c + b
    return y - grid


def _theta_at_level(theta: torch.Tensor, sr: float, sc: float) -> torch.Tensor:
    """The affine ``theta`` in the pixels of a level whose pixel is ``(sr, sc)`` full-resolution pixels:
    ``A_l = S^-1 A S`` with ``S = diag(sr, sc)``, shift divided by ``S``."""
    th = theta.clone()
    th[:, 4] /= sr
    th[:, 5] /= sc
    th[:, 1] *= sc / sr
    th[:, 2] *= sr / sc
    return th


def _gauss(x: torch.Tensor, sigma: float) -> torch.Tensor:
    if sigma <= 0:
        return x
    r = max(1, int(round(3 * sigma)))
    k = torch.exp(-0.5 * (torch.arange(-r, r + 1, device=x.device, dtype=x.dtype) / sigma) ** 2)
    k = k / k.sum()
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1))
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1))


def _gauss_newton(theta: torch.Tensor, moving: torch.Tensor, fixed: torch.Tensor, valid_moving: torch.Tensor | None,
                  valid_fixed: torch.Tensor | None, levels: tuple[int, ...], iterations) -> torch.Tensor:
    """:func:`affine_prealign`'s Gauss-Newton from ``theta`` ``(N, 6)`` (updated in place and returned)."""
    n, _, h, w = moving.shape
    dt = torch.float32
    if isinstance(iterations, int):
        iterations = (iterations,) * len(levels)
    for lev, n_it in zip(levels, iterations):
        hs, ws = max(8, h // lev), max(8, w // lev)
        sigma = 0.5 * lev if lev > 1 else 0.6
        m = _gauss(resample(moving.to(dt), (hs, ws)), sigma)
        f = _gauss(resample(fixed.to(dt), (hs, ws)), sigma)
        vm = torch.ones_like(m, dtype=torch.bool) if valid_moving is None else resample(valid_moving.to(dt), (hs, ws)) > 0.99
        vf = torch.ones_like(f, dtype=torch.bool) if valid_fixed is None else resample(valid_fixed.to(dt), (hs, ws)) > 0.99
        gr = fields._gradient(m[:, 0], 1)[:, None]
        gc = fields._gradient(m[:, 0], 2)[:, None]
        stack = torch.cat([m, gr, gc, vm.to(dt)], 1)
        # pixel coordinates at this level, relative to the centre, in level pixels
        sr, sc = (h - 1) / max(hs - 1, 1), (w - 1) / max(ws - 1, 1)
        grid = fields.identity_grid(hs, ws, m.device, dt)
        cr, cc = (hs - 1) / 2.0, (ws - 1) / 2.0
        xr, xc = grid[:, 0] - cr, grid[:, 1] - cc
        gain = torch.ones(n, dtype=torch.float64, device=m.device)
        off = torch.zeros(n, dtype=torch.float64, device=m.device)
        for _ in range(n_it):
            u = affine_field(_theta_at_level(theta, sr, sc).to(dt), hs, ws)
            s = fields.warp(stack, u)
            mw, dr, dc, inside = s[:, 0], s[:, 1], s[:, 2], s[:, 3] > 0.99
            wgt = (inside & vf[:, 0] & (u[:, 0] + grid[:, 0] >= 0) & (u[:, 0] + grid[:, 0] <= hs - 1)
                   & (u[:, 1] + grid[:, 1] >= 0) & (u[:, 1] + grid[:, 1] <= ws - 1)).to(dt)
            g = gain.to(dt).view(-1, 1, 1)
            r = g * mw + off.to(dt).view(-1, 1, 1) - f[:, 0]
            # d residual / d params: A (a00 a01 a10 a11) in level units, b (br, bc), gain, offset
            J = torch.stack([g * dr * xr, g * dr * xc, g * dc * xr, g * dc * xc, g * dr, g * dc, mw, torch.ones_like(mw)], -1)
            Jw = J * wgt[..., None]
            H_ = torch.einsum("nhwi,nhwj->nij", Jw, J).double()
            gvec = torch.einsum("nhwi,nhw->ni", Jw, r).double()
            H_ = H_ + 1e-6 * torch.diag_embed(H_.diagonal(dim1=1, dim2=2).abs() + 1e-6)
            delta = -torch.linalg.solve(H_, gvec[..., None])[..., 0]
            delta = torch.nan_to_num(delta)
            # back to full-resolution parameters
            theta[:, 0] += delta[:, 0]
            theta[:, 1] += delta[:, 1] * sr / sc
            theta[:, 2] += delta[:, 2] * sc / sr
            theta[:, 3] += delta[:, 3]
            theta[:, 4] += delta[:, 4] * sr
            theta[:, 5] += delta[:, 5] * sc
            gain = gain + delta[:, 6]
            off = off + delta[:, 7]
            if float(delta[:, 4:6].abs().max()) < 1e-3 and float(delta[:, :4].abs().max()) < 1e-5:
                break
    return theta


def affine_prealign(moving: torch.Tensor, fixed: torch.Tensor, valid_moving: torch.Tensor | None = None,
                    valid_fixed: torch.Tensor | None = None, levels: tuple[int, ...] = (4, 2, 1),
                    iterations: tuple[int, ...] = (12, 12, 4), init_shift: bool = True) -> torch.Tensor:
    """Global affine pull field ``(N, 2, H, W)`` with ``warp(moving, a) ≈ fixed`` (batched, no autograd).

    Gauss-Newton (forward additive) on 6 affine + 2 photometric (gain, offset) parameters, i.e. the
    least squares of ``g·moving(c + A(x - c) + b) + o - fixed(x)`` over valid pixels, coarse to fine
    over the downsampling factors ``levels`` (at most ``iterations[k]`` Gauss-Newton steps at level k),
    initialised by :func:`phase_correlation`. Images and Jacobians in float32, parameters and normal
    equations in float64. A few full-resolution steps matter on real imagery: on the Sentinel-2 pair
    stopping at half resolution moved the shift by 0.2 px (synthetic pairs: < 0.01 px).
    """
    n, _, h, w = moving.shape
    theta = torch.zeros(n, 6, dtype=torch.float64, device=moving.device)
    theta[:, 0] = 1.0
    theta[:, 3] = 1.0
    identity = theta.clone()
    with torch.no_grad():
        if init_shift:
            k = max(1, max(h, w) // 256)  # shift estimate on a <= 256 px image, enough for a start
            # never under 8 px a side (a 16 x 16384 strip came to 0 rows: "output sizes should be greater than 0")
            hs, ws = min(h, max(8, h // k)), min(w, max(8, w // k))
            ms, fs = (resample(moving, (hs, ws)), resample(fixed, (hs, ws))) if k > 1 else (moving, fixed)
            theta[:, 4:] = phase_correlation(ms, fs).double() * torch.tensor([h / ms.shape[-2], w / ms.shape[-1]],
                                                                             dtype=torch.float64, device=theta.device)
        theta0 = theta.clone()  # fallbacks when Gauss-Newton ends somewhere implausible or worse
        theta = _gauss_newton(theta, moving, fixed, valid_moving, valid_fixed, levels, iterations)
        chosen = choose_affine([theta, theta0, identity], moving, fixed, valid_fixed, plausible_affine(theta, h, w),
                               valid_moving=valid_moving)
        lost = ~(chosen == theta).all(1)
        if init_shift and bool(lost.any()):
            # phase correlation's start can be meaningless (smooth frames: whitened, a spectrum without high
            # frequencies is all rounding), Gauss-Newton went astray from it and the pair fell back to no motion (a
            # 2.6 px shift of smooth blobs came back as 0.1 px, without a word): those pairs start again from none
            i = lost.nonzero()[:, 0]
            part = (lambda x: None if x is None else x[i])
            again = _gauss_newton(identity[i].clone(), moving[i], fixed[i], part(valid_moving), part(valid_fixed),
                                  levels, iterations)
            chosen[i] = choose_affine([again, chosen[i], identity[i]], moving[i], fixed[i], part(valid_fixed),
                                      plausible_affine(again, h, w), valid_moving=part(valid_moving))
        theta = chosen
    return affine_field(theta, h, w).to(moving.dtype)


#: An affine pre-alignment is kept only when its linear part scales every direction by a factor in
#: this range, keeps orientation, and its shift stays within half the image; else the pair falls
#: back to the phase-correlation translation (Gauss-Newton can diverge on low-texture pairs such as
#: echo frames: one synthetic echo frame went to a mirror affine, 1,400 px off, before this check).
AFFINE_SCALE_RANGE = (0.5, 2.0)


#: a pair is taken for a date of inverted contrast when none of its candidate alignments has a rank correlation of
#: :data:`INVERTED_PAIR_BELOW` or more and one has -:data:`INVERTED_PAIR_AT` or less (:func:`pair_inverted`)
INVERTED_PAIR_BELOW, INVERTED_PAIR_AT = 0.3, 0.5


#: :func:`choose_affine` ranks the images of a pair smoothed by a Gaussian of :data:`NOISY_SIGMA` px (at the compared
#: size) where white noise is over :data:`NOISY_SHARE` of either image's variance. Resampled between pixels, a noisy
#: image's noise averages away: on frames with 30 % white noise (a share of 0.6) a candidate half a pixel off every
#: pixel correlated better than the right one, and a 0.7 px wrong shift was kept over Gauss-Newton's. Smoothed on
#: every pair, land texture that told a right shift from an affine fitted to clouds was lost (the real image, a share
#: of 0.001; the benchmarks' synthetic pairs 0.002-0.02).
NOISY_SHARE, NOISY_SIGMA = 0.05, 1.0


def _noise_share(images: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
    """Per image ``(N,)``: the variance of white noise in ``images`` ``(N, 1, H, W)`` as a share of their variance, over
    the ``valid`` pixels where given (a no-data border, flat or filled, hid the noise: 30 % white noise beside a 30 %
    border read as a share of 0.008)."""
    w = torch.ones_like(images) if valid is None else valid.float()
    cnt = w.sum((1, 2, 3)).clamp_min(2.0)
    mean = (images * w).sum((1, 2, 3), keepdim=True) / cnt.view(-1, 1, 1, 1)
    var = (((images - mean) ** 2) * w).sum((1, 2, 3)) / (cnt - 1)
    return (noise_variance(images, w).flatten() / var.clamp_min(1e-30)).nan_to_num(0.0)


def choose_affine(candidates: list[torch.Tensor], moving: torch.Tensor, fixed: torch.Tensor,
                  valid_fixed: torch.Tensor | None, first_ok: torch.Tensor, size: int = 128,
                  valid_moving: torch.Tensor | None = None) -> torch.Tensor:
    """Per pair, the candidate affine ``(N, 6)`` whose warp of ``moving`` best matches ``fixed``.

    Cost: 1 - the normalised cross-correlation of the images' ranks (Spearman's) over the valid overlap, on images of
    at most ``size`` px; the first candidate (the Gauss-Newton result) is used only where ``first_ok``. Ranks, not
    values: bright clouds on one date (8 blobs of 2.5x the land's brightest, 6 % of the frame) drew the values' NCC,
    and a Gauss-Newton affine fitted to the clouds 40 px off was kept over the right phase-correlation shift. A noisy
    pair's images are smoothed before they are ranked (:data:`NOISY_SHARE`; its share of noise over the valid pixels,
    ``valid_moving`` and ``valid_fixed``).
    """
    n, _, h, w = moving.shape
    k = max(1, max(h, w) // size)
    hs, ws = max(8, h // k), max(8, w // k)
    vf = torch.ones((n, 1, hs, ws), dtype=torch.bool, device=fixed.device) if valid_fixed is None \
        else resample(valid_fixed.float(), (hs, ws)) > 0.99
    m, f = resample(moving.float(), (hs, ws)), resample(fixed.float(), (hs, ws))
    vm = None if valid_moving is None else resample(valid_moving.float(), (hs, ws)) > 0.99
    noisy = (_noise_share(m, vm) > NOISY_SHARE) | (_noise_share(f, None if valid_fixed is None else vf) > NOISY_SHARE)
    if bool(noisy.any()):
        m = torch.where(noisy.view(-1, 1, 1, 1), _gauss(m, NOISY_SIGMA), m)
        f = torch.where(noisy.view(-1, 1, 1, 1), _gauss(f, NOISY_SIGMA), f)
    m, f = _ranks(m), _ranks(f, vf)
    nccs, small = [], []
    for th in candidates:
        t = _theta_at_level(torch.nan_to_num(th), (h - 1) / max(hs - 1, 1), (w - 1) / max(ws - 1, 1))
        u = affine_field(t.float(), hs, ws)
        mw = fields.warp(m, u)
        pos = fields.identity_grid(hs, ws, u.device, u.dtype) + u
        inside = (pos[:, 0] >= 0) & (pos[:, 0] <= hs - 1) & (pos[:, 1] >= 0) & (pos[:, 1] <= ws - 1)
        wgt = (inside[:, None] & vf).float()
        ncc, cnt = weighted_ncc(mw, f, wgt)
        nccs.append(ncc)
        small.append(cnt < 0.25 * hs * ws)  # an overlap under a quarter of the image is no match
    ncc = torch.stack(nccs)
    # a date of inverted contrast matches at -1: where no candidate correlates and one anti-correlates strongly, the
    # correlation counts by its size (scored 1 - ncc, the right motion, found by Gauss-Newton and phase correlation
    # alike, lost to no motion, 72 px off, without a word; aligned, the inversion is warned of by the registration's
    # check of the warped frames). Else by its sign: a periodic texture half a period off anti-correlates too (a
    # grating's 12.5 px shift was taken for -26 px of an "inverted" date when every pair was scored by the size).
    judged = ncc.clone()
    judged[0] = torch.where(first_ok, ncc[0], torch.zeros_like(ncc[0]))  # a refused candidate says nothing of the pair
    cost = 1.0 - torch.where(pair_inverted(judged), ncc.abs(), ncc) + torch.stack(small).float()
    cost[0] = torch.where(first_ok, cost[0], torch.full_like(cost[0], float("inf")))
    best = cost.argmin(0)
    return torch.stack(candidates)[best, torch.arange(n, device=best.device)]


def pair_inverted(scores: torch.Tensor) -> torch.Tensor:
    """Per pair, from the rank correlations ``scores`` ``(K, N)`` of its candidate alignments: whether it looks like a
    date of inverted contrast (no candidate correlates, one anti-correlates strongly)."""
    return (scores.max(0).values < INVERTED_PAIR_BELOW) & (scores.min(0).values < -INVERTED_PAIR_AT)


def weighted_ncc(a: torch.Tensor, b: torch.Tensor, wgt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image ``(N,)``: the normalised cross-correlation of ``a`` and ``b`` ``(N, 1, H, W)`` over the weights
    ``wgt``, and the weights' sum."""
    cnt = wgt.sum((1, 2, 3)).clamp_min(1.0)
    a = a - (a * wgt).sum((1, 2, 3), keepdim=True) / cnt.view(-1, 1, 1, 1)
    b = b - (b * wgt).sum((1, 2, 3), keepdim=True) / cnt.view(-1, 1, 1, 1)
    ncc = (a * b * wgt).sum((1, 2, 3)) / ((a * a * wgt).sum((1, 2, 3)) * (b * b * wgt).sum((1, 2, 3))).sqrt().clamp_min(1e-12)
    return ncc, cnt


#: the longest side :func:`refinement_helps` compares at (a pair's network runs at 512 px at most by default)
REFINEMENT_CHECK_SIDE = 1024


def refinement_helps(moving: torch.Tensor, fixed: torch.Tensor, refined: torch.Tensor, coarse: torch.Tensor,
                     valid_fixed: torch.Tensor | None = None) -> torch.Tensor:
    """Per pair ``(N,)`` bool: whether ``warp(moving, refined)`` matches ``fixed`` better than ``warp(moving, coarse)``.

    The same measure as :func:`choose_affine` (the correlation of the images' ranks over the pixels each field
    samples inside the image, valid in ``fixed``), at full resolution up to :data:`REFINEMENT_CHECK_SIDE` px (larger
    pairs resampled to it): the networks' refinements differ from the affine stage's by fractions of a pixel. Used by ``multistep``, whose network, fed a pair the affine already
    aligns, adds a jitter of its own (two identical 512 px dates: 0.26 px median; a pure shift at 1500 px, run at
    512 px: 0.58 px, the affine's 0.01).
    """
    n, _, h, w = moving.shape
    vf = torch.ones_like(fixed, dtype=torch.bool) if valid_fixed is None else valid_fixed.bool()
    k = -(-max(h, w) // REFINEMENT_CHECK_SIDE)  # at most that many px a side: ranking 4096² pairs took 6 s each
    if k > 1:
        h, w = -(-h // k), -(-w // k)
        moving, fixed = resample(moving.float(), (h, w)), resample(fixed.float(), (h, w))
        vf = resample(vf.float(), (h, w)) > 0.99
        refined, coarse = fields.resize_field(refined.float(), (h, w)), fields.resize_field(coarse.float(), (h, w))
    m, f = _ranks(moving.float()), _ranks(fixed.float(), vf)
    grid = fields.identity_grid(h, w, moving.device, torch.float32)
    scores = []
    for u in (refined, coarse):
        pos = grid + u.float()
        inside = ((pos[:, 0] >= 0) & (pos[:, 0] <= h - 1) & (pos[:, 1] >= 0) & (pos[:, 1] <= w - 1))[:, None]
        scores.append(weighted_ncc(fields.warp(m, u.float()), f, (inside & vf).float())[0])
    # towards the coarse field's sign where the affine stage took the pair for a date of inverted contrast (it
    # anti-correlates strongly): the better match is the more negative; else a refinement that anti-correlates is no
    # match (and a coarse field that matches nothing, at -0.05, is no inverted date: its right refinement was refused)
    sign = torch.where(scores[1] <= -INVERTED_PAIR_AT, -1.0, 1.0)
    return scores[0] * sign > scores[1] * sign


def _ranks(images: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
    """Each image's values as their ranks among its (valid) pixels, in [0, 1]; equal values share their mean rank
    (ranked in order of position, a flat area became a ramp down the image, which the identity matched best)."""
    n = images.shape[0]
    flat = images.reshape(n, -1)
    out = torch.empty_like(flat)
    for i in range(n):
        v = flat[i] if valid is None else torch.where(valid.reshape(n, -1)[i], flat[i], flat[i].new_tensor(float("inf")))
        _, inverse, counts = torch.unique(v, return_inverse=True, return_counts=True)
        last = torch.cumsum(counts, 0).to(flat.dtype) - 1  # each distinct value's last rank, its first last-count+1
        out[i] = ((last - (counts.to(flat.dtype) - 1) / 2) / max(v.numel() - 1, 1))[inverse]
    return out.reshape(images.shape)


def plausible_affine(theta: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Which of the affines ``theta`` ``(N, 6)`` (see :func:`affine_field`) are plausible: ``(N,)`` bool."""
    A = theta[:, :4].reshape(-1, 2, 2)
    finite = torch.isfinite(theta).all(1)
    A = torch.where(finite[:, None, None], A, torch.eye(2, dtype=A.dtype, device=A.device))
    sv = torch.linalg.svdvals(A)
    lo, hi = AFFINE_SCALE_RANGE
    return (finite & (torch.linalg.det(A) > 0) & (sv.amin(1) >= lo) & (sv.amax(1) <= hi)
            & (theta[:, 4:].abs().amax(1) <= 0.5 * max(h, w)))
