"""NMSR: neural multi-scale self-supervised registration (paper 003), fast on a CPU.

No training set is needed: a U-Net ``N(M, I; θ)`` that maps a (moving, fixed) pair to a pull
displacement is *optimised on the sequence in front of the user*, one scale after another
(1/8, 1/4, 1/2, 1 by default), with

    loss(θ^s) = mean over pairs [ -LNCC_r(warp(M^s, F̃^s), I^s) + λ · Grad_l2(F̃^s) ]

(LNCC in the squared form of the paper's eq. 3, box windows of radius ``r`` = 6, averaged over
the mask; Grad_l2 as in :func:`~napari_tlreg.engines.nets.grad_l2`). All frame pairs of a scale
are one batch, so one Adam step moves every pair (the forward/backward passes run over blocks of
pairs, ``BLOCK_PIXELS`` at a time, with gradients accumulated: the same loss, bounded memory).

One network per pair at the fine scales (``pair_networks_from``, default 1/2; the paper shares one
network between all pairs of a sequence, ``pair_networks_from=2``). A shared network has to be one
function for every pair, and with the ~100 iterations of a scale it pulls each pair's field towards
the others': on the cardiac phantoms, near-still frames got part of the twist of the contracted
ones and the contracted ones too little (phantom 50007, frame 10 of 12, true motion < 0.6 px: the
myocardium propagated with the shared network lost 0.05 Dice against the same pair optimised
alone). The pairs' networks start from the shared one of the previous scale, run together as one
network with a group of channels per pair (grouped convolutions over stacked weights: one Adam step
for all, which, Adam working element by element, moves each network as if it were alone), and each
stops on its own loss plateau.

``loss_octaves`` (default 1): the loss of scale ``s`` is taken at scale ``min(1, 2^k s)``: the field
is still that of scale ``s`` (the network's output, upsampled and composed, eq. 4), but it is judged
on detail it cannot resolve itself. Texture is what shows the phantoms' twist, and at 1/8 or 1/4 it
is averaged away: with the loss at the field's own scale, the coarse scales recovered 3 % and 24 % of
the twist of phantom 50007, leaving the rest to the finer residuals, which λ·‖∇F̃‖² shrinks.
The finer loss is taken only where its image is at most ``loss_octave_limit`` (128) px, the root of
its area: on larger frames the field's own scale has detail enough, and the finer loss is what costs
(the loss image has 4x the field's pixels). Frames of 128x128 or less are not affected.

``field_sigma`` (default 1): a field judged on a finer grid than its own is Gaussian-smoothed (σ in
px of its own grid) before it is upsampled and composed. Fitted to detail its grid cannot hold, it
keeps wiggles at the scale of that grid; upsampled, they become the start of every finer scale,
whose λ·‖∇F̃‖² works against undoing them. On the cardiac phantoms they sat on the LV wall's
boundaries, where the labels change (the synthetic and fresh sections of ``benchmarks/nmsr.py``).
Fields judged on their own grid (the finest scale, and on frames larger than 128x128 the scales
past ``loss_octave_limit``) are left as they are.

Large frames. The iteration caps and the early stop's ``patience`` hold for frames up to
``iterations_side`` (128) px, the root of ``H·W``; larger frames get both times ``√(H·W) / 128`` at every
scale but the finest (whose cap bounds the time: ``final_iterations_large``, 70, where frames of
128x128 or less get ``final_iterations``, 60): a larger frame has more detail
at every scale for the network to fit, and on the real echo the fixed caps stopped it early. With both
rules NMSR matches the real echo's first 6 frames better than ANTs SyN-CC, in less of its
time (0.83x in the realsub section of ``benchmarks/nmsr.py``, a median 0.77x over its pace section's
3 rounds side by side); frames of 128x128 or less are not affected. On the real echo the finest scale
runs to its cap every time; at 70 (60 until the thirteenth run of that benchmark) its whole clip's local CC is
above SyN-CC's, 0.8347 vs 0.8244 (the realcc section; with 60 and the earlier defaults, bilinear and
``edge_weight=0``: 0.8239). The thirteenth run gave 70 to every
frame; on frames of 128x128 or less it bought no accuracy worth its time (docs/nmsr.md, Frames larger than
128x128), so they keep 60.

Scales and eq. 4. ``F^{s/2}`` is the field found so far, at full resolution. At scale ``s``:
``M^s = down(warp(moving, F^{s/2}), s)``, ``I^s = down(fixed, s)``; the network's field ``F̃^s``
(pixels of scale ``s``) aligns ``M^s`` to ``I^s``. The paper writes the combination for forward
(push) maps, ``F^s(p) = F^{s/2}(p) + up(F̃^s)(p + F^{s/2}(p))``. Our fields are pull fields
(``warp(I, u)(x) = I(x + u(x))``, README: Conventions), so the same geometric chain "first the coarse
field, then the residual" reads in the other order::

    warp(warp(moving, F^{s/2}), up(F̃^s)) = warp(moving, F^s),
    F^s(x) = up(F̃^s)(x) + F^{s/2}(x + up(F̃^s)(x)) = fields.compose(F^{s/2}, up(F̃^s))

i.e. the residual is evaluated at ``x`` first and the coarse field is sampled where it points
(``up`` = :func:`~napari_tlreg.core.fields.resize_field`, which also rescales the values by
``1/s``). A test checks this against warping twice.

Pairings. ``"reference"``: pairs ``(moving = I_ref, fixed = I_t)``; the result is the field
directly. ``"consecutive"`` (the paper's dense tracking): pairs ``(moving = the neighbour of t
towards the reference, fixed = I_t)`` give ``a_t`` with ``I_t ≈ warp(I_{t∓1}, a_t)``, hence
``I_t ≈ warp(warp(I_ref, u_{t∓1}), a_t) = warp(I_ref, compose(u_{t∓1}, a_t))``::

    u_ref = 0,   u_t = compose(u_{t-1}, a_t)  for t > ref,   u_t = compose(u_{t+1}, a_t)  for t < ref.

Warm starts (the paper's variants): ``init="pretrained"`` starts every scale from shipped weights
(NMSR_V), ``"previous"`` the first scale from a fresh seeded network and every later scale from
the previous scale's optimised weights (NMSR_VI), ``"pretrained+previous"`` both (the default),
``"random"`` a fresh network per scale (plain NMSR).

A ``mask`` ``(H, W)`` (e.g. the echo sector or the LV) multiplies the frames before anything sees
them and weights the LNCC, and ``tl.register`` scales the intensities from the percentiles inside it
(:meth:`NMSREngine.scaling_region`), so nothing outside it can change the result. It is accepted as an
array, a ``.npy/.npz/.tif/.png`` path, or the encoded string the result's ``params`` keep
(``"mask:HxW:<base64>"``, so results with a mask still save to JSON). Each scale stops early when
the loss fell by less than ``tol`` times its total fall over the last ``patience`` iterations;
the scale's field is then the exponential moving average (weight ``average``) of the fields of its
iterations, which smooths Adam's last oscillations (``average=0``: the field of the lowest loss). Progress is reported, and cancellation checked, every iteration;
fresh networks are seeded by ``seed`` (CPU runs are bit-identical under the same seed and threads).

Where we differ from the paper, and why (measured on the bundled echo and unseen phantoms):
- 150 Adam iterations per scale at most (60 at the finest, ``final_iterations``; 70 on larger frames) with the early stop
  above, lr 2e-3, instead of 3500 at 1e-3: the coarse scales stop after ~50-100, and more iterations
  lowered the image loss while raising the error against the true motion (the early stop regularises).
  These hold for frames up to 128x128; larger ones get more (``iterations_side``, above).
- One network per pair at the fine scales, the loss one scale finer, and the field of such a scale smoothed (above).
- λ follows the frames' white noise (:func:`noise_variance`, :func:`white_noise_ratio`): ``smooth``
  (10, as in the paper) where the noise is at least ``CLEAN_NOISE`` (0.3 %) of the frames' variance,
  ``smooth_clean`` (3) below it. λ is on ``Grad_l2`` (mean of squared forward differences, pixels of
  the scale). On the noisy synthetic sequences (every benchmark phantom 0.46-2.1 %, bundled echo
  0.99 %) λ = 1-5 matched the images better (MSE, local CC) but tracked the true motion worse (Dice,
  endpoint error). Real frames are cleaner (the 28 Sunnybrook ED/ES pairs 0.04-0.17 %, the real echo
  clip 0.015 %) and there a lower λ is better: Sunnybrook ED -> ES endocardium Dice 0.934 with λ = 3
  against 0.929 with 10 (ANTs SyN-CC 0.932); on the real echo λ = 1 gives better MSE / local CC still
  (pass ``smooth=1``: a ``smooth`` given without ``smooth_clean`` holds on every sequence).
  On the real echo's first 6 frames (240x320), with the large-frame rules above, the defaults match
  the frames better than ANTs SyN-CC (local CC 0.8464 vs 0.8371) with a field a little rougher in space
  and smoother in time, in less of its time (0.83x in the realsub section, 0.77x in the pace section
  of ``benchmarks/nmsr.py``; with the caps of 64² frames the defaults reached 0.786).
- ``resample_once``: the loss at scale ``s`` resamples the original moving frame once through the
  composed field instead of warping the already warped ``M^s`` (eq. 2); the network still gets
  ``M^s`` as input. Slightly better Dice / endpoint error, no blur build-up over the scales.
- The network is the SVF U-Net layout at half width (``NET_CONFIG``): ~2x cheaper per iteration
  than the full width, which gained <= 0.002 Dice on the echo from the same start.
- Box sums by running sums (cumsum), O(1) per pixel for any radius.

``noise_compensation`` (on by default): bilinear resampling averages neighbouring pixels, so the
warped moving frame carries less white noise at fractional offsets than on the grid, and LNCC
against a noisy fixed frame rises there: on the cardiac phantoms the true field is a local
*maximum* of the plain loss, with minima ±0.25 px away (the landscape section of ``benchmarks/nmsr.py``).
The option estimates the noise of the full-resolution frames (Immerkær's Laplacian kernel with a
robust scale, :func:`noise_variance`, inside the mask), carries it to each scale, and adds the
variance the resampling removed back to the moving frame's window variance
(:func:`interpolation_noise`): the true field is the optimum again, and on near-still phantom
frames the residual shift falls from ~0.08 to ~0.01 px. It acts on noisy frames only (the rule that
sets λ, below): on clean ones there is next to no bias to remove, and what the estimator reads
there is mostly speckle and fine structure, neither white nor additive; compensating it lowered the
local CC of the real echo. An estimate that is too high (Immerkær's mean, before) pulls the
field towards whole pixels, which costs small motions most: on phantom 60001 (the least noisy)
the twist recovered on the LV wall rose from 84 % to 90 % with the robust estimate, and the Dice of
its propagated labels from 0.9894 to 0.9907 (the fresh section of ``benchmarks/nmsr.py``, its eighth run). With the
paper's shared network it did not raise Dice beyond run-to-run spread (the shared network's pull
between pairs dominated); with one network per pair it lowers the error on the phantoms' near-still
frames (the "nmsr, noise_compensation=False" row of the benchmark), so it is the default. With the consecutive pairing it matters most (next paragraph).

Consecutive pairing on noisy, weakly textured frames (cine MRI phantoms) drifts: with noise,
bilinear resampling smooths the warped frame most at half-pixel shifts, so each pair's optimum is
biased by ~0.2 px and the chain adds the biases up (endpoint error 1.8 px after 11 frames).
``sigma`` smooths both images inside the loss: 1.5 px cuts that drift to 0.55 px on the phantoms
but costs accuracy on echo speckle, so it stays 0 by default. ``noise_compensation`` removes the
cause instead: on the 8 unseen phantoms the chain's endpoint error falls from 1.7 to 0.46 px (the
shift common to a frame from 1.5 to 0.09 px, Dice 0.958 -> 0.967). On the speckled echo it harms the
chain (Dice 0.978 -> 0.976, EPE 0.64 -> 0.78 px; 0.969 and 0.90 px with Immerkær's mean, which read
the speckle as 2.6x more noise): speckle is neither white nor additive, as the compensation assumes.
So with consecutive pairing, keep it on noisy frames such as cine MRI and turn it off on echo (the
consecutive section of ``benchmarks/nmsr.py``). The reference pairing has no
chain and is the default; there the two tie on the echo.

``symmetric`` (off by default): the loss is taken both ways, ``½ [LNCC(warp(M, φ), I) + LNCC(M, warp(I, φ⁻¹))]``
with ``φ⁻¹`` from :data:`INVERSE_ITERATIONS` fixed-point steps of :func:`~napari_tlreg.core.fields.invert`
(differentiated through), the noise compensation applied to each warped frame with its own noise. The plain
loss judges the field on the fixed frame's grid only; the second term judges it on the moving frame's too, as
SyN judges both halves of its path. ``symmetric_from`` is the scale from which it does so: 1 (the default) the
finest scale only, 0 every scale. At the finest scale, on the 16 cardiac phantoms it lowered the mean error on
the LV wall's inner boundary from 0.133 to 0.125 px and raised the propagated labels' Dice from 0.9848 to 0.9857
(8 held-out phantoms: 0.146 -> 0.139 px, 0.9839 -> 0.9846), the Sunnybrook ED -> ES endocardium's from 0.9333 to
0.9341, at 1.10x the time (every scale: a little more, at 1.39x; the symmetric section of ``benchmarks/nmsr.py``).
Off by default because of the real echo: on its first 6 frames the local CC fell from 0.8415 to 0.8235, below
ANTs SyN-CC's 0.8375, with a smoother field. (These figures are the earlier defaults', bilinear and ``edge_weight=0``,
the symmetric section's run.)

``edge_weight`` β (1 by default; 0 is off): at the finest scale λ is lowered where the fixed frame has edges, each
squared difference of ``Grad_l2`` weighted by ``1 / (1 + β (|∇I_σ| / q)²)`` (:func:`edge_weights`: ``I_σ`` the frame
blurred with σ = :data:`EDGE_SIGMA` px, ``q`` its gradient's :data:`EDGE_QUANTILE` quantile, so the weight does not
depend on the frames' contrast). Motion changes across tissue boundaries (the cardiac phantoms' pool contracts, their
wall thickens; the field has a kink at the endocardium), and a uniform λ rounds that kink off. Only the finest scale:
the coarse scales' fields are judged one scale finer and smoothed (``field_sigma``), and lowering their λ at edges
there cost accuracy (ad hoc).

``interpolation`` ("cubic" by default; "linear" is bilinear): how the loss resamples the moving frame at the finest
scale. Bilinear resampling at a fractional offset averages neighbours, so the warped frame is blurred by an amount
that depends on the offset, and LNCC follows that blur (signal as well as noise: the noise compensation removes only
the noise part); "cubic" (Keys' kernel, ``grid_sample``'s bicubic) blurs far less (per axis it keeps 72 % of white
noise at a half-pixel offset where bilinear keeps 50 %; :func:`interpolation_noise` carries the kernel's own figure).
Only the finest scale: there the field is judged on the grid it is delivered on; at every scale it gave no more (ad hoc).

The two are the defaults since the eighteenth run of ``benchmarks/nmsr.py``: its cubic section measured them beside
the earlier defaults (bilinear, ``edge_weight=0``), alone and together, on the bundled echo, 24 cardiac phantoms,
28 Sunnybrook slices and the real echo's first 6 frames; together they raised the phantoms' Dice of the propagated
labels on 21 of the 24 (mean +0.0014), at 1.03x the time (docs/nmsr.md, Departures from the paper).
"""
from __future__ import annotations

import contextlib
import math
import threading
import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import functional_call

from ..core import fields
from ..core.region import coerce_mask, decode_mask, encode_mask
from .base import Engine, RunContext
from .nets import SVFUNet, grad_l2_per_item
from .weights import cache_key, load_fitting, resolve

__all__ = ["NMSREngine", "NMSRNet", "lncc_loss", "lncc_loss_per_pair", "noise_variance", "white_noise_ratio", "interpolation_noise", "combine_scales", "chain_consecutive", "edge_weights", "encode_mask", "decode_mask",
           "NET_CONFIG", "DEFAULT_MODEL"]

#: Network shipped and used by default: the SVF U-Net layout (nets.SVFUNet) at half the width;
#: the full width costs ~2x the time per iteration and gained <= 0.002 Dice on the echo.
NET_CONFIG: dict[str, Any] = {"enc": [8, 16, 16, 16], "dec": [16, 16, 16, 16, 8, 8]}
DEFAULT_MODEL = "nmsr_synth"
_INIT_LOCK = threading.Lock()  # a fresh network's seeded initialisation (NMSREngine._fresh)


class _ThreadCount:
    """torch's thread count (OpenMP's) is a thread's own, and a thread started later takes the count last set in any
    thread. A run with its own ``threads`` sets it in its thread and puts back the process's count there; runs that
    leave it as is (0) wait while any run holds its own (a ``threads=0`` run started during a ``threads=N`` one
    recorded and ran with N: fields 0.29 px apart from its re-run), and runs of their own wait while those run. A run
    inside a run of the same thread (a progress callback that registers) does not wait."""

    def __init__(self):
        self._cond = threading.Condition()
        self._default_runs = 0
        self._own_runs = 0
        self._own: int | None = None  # the process's count, while runs hold one of their own
        self._local = threading.local()

    def default(self) -> int:
        """The count a run that leaves it as is runs with (the process's, outside any run that set its own)."""
        with self._cond:
            return torch.get_num_threads() if self._own is None else self._own

    @contextlib.contextmanager
    def hold(self, n: int):
        """One run with ``n`` threads (0: as the process has it)."""
        nested = getattr(self._local, "depth", 0) > 0
        if not nested:
            with self._cond:
                if n <= 0:
                    while self._own_runs:
                        self._cond.wait()
                    self._default_runs += 1
                else:
                    while self._default_runs:
                        self._cond.wait()
                    if not self._own_runs:
                        self._own = torch.get_num_threads()
                    self._own_runs += 1
        self._local.depth = getattr(self._local, "depth", 0) + 1
        before = torch.get_num_threads()
        back = before if nested or self._own is None else self._own  # the process's count, in this thread too
        try:
            if n > 0 and n != before:
                torch.set_num_threads(n)
            yield
        finally:
            if n > 0 and torch.get_num_threads() != back:
                torch.set_num_threads(back)
            self._local.depth -= 1
            if not nested:
                with self._cond:
                    if n <= 0:
                        self._default_runs -= 1
                    else:
                        self._own_runs -= 1
                        if not self._own_runs:
                            self._own = None
                    self._cond.notify_all()


_THREADS = _ThreadCount()


class _Diagnostics(threading.local):
    """The last run's diagnostics, per thread: a run's are read in the thread that ran it (the engine is shared by
    every run of the process: two runs in threads read each other's λ and log)."""
    log: list = []
    smooth: float | None = None
    noise_ratio: float | None = None
    compensated: bool = False
INIT_CHOICES = ("pretrained+previous", "pretrained", "previous", "random")
PAIRINGS = ("reference", "consecutive")
#: consecutive chains longer than this many pairs are warned of (:meth:`NMSREngine.notes`); the paper's echo
#: sequences had up to 49 frames, tracked from the first, and the benchmarks' up to 30
LONG_CHAIN = 20
#: an iteration's cost besides its pixels, in pixel-pairs (progress weights, :meth:`NMSREngine.run`)
PROGRESS_FIXED_COST = 5000
#: ``interpolation``: how the loss resamples the moving frame at the finest scale -> fields.warp's order
INTERPOLATIONS = {"linear": 1, "cubic": 3}
#: the parameter of Keys' cubic convolution kernel in torch's bicubic grid_sample
CUBIC_A = -0.75
#: white noise, as a fraction of the frames' variance, below which frames count as clean (λ = ``smooth_clean``)
CLEAN_NOISE = 0.003
MIN_SCALE_SIZE = 8  # a scale's side never goes below this (64 px at 1/8 stays 8 px: the U-Net's minimum)
#: fixed-point steps of the inverse field in the ``symmetric`` loss (differentiated through)
INVERSE_ITERATIONS = 6
LNCC_EPS = 1e-5  # on window sums, as VoxelMorph and tl.metrics.lncc
#: ``edge_weight``: the fixed frame is blurred with this σ (px) before its gradient is taken ...
EDGE_SIGMA = 1.0
#: ... which is measured against this quantile of its magnitude over the frame
EDGE_QUANTILE = 0.9

_STATE_CACHE: dict[str, tuple[dict, dict]] = {}


class NMSRNet(SVFUNet):
    """``(N, 2, H, W)`` = [moving, fixed] -> pull displacement ``(N, 2, H, W)`` in pixels of that grid.

    Any H, W: the input is padded (border replication) to a multiple of 8 and the output cropped.
    With ``diffeomorphic=True`` the output is read as a stationary velocity and integrated
    (scaling and squaring, 7 steps): fewer folds, no guarantee of none once the engine composes the scales'
    fields, averages a scale's iterations and chains consecutive pairs.
    """

    def __init__(self, enc=tuple(NET_CONFIG["enc"]), dec=tuple(NET_CONFIG["dec"])):
        super().__init__(tuple(enc), tuple(dec))

    @property
    def groups(self) -> int:
        """``n > 1``: the module runs ``n`` networks side by side as one with ``n`` groups of channels
        (:meth:`grouped`; the weights, stacked, come through ``torch.func.functional_call``)."""
        return self.flow.groups

    def field(self, pair: torch.Tensor, diffeomorphic: bool = False) -> torch.Tensor:
        return output_field(self(pad_input(pair, self.multiple)), pair.shape[-2:], diffeomorphic)

    def grouped(self, n: int) -> "NMSRNet":
        """Set every convolution to ``n`` groups: input ``(1, n·2, H, W)`` is ``n`` pairs, each seen only by its own
        network (weights ``(n·C_out, C_in, k, k)``: the ``n`` networks' kernels one after another)."""
        if n == self.groups:
            return self
        for m in self.modules():
            if isinstance(m, torch.nn.Conv2d):
                m.groups = n
        return self

    def join(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        if self.groups == 1:
            return super().join(x, skip)
        # each group's own channels: features then skip, group after group
        n = self.groups
        return torch.cat([x.unflatten(1, (n, -1)), skip.unflatten(1, (n, -1))], 2).flatten(1, 2)


def pad_input(pair: torch.Tensor, multiple: int) -> torch.Tensor:
    """Network input ``(N, 2, h, w)`` padded at the bottom and right (border replication) to a multiple of ``multiple``."""
    ph, pw = (-pair.shape[-2]) % multiple, (-pair.shape[-1]) % multiple
    return F.pad(pair, (0, pw, 0, ph), mode="replicate") if (ph or pw) else pair


def output_field(out: torch.Tensor, size, diffeomorphic: bool) -> torch.Tensor:
    """The network's output on a :func:`pad_input` grid cropped to ``size``; a velocity integrated if ``diffeomorphic``."""
    out = out[..., : size[0], : size[1]]
    return fields.integrate_velocity(out, 7) if diffeomorphic else out


def build_net(config: dict[str, Any] | None = None) -> NMSRNet:
    cfg = dict(NET_CONFIG if config is None else config)
    return NMSRNet(enc=tuple(cfg.get("enc", NET_CONFIG["enc"])), dec=tuple(cfg.get("dec", NET_CONFIG["dec"])))


# ---- loss ----------------------------------------------------------------------------------------
def _window_means(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Box means over ``(2r+1)²`` windows, border replication.

    Running sums (cumsum, then differences k apart), O(1) per pixel whatever the radius: measured
    3.7x faster than separable ``avg_pool2d`` (forward + backward) at radius 6.
    """
    k = 2 * radius + 1
    x = F.pad(x, (radius, radius, radius, radius), mode="replicate")
    c = F.pad(x.cumsum(-2), (0, 0, 1, 0))
    x = c[..., k:, :] - c[..., :-k, :]
    c = F.pad(x.cumsum(-1), (1, 0))
    return (c[..., k:] - c[..., :-k]) * (1.0 / (k * k))


def lncc_map(a: torch.Tensor, b: torch.Tensor, radius: int, extra_var_a: torch.Tensor | None = None) -> torch.Tensor:
    """Per-pixel squared local NCC ``cross² / (var_a var_b + eps)`` of ``(N, 1, H, W)`` images (paper eq. 3).

    ``extra_var_a`` ``(N, 1, H, W)``: per-pixel variance added back to ``a`` before its window variance
    is taken (see :func:`interpolation_noise`); None adds nothing.
    """
    n = float((2 * radius + 1) ** 2)
    chans = [a, b, a * a, b * b, a * b] + ([] if extra_var_a is None else [extra_var_a.expand_as(a)])
    stats = _window_means(torch.cat(chans, 1), radius)
    ma, mb, aa, bb, ab = stats[:, :5].unbind(1)
    cross = ab - ma * mb
    va = (aa - ma * ma).clamp_min(0.0)
    if extra_var_a is not None:
        va = va + stats[:, 5]
    vb = (bb - mb * mb).clamp_min(0.0)
    return (cross * cross / (va * vb + LNCC_EPS / (n * n)))[:, None]


def lncc_loss(a: torch.Tensor, b: torch.Tensor, radius: int, weight: torch.Tensor | None = None,
              extra_var_a: torch.Tensor | None = None) -> torch.Tensor:
    """``-mean(cc²)`` (over ``weight`` ``(1 or N, 1, H, W)`` when given); 0 is no match, -1 a perfect one."""
    cc = lncc_map(a, b, radius, extra_var_a)
    if weight is None:
        return -cc.mean()
    w = weight.expand_as(cc)
    return -(cc * w).sum() / w.sum().clamp_min(1e-8)


def lncc_loss_per_pair(a: torch.Tensor, b: torch.Tensor, radius: int, weight: torch.Tensor | None = None,
                       extra_var_a: torch.Tensor | None = None) -> torch.Tensor:
    """:func:`lncc_loss` of each pair on its own: ``(N,)`` (with a shared ``weight``, their mean is ``lncc_loss``)."""
    cc = lncc_map(a, b, radius, extra_var_a)
    if weight is None:
        return -cc.flatten(1).mean(1)
    w = weight.expand_as(cc)
    return -(cc * w).flatten(1).sum(1) / w.flatten(1).sum(1).clamp_min(1e-8)


#: median of |z| for a standard normal z: the median absolute response of white noise over its standard deviation
MAD_GAUSS = 0.6744897501960817
_LAPLACE_NOISE = torch.tensor([[1.0, -2.0, 1.0], [-2.0, 4.0, -2.0], [1.0, -2.0, 1.0]])


def noise_variance(x: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Variance of white noise in each ``(N, 1, H, W)`` image: ``(N, 1, 1, 1)``.

    Immerkær's (1996) kernel cancels every locally planar signal and answers white noise of variance
    ``σ²`` with a standard deviation of ``6σ``; the scale of that answer is taken robustly, as in
    Donoho's wavelet estimator: ``σ = median|x * L| / (0.6745 · 6)``. Edges and texture answer on
    a few pixels only, but strongly: Immerkær's mean of ``|x * L|`` counts them, and over-estimated
    the noise of the benchmark phantoms by 1.2-2x (the most where the noise is weakest), the median
    by 1.1-1.3x (``benchmarks/nmsr.py``, section ``noise``).
    With ``weight``, only pixels whose 3x3 neighbourhood is inside it.
    """
    k = _LAPLACE_NOISE.to(x.device, x.dtype).view(1, 1, 3, 3)
    r = F.conv2d(x, k).abs().flatten(1)
    if weight is not None:
        inside = (-F.max_pool2d(-weight.expand(x.shape[0], 1, *x.shape[-2:]), 3, 1) > 0.5).flatten(1)
        r = torch.where(inside, r, torch.nan)
    med = torch.nanmedian(r, 1).values.nan_to_num(0.0)  # no pixel inside: no noise seen
    return (med / (MAD_GAUSS * 6.0)).square().view(-1, 1, 1, 1)


def white_noise_ratio(x: torch.Tensor, noise_var: torch.Tensor, weight: torch.Tensor | None = None) -> float:
    """White-noise variance of frames ``x`` ``(T, H, W)`` as a fraction of their variance (inside ``weight``).

    ``noise_var`` ``(T, 1, 1, 1)`` from :func:`noise_variance`; the ratio of the means over frames
    (a constant sequence counts as noisy: ``inf``).
    """
    flat = x.flatten(1)
    if weight is not None:
        flat = flat[:, weight.flatten() > 0.5]
    var = float(flat.var(1).mean()) if flat.shape[1] > 1 else 0.0
    noise = float(noise_var.mean())
    return noise / var if var > 0 else math.inf


def _noise_gain(full: tuple[int, int], size: tuple[int, int], sigma: float) -> float:
    """Variance left of unit white noise at ``full`` size by :func:`_resize` to ``size`` and :func:`_gaussian`."""
    if tuple(full) == tuple(size) and sigma <= 0:
        return 1.0
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(1, 1, *full, generator=g)
    out = _gaussian(_resize(noise, size), sigma)
    return float(out[..., 2:-2, 2:-2].var()) if min(out.shape[-2:]) > 8 else float(out.var())


def _kept_per_axis(frac: torch.Tensor, order: int) -> torch.Tensor:
    """Sum of the squared interpolation weights at fractional offsets ``frac`` (the share of white noise's
    variance one axis of the resampling keeps): bilinear ``(1-t)² + t²``, bicubic the four Keys weights'."""
    if order == 1:
        return (1.0 - frac) ** 2 + frac**2
    t, a = frac, CUBIC_A
    w0 = ((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a
    w1 = ((a + 2) * t - (a + 3)) * t * t + 1
    w2 = ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1
    w3 = 1 - w0 - w1 - w2
    return w0 * w0 + w1 * w1 + w2 * w2 + w3 * w3


def interpolation_noise(field: torch.Tensor, noise_var: torch.Tensor, order: int = 1) -> torch.Tensor:
    """Noise variance that resampling through ``field`` removed from the moving image, per pixel
    (``order``: 1 bilinear, 3 bicubic, as :func:`fields.warp`).

    Sampling at fractional offsets ``(a, b)`` averages neighbours, which scales white noise of variance
    ``σ²`` by ``((1-a)² + a²)((1-b)² + b²)`` (1 on the grid, 1/4 at half-pixel offsets in both axes).
    LNCC against a noisy fixed frame then rises wherever the moving one is smoothed, so on noisy frames
    its optimum is pulled towards half-pixel shifts (on cardiac phantoms the true field is a local
    *maximum* of the plain LNCC, with minima ±0.25 px away). Adding the removed variance back to the
    moving image's window variance makes the true field the optimum again.
    """
    if order not in (1, 3):
        raise ValueError(f"interpolation_noise: order must be 1 (bilinear) or 3 (bicubic), got {order!r}")
    pos = fields.identity_grid(*field.shape[-2:], field.device, field.dtype) + field
    frac = pos - torch.floor(pos)
    kept = _kept_per_axis(frac, order).prod(1, keepdim=True)
    return (1.0 - kept) * noise_var


# ---- field algebra -------------------------------------------------------------------------------
def combine_scales(coarse: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
    """Eq. 4 in the pull convention: the field ``F^s`` with ``warp(warp(I, coarse), up(residual)) == warp(I, F^s)``.

    ``coarse`` ``(N, 2, H, W)`` full resolution; ``residual`` ``(N, 2, h, w)`` in pixels of its own grid.
    """
    up = fields.resize_field(residual, tuple(coarse.shape[-2:])) if residual.shape[-2:] != coarse.shape[-2:] else residual
    return fields.compose(coarse, up)


def smooth_field(field: torch.Tensor, sigma: float) -> torch.Tensor:
    """Each component of ``(N, 2, H, W)`` fields blurred by :func:`_gaussian` (``sigma`` px of their grid; 0: as is)."""
    if sigma <= 0:
        return field
    return _gaussian(field.flatten(0, 1)[:, None], sigma).view_as(field)


#: elements a row ``torch.quantile`` takes ("quantile() input tensor is too large" beyond)
_QUANTILE_MAX = 2**24


def row_quantile(x: torch.Tensor, p: float) -> torch.Tensor:
    """``torch.quantile(x, p, dim=1)`` (linear interpolation) of ``(N, M)`` rows of any length: torch refuses rows over
    2**24 elements, which stopped a 4100² run at its finest scale after every coarser one (the same value from
    ``kthvalue`` there)."""
    if x.shape[1] <= _QUANTILE_MAX:
        return torch.quantile(x, p, dim=1)
    pos = p * (x.shape[1] - 1)
    lo, frac = math.floor(pos), pos - math.floor(pos)
    below = x.kthvalue(lo + 1, dim=1).values
    if frac == 0:
        return below
    return below + frac * (x.kthvalue(lo + 2, dim=1).values - below)


def edge_weights(images: torch.Tensor, beta: float) -> torch.Tensor:
    """Weights ``(N, 1, H, W)`` of the smoothness term at the edges of ``images`` ``(N, 1, H, W)``:
    ``1 / (1 + beta (g / q)²)``, ``g`` the gradient magnitude (central differences, one-sided at the borders:
    :func:`fields._gradient`, as the Jacobian's) of the image blurred by :data:`EDGE_SIGMA`, ``q`` its
    :data:`EDGE_QUANTILE` quantile over the image (a flat image: all ones)."""
    g = _gaussian(images, EDGE_SIGMA)
    gr, gc = fields._gradient(g, 2), fields._gradient(g, 3)
    mag = (gr * gr + gc * gc).sqrt()
    q = row_quantile(mag.flatten(1), EDGE_QUANTILE).view(-1, 1, 1, 1)
    ratio = torch.where(q > 0, mag / q.clamp_min(torch.finfo(mag.dtype).tiny), torch.zeros_like(mag))
    return 1.0 / (1.0 + beta * ratio * ratio)


def chain_consecutive(steps: torch.Tensor, targets: list[int], reference: int) -> torch.Tensor:
    """Fields to the reference from consecutive ones.

    ``steps[i]`` is ``a_t`` for ``t = targets[i]``: ``I_t ≈ warp(I_n, a_t)`` with ``n`` the neighbour of
    ``t`` towards the reference. Returns ``u`` ``(T, 2, H, W)`` with ``I_t ≈ warp(I_ref, u_t)``.
    """
    T = len(targets) + 1
    a = {t: steps[i : i + 1] for i, t in enumerate(targets)}
    u = torch.zeros(T, 2, *steps.shape[-2:], dtype=steps.dtype, device=steps.device)
    for t in range(reference + 1, T):
        u[t] = fields.compose(u[t - 1 : t], a[t])[0]
    for t in range(reference - 1, -1, -1):
        u[t] = fields.compose(u[t + 1 : t + 2], a[t])[0]
    return u


# ---- the engine ----------------------------------------------------------------------------------
def load_warm_start(weights: str) -> tuple[dict, dict]:
    """State dict and card of the warm-start network (sha256-checked for shipped models; cached)."""
    key = cache_key(weights or DEFAULT_MODEL)
    if key not in _STATE_CACHE:
        state, card = resolve(weights, DEFAULT_MODEL)
        method = card.get("method")
        if method not in (None, "nmsr"):
            raise ValueError(f"nmsr: weights {weights or DEFAULT_MODEL!r} belong to method {method!r}, not nmsr")
        _STATE_CACHE[key] = ({k: v.clone() for k, v in state.items()}, card)
    return _STATE_CACHE[key]


def _resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Images ``(N, C, H, W)`` to ``size`` with the field grid's geometry (align_corners) and antialiasing."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    down = size[0] < x.shape[-2] or size[1] < x.shape[-1]
    return F.interpolate(x, size=size, mode="bilinear", align_corners=True, antialias=down)


def _gaussian(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of ``(N, 1, H, W)`` images (border replication); ``sigma <= 0`` is the identity."""
    if sigma <= 0:
        return x
    r = max(1, int(math.ceil(3 * sigma)))
    k = torch.exp(-0.5 * (torch.arange(-r, r + 1, dtype=x.dtype, device=x.device) / sigma) ** 2)
    k = k / k.sum()
    x = F.pad(x, (r, r, r, r), mode="replicate")
    x = F.conv2d(x, k.view(1, 1, -1, 1))
    return F.conv2d(x, k.view(1, 1, 1, -1))


def scale_size(h: int, w: int, s: float) -> tuple[int, int]:
    """The grid of scale ``s`` of an ``h x w`` image; sides never below 8 pixels (or the image)."""
    return (max(min(h, MIN_SCALE_SIZE), round(h * s)), max(min(w, MIN_SCALE_SIZE), round(w * s)))


def loss_scale_size(h: int, w: int, s: float, octaves: int, limit: int) -> tuple[int, int]:
    """Where the loss of scale ``s`` is taken: ``octaves`` scales finer (at most full size), but no finer
    than the last of those whose image is at most ``limit`` px (root of its area; ``limit`` 0: no bound)."""
    size = scale_size(h, w, s)
    for k in range(1, octaves + 1):
        finer = scale_size(h, w, min(1.0, s * 2**k))
        if limit and math.sqrt(finer[0] * finer[1]) > limit:
            break
        size = finer
    return size


def size_factor(h: int, w: int, side: int) -> float:
    """``√(h·w) / side`` for frames larger than ``side`` px (root of the area), else 1 (``side`` 0: 1)."""
    return max(1.0, math.sqrt(h * w) / side) if side else 1.0


def scale_sizes(h: int, w: int, levels: int) -> list[tuple[float, tuple[int, int]]]:
    """``[(s, (h_s, w_s))]`` for s = 2^-(levels-1) .. 1 (:func:`scale_size`)."""
    return [(s, scale_size(h, w, s)) for s in (2.0 ** (i - levels + 1) for i in range(levels))]


class PairNets:
    """The networks of a run: one shared by all pairs (``copies=1``, the paper's) or one per pair.

    Per-pair networks start as copies of ``net`` and are held as stacked parameters (one row per
    pair), run as one network with ``n`` groups of channels (:meth:`NMSRNet.grouped`; faster
    than ``torch.func.vmap`` over the rows on a CPU): one Adam step moves every pair's network, and
    as Adam works element by element, each one exactly as if it were optimised alone. A shared network
    has to fit one function to every pair, which pulls each pair's field towards the others' (on
    near-still frames of a cardiac cycle, towards the twist of the contracted ones).
    """

    def __init__(self, net: NMSRNet, copies: int):
        self.shared = copies == 1
        self.copies = copies
        self.module = net  # its own parameters are unused: torch.func.functional_call swaps these in
        self.multiple = net.multiple
        net.channels_last = self.shared  # grouped convolutions run slower channels-last (measured)
        net.grouped(1)
        if self.shared:
            self.params = {k: v.detach().clone().contiguous(memory_format=torch.channels_last) if v.dim() == 4
                           else v.detach().clone() for k, v in net.named_parameters()}
        else:
            self.params = {k: v.detach().unsqueeze(0).repeat(copies, *([1] * v.dim())) for k, v in net.named_parameters()}
        for v in self.params.values():
            v.requires_grad_(True)

    def split(self, copies: int) -> "PairNets":
        """One network per pair, each starting from this shared one's weights."""
        net = self.module
        with torch.no_grad():
            for k, v in net.named_parameters():
                v.copy_(self.params[k])
        return PairNets(net, copies)

    def parameters(self) -> list[torch.Tensor]:
        return list(self.params.values())

    def pad(self, pair: torch.Tensor) -> torch.Tensor:
        """Network input ``(P, 2, h, w)`` as :func:`pad_input`, in the layout the networks run in."""
        x = pad_input(pair, self.multiple)
        return x.contiguous(memory_format=torch.channels_last) if self.shared else x.contiguous()

    def fields(self, x: torch.Tensor, idx: list[int], size: tuple[int, int], diffeomorphic: bool) -> torch.Tensor:
        """The fields ``(len(idx), 2, *size)`` of pairs ``idx`` of the padded input ``x``, each by its network."""
        if self.shared:
            out = functional_call(self.module, self.params, (x[idx],))
        else:
            # the networks of the pairs as one network with a group of channels per pair
            n = len(idx)
            every = n == self.copies and idx == list(range(n))
            rows = {k: (v if every else v[idx]).flatten(0, 1) for k, v in self.params.items()}
            xi = x if every else x[idx]
            out = functional_call(self.module.grouped(n), rows, (xi.reshape(1, -1, *xi.shape[-2:]),))
            out = out.view(n, -1, *out.shape[-2:])
        return output_field(out, size, diffeomorphic)

    def snapshot(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in self.params.items()}

    @torch.no_grad()
    def keep(self, store: dict[str, torch.Tensor], pairs: list[int]) -> None:
        """Copy the current weights of the networks of ``pairs`` into ``store``."""
        if not pairs:
            return
        for k, v in self.params.items():
            if self.shared:
                store[k].copy_(v)
            else:
                store[k][pairs] = v[pairs]

    @torch.no_grad()
    def restore(self, store: dict[str, torch.Tensor]) -> None:
        for k, v in self.params.items():
            v.copy_(store[k])


class Adam:
    """Adam (Kingma & Ba) over a list of tensors: the arithmetic of ``torch.optim.Adam(foreach=True)``,
    op for op (no weight decay, no amsgrad), so the same steps to the bit.

    ``torch.optim``'s constructor imports ``torch._dynamo`` (1.5 s on this project's machine), which
    every fresh process (each CLI call, the first registration in napari) paid before its first
    NMSR iteration: a sixth of an 8x64x64 cold start.
    """

    def __init__(self, params: list[torch.Tensor], lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        self.params, self.lr, self.betas, self.eps = list(params), float(lr), betas, float(eps)
        self.exp_avg = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self.steps = 0

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        live = [i for i, p in enumerate(self.params) if p.grad is not None]
        if not live:
            return
        params = [self.params[i] for i in live]
        grads = [p.grad for p in params]
        m, v = [self.exp_avg[i] for i in live], [self.exp_avg_sq[i] for i in live]
        beta1, beta2 = self.betas
        self.steps += 1
        torch._foreach_lerp_(m, grads, 1 - beta1)
        torch._foreach_mul_(v, beta2)
        torch._foreach_addcmul_(v, grads, grads, 1 - beta2)
        step_size = (self.lr / (1 - beta1**self.steps)) * -1
        denom = torch._foreach_sqrt(v)
        torch._foreach_div_(denom, (1 - beta2**self.steps) ** 0.5)
        torch._foreach_add_(denom, self.eps)
        torch._foreach_addcdiv_(params, m, denom, step_size)


#: Pairs whose forward/backward pass runs at once (gradients accumulate over blocks of this many
#: pixels; 16 pairs at 64², 4 at 128², 1 from 256²): memory bounded by image size, not frame count.
BLOCK_PIXELS = 16 * 64 * 64


def block_pairs(h: int, w: int) -> int:
    return max(1, BLOCK_PIXELS // max(1, h * w))


def plateaued(history: list[float], patience: int, tol: float) -> bool:
    """Early stop: after ``2·patience`` iterations, the loss fell by less than ``tol`` times its total fall
    over the last ``patience`` iterations (scale-free: the same rule works from a warm or a cold start)."""
    if len(history) < max(2 * patience, patience + 1):
        return False
    recent = history[-patience - 1] - min(history[-patience:])
    overall = history[0] - min(history)
    return recent <= tol * max(overall, 0.0)


#: a field whose largest displacement exceeds this many times its grid's longer side has diverged
DIVERGED_REACH = 2.0


class NMSREngine(Engine):
    name = "nmsr"
    default_model = DEFAULT_MODEL  # the warm start's
    #: bytes: fixed, per voxel, per full-size and per working pixel held at once, per pair (Engine.memory_model;
    #: ``benchmarks/memory.py --fit-only --fit-with benchmarks/results/memory/earlier/*.json``)
    memory_model = (3.92e7, 189.0, 1060.0, 0.0, 6.22e5)
    description = "NMSR: a U-Net optimised on the sequence itself, coarse to fine (echo; no training data needed)"
    defaults = {
        "pairing": "reference",
        "levels": 4,
        "iterations": 150,
        "lr": 2e-3,
        "smooth": 10.0,
        "smooth_clean": 3.0,
        "radius": 6,
        "init": "pretrained+previous",
        "weights": "",
        "patience": 10,
        "tol": 0.02,
        "seed": 0,
        "diffeomorphic": False,
        "mask": None,
        "threads": 0,
        "resample_once": True,
        "final_iterations": 60,
        "final_iterations_large": 70,
        "sigma": 0.0,
        "average": 0.9,
        "noise_compensation": True,
        "pair_networks_from": 0.5,
        "loss_octaves": 1,
        "loss_octave_limit": 128,
        "iterations_side": 128,
        "field_sigma": 1.0,
        "symmetric": False,
        "symmetric_from": 1.0,
        "edge_weight": 1.0,
        "interpolation": "cubic",
    }
    choices = {"pairing": PAIRINGS, "init": INIT_CHOICES, "interpolation": tuple(INTERPOLATIONS)}
    region_params = ("mask",)
    # the settings the benchmarks chose (and the machinery's knobs): folded away in the viewer
    advanced = ("levels", "lr", "weights", "patience", "tol", "threads", "resample_once", "final_iterations",
                "final_iterations_large", "sigma",
                "average", "noise_compensation", "pair_networks_from", "loss_octaves", "loss_octave_limit",
                "iterations_side", "field_sigma", "symmetric_from", "edge_weight", "interpolation")
    # diagnostics of the last run in the calling thread (read them after the call): its per-scale log, the λ it
    # used, the frames' white noise over their variance (None: not estimated), whether the loss had the noise
    # compensation (noisy frames only)
    _diag = _Diagnostics()
    last_log = property(lambda self: self._diag.log)
    last_smooth = property(lambda self: self._diag.smooth)
    last_noise_ratio = property(lambda self: self._diag.noise_ratio)
    last_compensated = property(lambda self: self._diag.compensated)
    help = {
        "pairing": "reference: every frame against the reference; consecutive: each frame against its "
                   "neighbour, fields composed (dense tracking)",
        "levels": "scales, coarse to fine: 4 = 1/8, 1/4, 1/2, 1",
        "iterations": "Adam iterations per scale at most on frames up to iterations_side px, times root(H·W)/"
                      "iterations_side on larger ones (each scale also stops on a loss plateau)",
        "lr": "Adam learning rate",
        "smooth": f"λ, weight of the smoothness term, on noisy frames (white noise ≥ {100 * CLEAN_NOISE:g} % of "
                  "their variance); changed alone, it holds on every sequence",
        "smooth_clean": f"λ on clean frames (white noise < {100 * CLEAN_NOISE:g} % of their variance: real MRI and echo)",
        "radius": "local cross-correlation window radius, px",
        "init": "warm start: shipped weights (pretrained), the previous scale's (previous), both, or random",
        "weights": "shipped model name or .pt path for the warm start (empty: nmsr_synth)",
        "patience": "early stop: iterations over which the loss must still fall",
        "tol": "early stop: stop when the loss fell by less than this share of its total fall",
        "seed": "seed of fresh networks: init random (every scale) or previous (the first); the default warm start "
                "from shipped weights has none (same seed and threads: the same result on a CPU)",
        "diffeomorphic": "integrate the network's output as a velocity field: each scale's residual field folds "
                         "less (composed over the scales, averaged and chained, the result can still fold; slower)",
        "mask": "region the loss and the reported MSE / local CC see: a Labels layer in the viewer (nonzero = inside; "
                "a (T, H, W) layer: its reference frame), a .npy/.npz/.tif/.png path from Python or the CLI (none: the whole frame)",
        "threads": "torch threads for this run (0: leave as is)",
        "resample_once": "the loss resamples the original frame once through the composed field",
        "final_iterations": "iterations at the finest scale at most on frames up to iterations_side px (larger: "
                            "final_iterations_large; -1: as iterations)",
        "final_iterations_large": "iterations at the finest scale at most on frames larger than iterations_side px "
                                  "(-1: as iterations; set final_iterations alone and it holds on every frame)",
        "sigma": "Gaussian smoothing of both images inside the loss, px",
        "average": "the scale's field is the moving average of its iterations' (0: the lowest loss's)",
        "noise_compensation": "remove LNCC's sub-pixel bias on noisy frames (clean frames have none to remove; off for consecutive echo)",
        "pair_networks_from": "one network per frame pair from this scale on (2: one shared network)",
        "loss_octaves": "the loss of each scale is taken this many scales finer",
        "loss_octave_limit": "the finer loss only where its image is at most this many px (root of its area; 0: no limit)",
        "iterations_side": "iterations and patience hold for frames up to this many px (root of H·W); larger "
                           "frames get both times root(H·W)/this, but for the finest scale (0: as given)",
        "field_sigma": "Gaussian smoothing of the field of each scale whose loss is taken finer, px of its grid (0: none)",
        "symmetric": "also match the frame pulled back onto the moving one through the field's inverse, "
                     "from scale symmetric_from on (boundaries more accurate)",
        "symmetric_from": "with symmetric: the loss both ways from this scale on (1: the finest only; 0: every scale, ~1.3x the time)",
        "edge_weight": "at the finest scale, λ lowered at the fixed frame's edges: λ / (1 + this·(gradient / its 90th percentile)²) (0: off)",
        "interpolation": "how the loss resamples the moving frame at the finest scale (cubic: less of linear's blur at fractional shifts)",
    }

    def validate_params(self, params: dict[str, Any]) -> dict[str, Any]:
        out = super().validate_params(params)
        if "smooth" in params and "smooth_clean" not in params:
            out["smooth_clean"] = out["smooth"]  # a λ the caller chose holds on every sequence
        if "final_iterations" in params and "final_iterations_large" not in params:
            out["final_iterations_large"] = out["final_iterations"]  # and so does a finest-scale cap
        ranges = {
            "levels": (1, 6), "iterations": (0, 100_000), "radius": (1, 32), "patience": (1, 100_000),
            "lr": (1e-6, 1.0), "smooth": (0.0, 1e4), "smooth_clean": (0.0, 1e4), "tol": (0.0, 1.0), "seed": (0, 2**31 - 1), "threads": (0, 1024),
            "final_iterations": (-1, 100_000), "final_iterations_large": (-1, 100_000), "sigma": (0.0, 10.0), "average": (0.0, 0.999), "loss_octaves": (0, 6),
            "loss_octave_limit": (0, 1_000_000), "iterations_side": (0, 1_000_000), "field_sigma": (0.0, 10.0),
            "pair_networks_from": (0.0, 2.0), "symmetric_from": (0.0, 1.0), "edge_weight": (0.0, 1e3),
        }
        for key, (lo, hi) in ranges.items():
            v = out[key]
            if not (lo <= v <= hi) or (isinstance(v, float) and not math.isfinite(v)):
                raise ValueError(f"nmsr: {key} must be in [{lo}, {hi}], got {v!r}")
        if not isinstance(out["weights"], str):
            raise TypeError(f"nmsr: weights must be a string (shipped model name or path), got {out['weights']!r}")
        if out["weights"] and not out["init"].startswith("pretrained"):  # it would be recorded, never read
            raise ValueError(f"nmsr: weights {out['weights']!r} are read only with init 'pretrained' or "
                             f"'pretrained+previous', not {out['init']!r}")
        out["mask"] = coerce_mask(out["mask"], self.name)
        return out

    def for_frames(self, params, shape, spacing, unit):
        """``threads = 0`` ("leave as is") recorded as the count it runs on: the fields depend on it (lemniscate,
        1 vs 2 threads: 0.15 px at most), and a result that said 0 could not be run again to the same numbers. A mask
        that does not fit the frames is refused here, before any work (it was refused once the run had begun)."""
        if params["mask"] is not None and (got := decode_mask(params["mask"]).shape) != tuple(shape[-2:]):
            raise ValueError(f"nmsr: mask of shape {got} does not match frames of {shape[-2]}x{shape[-1]}")
        return params if params["threads"] else {**params, "threads": _THREADS.default()}

    def chains_frames(self, params):
        return params["pairing"] == "consecutive"  # each frame's field is composed from its neighbours'

    def notes(self, params, n_frames, reference):
        """A consecutive chain of more than :data:`LONG_CHAIN` pairs is said: each pair's error adds up along it; and a
        mask of fewer pixels than one loss window: the frames are blanked outside it, so the field fits that little."""
        out = []
        if params["mask"] is not None:
            inside, side = int(decode_mask(params["mask"]).sum()), 2 * params["radius"] + 1
            if inside < side * side:
                out.append(f"the mask holds {inside} pixel{'s' * (inside != 1)}, fewer than one loss window "
                           f"({side}x{side}, radius {params['radius']}): the frames are blanked outside it, so the "
                           "field is fitted to that little and is no better than its guess elsewhere")
        longest = max(reference, n_frames - 1 - reference)
        if params["pairing"] == "consecutive" and longest > LONG_CHAIN:
            out.append(f"pairing='consecutive' chains up to {longest} pairs from the reference (frame {reference}): "
                       "each pair's error adds up along the chain, so the far frames drift; pairing='reference' "
                       "registers every frame to the reference directly")
        return out

    def scaling_region(self, params):
        """The mask: the intensities inside it set the scale (a caption or an ECG trace outside an echo's fan, brighter
        than the fan, lowered the fan's contrast and clipped less of it, and with it moved the field inside: 4.9 px)."""
        return None if params["mask"] is None else decode_mask(params["mask"]).astype(bool)

    def pixels_at_once(self, shape, params):
        """One block of the finest scale's pairs (its network and loss at full size): the most it holds at once."""
        t, h, w = shape
        return h * w * min(t - 1, block_pairs(h, w)), 0

    # -- helpers -------------------------------------------------------------------------------------
    def _fresh(self, seed: int, level: int, device, config=None) -> NMSRNet:
        # torch's one global generator, seeded here: one run at a time (two runs in threads reseeded inside each
        # other's initialisation: fields up to 0.9 px off their seed's, and the caller's RNG stream changed)
        with _INIT_LOCK, torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed * 1009 + level)
            net = build_net(config)
        return net.to(device)

    def _initial(self, params: dict, level: int, device) -> NMSRNet:
        """The network a scale starts from when it does not keep the previous scale's: pretrained or fresh."""
        if params["init"].startswith("pretrained"):
            state, card = load_warm_start(params["weights"])
            net = build_net(card.get("config") or NET_CONFIG)
            # torch's own error is a page ("Error(s) in loading state_dict for NMSRNet:" and its list), of which the
            # CLI's one line kept the first: what does not fit, in one line, as the other engines say it
            load_fitting(net, state, card, params["weights"] or DEFAULT_MODEL, "nmsr")
            return net.to(device)
        return self._fresh(params["seed"], level, device)

    # -- run -------------------------------------------------------------------------------------------
    def run(self, frames: torch.Tensor, reference: int, params: dict[str, Any], ctx: RunContext) -> torch.Tensor:
        with _THREADS.hold(params["threads"]):  # process-wide in torch: set for this run alone, then restored
            return self._run(frames, reference, params, ctx)

    def _run(self, frames: torch.Tensor, reference: int, params: dict[str, Any], ctx: RunContext) -> torch.Tensor:
        T, H, W = frames.shape
        dev = frames.device
        x = frames.float()
        weight_full = None
        if params["mask"] is not None:
            m = decode_mask(params["mask"])
            if m.shape != (H, W):
                raise ValueError(f"nmsr: mask of shape {m.shape} does not match frames of {H}x{W}")
            weight_full = torch.from_numpy(m.astype(np.float32)).to(dev)[None, None]
            x = x * weight_full[0]  # nothing outside the mask reaches the network or the loss

        # white noise is estimated where it is white (the full-resolution frames; inside the mask)
        need_noise = params["noise_compensation"] or params["smooth"] != params["smooth_clean"]
        noise_full = noise_variance(x[:, None], weight_full) if need_noise else None
        # λ follows the noise: `smooth` on noisy frames, `smooth_clean` on clean ones (module docstring)
        diag = self._diag
        diag.noise_ratio = None if noise_full is None else white_noise_ratio(x, noise_full, weight_full)
        clean = diag.noise_ratio is not None and diag.noise_ratio < CLEAN_NOISE
        # ... and so does the noise compensation: on clean frames there is no sub-pixel bias to remove
        diag.compensated = compensate = params["noise_compensation"] and not clean
        lam = params["smooth_clean"] if clean else params["smooth"]
        diag.smooth = lam
        targets = [t for t in range(T) if t != reference]
        if params["pairing"] == "reference":
            movers = [reference] * len(targets)
        else:
            movers = [t - 1 if t > reference else t + 1 for t in targets]
        moving = x[movers][:, None]  # (P, 1, H, W)
        fixed = x[targets][:, None]
        U = torch.zeros(len(targets), 2, H, W, device=dev)  # F^{s/2} of every pair, full resolution

        levels = scale_sizes(H, W, params["levels"])
        # caps and patience hold for frames up to iterations_side px; larger ones get more (but the finest scale)
        grow = size_factor(H, W, params["iterations_side"])
        cap = params["final_iterations_large"] if grow > 1 else params["final_iterations"]  # the finest scale's own
        final = params["iterations"] if cap < 0 else min(params["iterations"], cap)
        per_scale = [round(params["iterations"] * grow)] * (len(levels) - 1) + [final]  # the finest scale: its own cap
        patience = [round(params["patience"] * grow)] * (len(levels) - 1) + [params["patience"]]
        n_pairs = len(targets)
        # progress in units of time: an iteration of a scale weighs its network's pixels times the pairs, plus a fixed
        # cost (fitted on 8-40 frames of 64-128 px, one thread); counted in iterations, the bar was at 50 % a fifth of
        # the way through (the coarse scales' iterations are ~35x cheaper than the finest's)
        cost = [size[0] * size[1] * n_pairs + PROGRESS_FIXED_COST for _, size in levels]
        units = [max(1, round(100 * c / max(cost))) for c in cost]
        starts = [sum(n * u for n, u in zip(per_scale[:i], units)) for i in range(len(levels))]
        total = max(1, sum(n * u for n, u in zip(per_scale, units)))
        diffeo = params["diffeomorphic"]
        # the networks: one shared by every pair at the coarse scales (the paper's: cheap, and nothing
        # there to tell the pairs apart) and one per pair from scale pair_networks_from on
        nets: PairNets | None = None
        # per scale: size, iterations run, first/best loss, seconds (diagnostics for benchmarks and tests)
        diag.log = log = []
        for li, (s, size) in enumerate(levels):
            t_scale = time.perf_counter()
            iters = per_scale[li]
            ctx.report(starts[li], total, f"scale {s:g} ({size[0]}x{size[1]}, λ {lam:g}): start")
            # the loss of this scale's field is taken loss_octaves scales finer (at most full size, and
            # no finer than loss_octave_limit px): a coarse field is still judged on the detail it
            # cannot resolve (texture shows a twist)
            loss_size = loss_scale_size(H, W, s, params["loss_octaves"], params["loss_octave_limit"])
            symmetric_here = params["symmetric"] and s >= params["symmetric_from"]  # the loss both ways (module docstring)
            with torch.no_grad():
                M_full = fields.warp(moving, U) if li else moving  # warp(M, F^{s/2})
                M = _resize(M_full, size)  # the network's input (eq. 1)
                I = _resize(fixed, size)
                # the loss resamples the original moving frame once, through the composed field
                # F^s = compose(F^{s/2}, F̃), instead of warping the already warped M again: no blur
                # builds up over the scales (set resample_once=False for the paper's T(M^s, F̃^s))
                once = params["resample_once"] and li > 0
                if once:
                    M0, U_s = _resize(moving, loss_size), fields.resize_field(U, loss_size)
                else:
                    M0, U_s = _resize(M_full, loss_size), None
                # the loss sees both images lightly smoothed: with noisy frames, bilinear resampling
                # alone smooths the warped one most at half-pixel shifts, which biases the optimum
                # towards them (~0.2 px a pair on the phantoms, drifting over consecutive chains)
                M_loss, I_loss = _gaussian(M0, params["sigma"]), _gaussian(_resize(fixed, loss_size), params["sigma"])
                w_s = None if weight_full is None else _resize(weight_full, loss_size).clamp(0, 1)
                # ... and carried to this scale by the variance that the same resampling and smoothing
                # leave of unit white noise (without resample_once the input was warped once more: approximate)
                noise_var = noise_var_f = None  # of the moving frames, and of the fixed ones (symmetric loss)
                if compensate:
                    gain = _noise_gain((H, W), loss_size, params["sigma"])
                    noise_var = noise_full[movers] * gain
                    noise_var_f = noise_full[targets] * gain if symmetric_here else None
            shared_here = s < params["pair_networks_from"]
            if nets is None or params["init"] not in ("previous", "pretrained+previous"):
                nets = PairNets(self._initial(params, li, dev), 1 if shared_here else n_pairs)
            elif nets.shared and not shared_here:
                nets = nets.split(n_pairs)
            # else NMSR_VI: every network keeps optimising its weights of the previous scale
            net_in = nets.pad(torch.cat([M, I], 1))
            # λ lowered at the fixed frame's edges at the finest scale, and the loss's resampling kernel there (module docstring)
            finest = li == len(levels) - 1
            with torch.no_grad():
                edge_w = edge_weights(I, params["edge_weight"]) if params["edge_weight"] > 0 and finest else None
            order = INTERPOLATIONS[params["interpolation"]] if finest else 1
            opt = Adam(nets.parameters(), lr=params["lr"])
            radius, pat, tol = params["radius"], patience[li], params["tol"]
            # early stopping per network: a pair's own network stops on its own loss plateau (the
            # others go on); a shared network stops on the mean loss of all pairs
            groups = [list(range(n_pairs))] if nets.shared else [[p] for p in range(n_pairs)]
            history: list[list[float]] = [[] for _ in groups]
            running = list(range(len(groups)))
            kept = nets.snapshot()  # the weights each network stopped with
            best_loss = torch.full((n_pairs,), math.inf, device=dev)  # all bookkeeping on the fields' device
            best_f: torch.Tensor | None = None
            avg_f: torch.Tensor | None = None
            avg_w = params["average"]
            step = block_pairs(*loss_size)
            done_it = 0
            for it in range(iters):
                opt.zero_grad()
                active = [p for g in running for p in groups[g]]
                losses = torch.empty(len(active), device=dev)
                new_f = []
                # one Adam step on all running pairs; blocks of pairs only bound the memory (each
                # pair's loss depends on its own field only, and the networks have no batch statistics)
                for b0 in range(0, len(active), step):
                    if b0:  # between blocks too: an iteration of the real echo's 30 full frames took 2.9 s
                        ctx.check()
                    idx = active[b0 : b0 + step]
                    f = nets.fields(net_in, idx, size, diffeo)
                    f_l = fields.resize_field(f, loss_size) if loss_size != size else f
                    phi = fields.compose(U_s[idx], f_l) if once else f_l
                    warped = fields.warp(M_loss[idx], phi, order)
                    extra = None if noise_var is None else interpolation_noise(phi, noise_var[idx], order)
                    sim = lncc_loss_per_pair(warped, I_loss[idx], radius, w_s, extra)
                    if symmetric_here:  # ... and the fixed frame pulled back onto the moving one (module docstring)
                        psi = fields.invert(phi, INVERSE_ITERATIONS, tol=0.0)
                        back = fields.warp(I_loss[idx], psi, order)
                        extra_b = None if noise_var_f is None else interpolation_noise(psi, noise_var_f[idx], order)
                        sim = 0.5 * (sim + lncc_loss_per_pair(back, M_loss[idx], radius, w_s, extra_b))
                    loss = sim + lam * grad_l2_per_item(f, None if edge_w is None else edge_w[idx])
                    if not bool(torch.isfinite(loss).all()):  # before the backward: a NaN field's, through
                        # grid_sample with border padding, can kill the process (the trainer's did, at --lr 10)
                        raise ValueError(f"nmsr: the loss diverged at scale {s:g}, iteration {it + 1} (try a smaller lr)")
                    # a shared network minimises the mean over pairs; a pair's own network its own loss
                    (loss.sum() / (n_pairs if nets.shared else 1)).backward()
                    losses[b0 : b0 + len(idx)] = loss.detach()
                    new_f.append(f.detach())
                f = new_f[0] if len(new_f) == 1 else torch.cat(new_f)
                # (a loss not finite is refused block by block, before its backward, above) an lr far too large diverges with a finite loss: the field runs off the image (hundreds to 1e15 px)
                reach = float(f.abs().amax()) if bool(torch.isfinite(f).all()) else math.inf
                if reach > DIVERGED_REACH * max(size):
                    raise ValueError(f"nmsr: the optimisation diverged at scale {s:g}, iteration {it + 1}: the field "
                                       f"reached {reach:.3g} px on a {size[0]}x{size[1]} grid (try a smaller lr)")
                if best_f is None:  # the first iteration: every pair is running
                    best_f, avg_f = f.clone(), f.clone()
                act = torch.tensor(active, device=dev)
                better = losses < best_loss[act]  # the best field of each pair (Adam can overshoot at the end)
                best_loss[act[better]] = losses[better]
                best_f[act[better]] = f[better]
                if avg_w > 0:  # exponential moving average of each pair's field
                    avg_f[act] = avg_f[act].lerp(f, 1.0 - avg_w)
                opt.step()
                done_it = it + 1
                pos = {p: k for k, p in enumerate(active)}
                for g in list(running):
                    history[g].append(float(losses[[pos[p] for p in groups[g]]].mean()))
                    if plateaued(history[g], pat, tol):
                        running.remove(g)
                        nets.keep(kept, groups[g])
                lv = float(losses.mean())
                # pairs stopped early, once there are any ("0/29 pairs converged", said through a whole run, read as a
                # fit that failed; echo review); "of at most": the early stop ends most scales before (150 in the form,
                # 325 on the echo's larger frames, went by as "20/325")
                settled = n_pairs - len(running)
                note = "" if nets.shared or not settled else f", {settled} of {n_pairs} pairs settled"
                ctx.report(starts[li] + done_it * units[li], total,
                           f"scale {s:g} ({size[0]}x{size[1]}): iteration {done_it} of at most {iters}, "
                           f"loss {lv:.4f}{note}")
                if not running:
                    break
            with torch.no_grad():
                if best_f is None:  # iterations = 0: the warm-start networks' fields as they are
                    best_f = nets.fields(net_in, list(range(n_pairs)), size, diffeo)
                elif avg_w > 0:
                    best_f = avg_f
                nets.keep(kept, [p for g in running for p in groups[g]])  # the networks that ran to the end
                nets.restore(kept)
                best_f = best_f.float().contiguous()
                # a field judged on a finer grid than its own is smoothed before it is upsampled (module docstring)
                field_sigma = params["field_sigma"] if loss_size != size else 0.0
                best_f = smooth_field(best_f, field_sigma)
                U = combine_scales(U, best_f)
            runs = [len(h) for h in history]
            log.append({"scale": s, "size": list(size), "loss_size": list(loss_size), "field_sigma": field_sigma, "iterations": done_it,
                                  "pair_iterations": runs if not nets.shared else None,
                                  "loss": float(best_loss.mean()) if history[0] else None,
                                  "first_loss": float(np.mean([h[0] for h in history])) if history[0] else None,
                                  "seconds": time.perf_counter() - t_scale})
            ctx.report(starts[li] + iters * units[li], total, f"scale {s:g}: done after {done_it} iterations")

        if params["pairing"] == "consecutive":
            u = chain_consecutive(U, targets, reference)
        else:
            u = torch.zeros(T, 2, H, W, device=dev)
            u[targets] = U
        ctx.report(total, total, "fields composed")
        return u
