"""Multistep spatial-gradient registration (Papadomanolaki et al., Remote Sensing 2021; paper 002).

The network regresses pre-logistic spatial gradients ``Φ`` (2 channels); the logistic
``L(Φ) = c / (1 + (c - 1)·e^(-Φ))`` bounds them to ``(0, c)`` with ``L(0) = 1`` (identity spacing);
the sampling grid is their cumulative sum minus 1: absolute (row, col) coordinates in the
*moving* image for every *fixed* pixel, monotone along each axis (no fold along the axes).
That grid minus the identity is exactly our pull displacement (README: Conventions), so
``warp(moving, u) ≈ fixed`` with ``moving`` = the reference and ``fixed`` = frame t.

Channel order: the authors' code puts the x (width) gradient in channel 0; here ``Φ`` uses the
project's (row, col) order like every field: channel 0 = gradient along rows (the row coordinate
grows down the rows), channel 1 = gradient along columns.

T refinement steps with shared weights: step 0 sees ``[moving, fixed]``, step s > 0 sees
``[moving warped by the field of step s-1, fixed]``; the outputs are accumulated in the
pre-logistic space (``Φ_acc = Σ Φ_s``) and the *original* moving image is re-warped with the
accumulated grid at every step (no resampling blur build-up). Loss (training, :mod:`..train`):
mean over steps of ``MSE(warped_s, fixed)`` + ``β·mean|Φ_acc|`` — a mean, not the authors' sum, so β
does not scale with batch and image size (retuned: β = 0.01; the paper's 1e-6 on a sum over a 256² pair
is 0.13 in mean form; see the model card).

Affine stage (``affine=True``, the default; the paper's "A & Φ"): a global affine
(:func:`~napari_tlreg.engines.pairs.affine_prealign`) is found first and the network refines from it;
the shipped network was trained on affine-pre-aligned pairs. With ``affine=False`` ("Φ only") the
network alone must find the whole motion, which the CPU-trained weights do not (see the README).

Network: blocks conv3x3 + InstanceNorm(affine=False) + LeakyReLU(0.01); encoder 16-32-64-128
(max-pool after the first three), decoder 128 -> concat -> 64 -> concat -> 32 -> concat -> 16 with
nearest upsampling, 3x3 conv 16 -> 2 (the authors' layout: the full-resolution features are the
input block and the last decoder block).
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..core import fields
from . import pairs
from .base import Engine, RunContext
from .weights import cache_key, load_fitting, resolve

#: the ranges the trainer takes (train.NET_RANGES; c > 1 for the logistic): a checkpoint trained with 12 steps or
#: c = 20 runs as trained, and the result, which records those values, runs again from its record
C_MAX = 1000.0
MAX_STEPS = 100
_MODELS: dict[tuple, tuple] = {}


# ---- the logistic, the grid, and the conversion to our displacement ------------------------------
def logistic(phi: torch.Tensor, c: float) -> torch.Tensor:
    """``L(Φ) = c / (1 + (c - 1) e^(-Φ))``: in ``(0, c)``, ``L(0) = 1``."""
    if not c > 1.0:
        raise ValueError(f"c must be > 1, got {c}")
    return c / (1.0 + (c - 1.0) * torch.exp(-phi))


def logit(spacing: torch.Tensor, c: float) -> torch.Tensor:
    """Inverse of :func:`logistic`: the ``Φ`` that gives grid spacing ``spacing`` in ``(0, c)``."""
    return torch.log((c - 1.0) * spacing / (c - spacing))


def gradients_to_grid(phi: torch.Tensor, c: float) -> torch.Tensor:
    """``Φ`` ``(N, 2, H, W)`` (row, col order) -> absolute sampling coordinates ``(N, 2, H, W)`` (row, col).

    ``grid_row = cumsum_rows(L(Φ_row)) - 1``, ``grid_col = cumsum_cols(L(Φ_col)) - 1``.
    """
    g = logistic(phi, c)
    return torch.stack([torch.cumsum(g[:, 0], dim=1), torch.cumsum(g[:, 1], dim=2)], 1) - 1.0


def grid_to_displacement(grid: torch.Tensor) -> torch.Tensor:
    """Absolute sampling coordinates in the moving image -> our pull displacement (minus the identity)."""
    h, w = grid.shape[-2:]
    return grid - fields.identity_grid(h, w, grid.device, grid.dtype)


def gradients_to_displacement(phi: torch.Tensor, c: float) -> torch.Tensor:
    return grid_to_displacement(gradients_to_grid(phi, c))


def displacement_to_gradients(u: torch.Tensor, c: float) -> torch.Tensor:
    """The ``Φ`` whose grid is ``u`` (where representable: spacings clamped into ``(0, c)``); for tests/inits."""
    h, w = u.shape[-2:]
    grid = u + fields.identity_grid(h, w, u.device, u.dtype)
    g_r = torch.diff(grid[:, 0], dim=1, prepend=torch.full_like(grid[:, 0, :1], -1.0))
    g_c = torch.diff(grid[:, 1], dim=2, prepend=torch.full_like(grid[:, 1, :, :1], -1.0))
    g = torch.stack([g_r, g_c], 1).clamp(1e-4, c - 1e-4)
    return logit(g, c)


# ---- network --------------------------------------------------------------------------------------
def _block(cin: int, cout: int, slope: float) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.InstanceNorm2d(cout, affine=False), nn.LeakyReLU(slope))


class MultistepNet(nn.Module):
    """``forward(moving, fixed, steps, c)`` -> (list of accumulated ``Φ`` per step, list of warped moving).

    moving, fixed ``(N, 1, H, W)`` with H, W multiples of :attr:`multiple`; all steps share the weights.
    """

    multiple = 8

    def __init__(self, enc=(16, 32, 64, 128), slope: float = 0.01):
        super().__init__()
        e1, e2, e3, e4 = enc
        self.enc1, self.enc2, self.enc3, self.enc4 = _block(2, e1, slope), _block(e1, e2, slope), _block(e2, e3, slope), _block(e3, e4, slope)
        self.dec4 = _block(e4, e4, slope)
        self.dec3 = _block(e4 + e3, e3, slope)
        self.dec2 = _block(e3 + e2, e2, slope)
        self.dec1 = _block(e2 + e1, e1, slope)
        self.head = nn.Conv2d(e1, 2, 3, padding=1)
        nn.init.normal_(self.head.weight, 0.0, 1e-5)  # an untrained net is the identity (Φ = 0)
        nn.init.zeros_(self.head.bias)

    def gradients(self, moving: torch.Tensor, fixed: torch.Tensor) -> torch.Tensor:
        """One step: ``[moving, fixed]`` -> ``Φ_s`` ``(N, 2, H, W)`` (row, col order)."""
        x = torch.cat([moving, fixed], 1)
        e1 = F.max_pool2d(self.enc1(x), 2)
        e2 = F.max_pool2d(self.enc2(e1), 2)
        e3 = F.max_pool2d(self.enc3(e2), 2)
        e4 = self.enc4(e3)
        d = torch.cat([self.dec4(e4), e3], 1)
        d = self.dec3(F.interpolate(d, scale_factor=2, mode="nearest"))
        d = self.dec2(F.interpolate(torch.cat([d, e2], 1), scale_factor=2, mode="nearest"))
        d = self.dec1(F.interpolate(torch.cat([d, e1], 1), scale_factor=2, mode="nearest"))
        return self.head(d)

    def forward(self, moving: torch.Tensor, fixed: torch.Tensor, steps: int = 3, c: float = 2.0, init: torch.Tensor | None = None,
                every_step: bool = True):
        """``init``: an optional pull field applied first (the affine pre-alignment): step s warps the
        original moving image once, through ``compose(init, u_s)``. ``every_step=False``: the last step's only (a
        registration's: with every step's kept, ``steps=100`` took 2.3x the memory its check allowed)."""
        phis, warped = [], []
        phi = None
        current = moving if init is None else fields.warp(moving, init)
        for _ in range(steps):
            d = self.gradients(current, fixed)
            phi = d if phi is None else phi + d  # accumulated in the pre-logistic space
            u = gradients_to_displacement(phi, c)
            current = fields.warp(moving, u if init is None else fields.compose(init, u))  # the original moving, re-warped
            if every_step:
                phis.append(phi)
                warped.append(current)
        if not every_step:
            phis, warped = [phi], [current]
        return phis, warped


def build_net(config: dict[str, Any]) -> MultistepNet:
    return MultistepNet(enc=tuple(config.get("enc", (16, 32, 64, 128))), slope=float(config.get("slope", 0.01)))


def load_net(weights: str, device: torch.device) -> tuple[MultistepNet, dict]:
    key = (*cache_key(weights), str(device))
    if key not in _MODELS:
        state, card = resolve(weights, MultistepEngine.default_model)
        cfg = dict(card.get("config", {}))
        net = build_net(cfg)
        load_fitting(net, state, card, weights or MultistepEngine.default_model, "multistep", ("multistep",))
        info = {"c": float(cfg.get("c", 2.0)), "steps": int(cfg.get("steps", 3)), "train_size": int(card.get("train_size", 128))}
        _MODELS[key] = (net.to(device).eval(), info)
    return _MODELS[key]


#: the smallest side of the network's working image (px)
MIN_WORK_SIDE = 16

#: px of the images repeated past their bottom and right edges before the network sees them, cut from its field:
#: the network's border outputs (a spacing off over the last ~10 px, summed into the grid there) lie in them.
EDGE_MARGIN = 16


def _past_edges(x: torch.Tensor) -> torch.Tensor:
    """``(N, C, H, W)`` with :data:`EDGE_MARGIN` px repeated past its bottom and right edges."""
    return F.pad(x, (0, EDGE_MARGIN, 0, EDGE_MARGIN), mode="replicate") if EDGE_MARGIN else x


def _network_fields(net: MultistepNet, m: torch.Tensor, f: torch.Tensor, pre: torch.Tensor | None, steps: int,
                    c: float, size: tuple[int, int], chunk: int, step=None, label: str = "") -> torch.Tensor:
    """The network's pull fields at full size for prepared pairs ``m``, ``f`` (and their affine ``pre``);
    ``step(i, label)`` before the pass of the pairs from ``i`` (:class:`~napari_tlreg.engines.pairs.PairSteps`)."""
    h, w = m.shape[-2:]
    out = []
    chunk = pairs.network_chunk(m, chunk)
    for i in range(0, m.shape[0], chunk):
        if step is not None:
            step(i, label, min(chunk, m.shape[0] - i))
        ms, fs = pairs.resample(m[i:i + chunk], size), pairs.resample(f[i:i + chunk], size)
        ms, _ = pairs.pad_to_multiple(_past_edges(ms), net.multiple)
        fs, _ = pairs.pad_to_multiple(_past_edges(fs), net.multiple)
        init = None
        if pre is not None:  # the affine at the network's resolution, padded like the images
            init, _ = pairs.pad_to_multiple(_past_edges(fields.resize_field(pre[i:i + chunk], size)), net.multiple)
        phis, _ = net(ms, fs, steps, c, init, every_step=False)
        u = gradients_to_displacement(phis[-1], c)
        if init is not None:
            u = fields.compose(init, u)  # first the affine, then the deformable part
        u = u[:, :, : size[0], : size[1]]
        out.append(fields.resize_field(u, (h, w)) if size != (h, w) else u)
    return torch.cat(out)


def turned(x: torch.Tensor) -> torch.Tensor:
    """Images or fields ``(N, C, H, W)`` turned by 180°."""
    return x.flip(-1, -2)


def corner_weights(h: int, w: int, like: torch.Tensor) -> torch.Tensor:
    """``(1, 2, h, w)``: the weight of the field summed from the top-left corner, per channel, 1 at the top (rows) or
    left (columns) edge to 0 at the far one; the field summed from the bottom-right corner gets the rest."""
    rows = 1 - torch.linspace(0, 1, h, device=like.device, dtype=like.dtype)[:, None].expand(h, w)
    cols = 1 - torch.linspace(0, 1, w, device=like.device, dtype=like.dtype)[None, :].expand(h, w)
    return torch.stack([rows, cols])[None]


def register_pairs(net: MultistepNet, moving: torch.Tensor, fixed: torch.Tensor, steps: int, c: float,
                   scale: float = 1.0, affine: bool = False, mask_nodata: bool = True, chunk: int = 8,
                   two_way: bool = True, only_if_better: bool = True, step=None, valid=None,
                   kept: list | None = None, check=None) -> torch.Tensor:
    """Pull fields ``(N, 2, H, W)`` with ``warp(moving, u) ≈ fixed`` for raw pairs ``(N, 1, H, W)``.

    ``two_way`` (our addition, not the paper's): the grid is a cumulative sum from the top-left corner, so the errors
    of its spacings add up towards the bottom and right edges (on the real Sentinel-2 pair at 512 px, run at native
    size: up to 33 px off along the right edge, 0.13 % folded). The pair is registered again turned by 180° (its sum
    then starts at the bottom-right corner: ``u(x) = -u_turned(turned x)``), and the two fields are blended by
    position, each weighted towards the corner its sum starts at (:func:`corner_weights`). Twice the network's time.

    ``only_if_better`` (ours too; with the affine stage): a pair whose refined field matches its frame worse than the
    affine alone keeps the affine (:func:`~napari_tlreg.engines.pairs.refinement_helps`): where the affine already
    explains the motion (a shift, a date repeated) the network would only add its jitter.

    ``step(i, label)``: called before the network's pass of the ``i``-th pair (progress, and a cancel, per pair).
    ``valid``: the pairs' known no-data masks (:func:`~napari_tlreg.engines.pairs.prepare_pair`).
    ``kept``: a list that gets, per pair, whether it kept the affine alone (``only_if_better``).
    ``check()``: between the stages after the passes (a cancel).
    """
    n, _, h, w = moving.shape
    m, f, vm, vf = pairs.prepare_pair(moving, fixed, mask_nodata, valid)
    pre = pairs.affine_prealign(m, f, vm, vf) if affine else None
    # at least 16 px a side: three poolings leave 2x2 or more for the deepest block's instance norm (at 8x8, one pixel:
    # torch refuses it), whatever the frames' size and ``scale``
    size = (max(MIN_WORK_SIDE, round(h * scale)), max(MIN_WORK_SIDE, round(w * scale)))
    u = _network_fields(net, m, f, pre, steps, c, size, chunk, step)
    if two_way:
        back = -turned(_network_fields(net, turned(m), turned(f), None if pre is None else -turned(pre), steps, c,
                                       size, chunk, step, "turned"))
        weight = corner_weights(h, w, u)
        u = weight * u + (1 - weight) * back
    if check is not None:
        check()
    if pre is not None and only_if_better:
        helps = pairs.refinement_helps(m, f, u, pre, vf)
        u = torch.where(helps[:, None, None, None], u, pre)
        if kept is not None:
            kept += (~helps).tolist()
    return u


def affine_kept_message(frames: list[int], n_pairs: int) -> str:
    """What ``register`` says of the pairs that kept the affine stage alone (``only_if_better``)."""
    which = "every frame" if len(frames) == n_pairs else f"frame{'s' * (len(frames) > 1)} {', '.join(map(str, frames))}"
    return (f"multistep: {which} kept the affine alone (its Jacobian flat): the network's refinement matched the "
            "frame worse (only_if_better=false keeps it)")


class MultistepEngine(Engine):
    name = "multistep"
    pairwise = True
    #: bytes: fixed, per voxel, per full-size and per working pixel held at once, per pair (Engine.memory_model;
    #: ``benchmarks/memory.py --fit-only --fit-with benchmarks/results/memory/earlier/*.json``)
    memory_model = (1.4e7, 3.71, 313.0, 787.0, 2.63e5)
    description = "Multistep spatial-gradient network: logistic-bounded gradients, cumulative-sum grid, T refinement steps (satellite pairs)"
    #: c = 0 and steps = 0 mean "as the weights were trained" (shipped model: c = 2, the paper's value for
    #: VHR imagery, T = 3); scale = 0: auto (native up to 4x the training size, see pairs.auto_scale).
    defaults = {"weights": "", "steps": 0, "c": 0.0, "affine": True, "scale": 0.0, "mask_nodata": True, "nodata": None,
                "two_way": True, "only_if_better": True}
    help = {
        "weights": "shipped model name or .pt path (empty: multistep_satellite128)",
        "steps": "refinement steps of the network (0: as trained)",
        "c": "upper bound of the spatial gradients, > 1 (0: as trained)",
        "affine": "find a global affine first, then the deformable part (as the shipped network was trained)",
        "scale": "resolution the network runs at, as a factor (0: auto, from the size it was trained at)",
        "mask_nodata": "ignore no-data pixels in the images: a constant border at an image's minimum or maximum (a "
                       "satellite tile's fill; NaN must be filled first, e.g. with 0)",
        "nodata": pairs.NODATA_HELP,
        "two_way": "also register the pair turned by 180° and blend the two fields by position (the grid's cumulative "
                   "sum drifts away from the corner it starts at; twice the network's time)",
        "only_if_better": "keep a pair's refinement by the network only where it matches the frame better than the "
                          "affine stage alone (else the network adds a jitter of ~0.25 px where the affine explains "
                          "the motion: a shift, a date repeated)",
    }
    advanced = ("only_if_better",)
    default_model = "multistep_satellite128"

    def check(self, params: dict[str, Any]) -> None:
        if params["steps"] != 0 and not 1 <= params["steps"] <= MAX_STEPS:
            raise ValueError(f"multistep: steps must be 0 (as trained) or in [1, {MAX_STEPS}], got {params['steps']}")
        if params["c"] != 0.0 and not 1.0 < params["c"] <= C_MAX:
            raise ValueError(f"multistep: c must be 0 (as trained) or in (1, {C_MAX:g}], got {params['c']}")
        pairs.check_scale(self.name, params["scale"])
        pairs.check_nodata(self.name, params)

    def for_frames(self, params, shape, spacing, unit):
        """The values "as trained" and "auto" resolved (the result records what ran: it said 0, whatever that was)."""
        _, info = load_net(params["weights"], torch.device("cpu"))
        return {**params, "steps": params["steps"] or info["steps"], "c": params["c"] or info["c"],
                "scale": params["scale"] or pairs.auto_scale(shape[1], shape[2], info["train_size"])}

    def pixels_at_once(self, shape, params):
        _, info = load_net(params["weights"], torch.device("cpu"))
        return pairs.pixels_at_once(shape, params["scale"], info["train_size"])

    def run(self, frames: torch.Tensor, reference: int, params: dict[str, Any], ctx: RunContext) -> torch.Tensor:
        self.check(params)
        net, info = load_net(params["weights"], frames.device)
        steps = params["steps"] or info["steps"]
        c = params["c"] or info["c"]
        t, h, w = frames.shape
        scale = params["scale"] or pairs.auto_scale(h, w, info["train_size"])
        u = torch.zeros(t, 2, h, w, device=frames.device, dtype=frames.dtype)
        others = [i for i in range(t) if i != reference]
        chunk = pairs.chunk_size(h, w)
        progress = pairs.PairSteps(ctx, len(others), 2 if params["two_way"] else 1)
        kept: list[bool] = []  # per frame of ``others``: the affine alone kept (only_if_better)
        with torch.no_grad():
            for k in range(0, len(others), chunk):
                idx = others[k:k + chunk]
                moving = frames[reference][None, None].expand(len(idx), 1, h, w)
                u[idx] = register_pairs(net, moving, frames[idx][:, None], steps, c, scale, params["affine"],
                                         params["mask_nodata"], chunk, params["two_way"],
                                         params["only_if_better"], progress.at(k), pairs.given_valid(ctx, reference, idx),
                                         kept, ctx.check)
        progress.end()
        if any(kept):  # said: its flat Jacobian is no failure to run (a satellite user took it for one)
            frames_kept = [i for i, k in zip(others, kept) if k]
            ctx.notes.append(affine_kept_message(frames_kept, len(others)))
        return u
