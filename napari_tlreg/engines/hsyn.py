"""HSyN: hierarchical symmetric normalisation with a deformation-inverse network (Sha et al., MICCAI 2024).

The 2-D analogue of the authors' 3-D method (paper 004), in the project's pull convention
(README: Conventions: ``warp(I, u)(x) = I(x + u(x))``, ``compose(a, b)(x) = b(x) + a(x + b(x))``).

* **Symmetric net** ``g``: the same U-Net run on ``(I_m, I_f)`` and on ``(I_f, I_m)`` gives two half-way
  fields defined on the mean space ``y``: ``u_mf`` (``y + u_mf(y)`` is the moving point of ``y``) and
  ``u_fm`` (its fixed point). Both images are pulled into the mean space,
  ``warp(I_m, u_mf) ≈ warp(I_f, u_fm)``; loss = ``-LNCC`` there + ``λ1·2·[Grad_l2(u_mf) + Grad_l2(u_fm)]``
  + ``λ2·mean((u_mf + u_fm)²)`` (the symmetric magnitude constraint: the mean point is the midpoint).
* **Three levels** (inputs average-pooled to 1/4, 1/2, 1), one net per level: a level's fields are
  upsampled, pull the inputs of the next level, and are composed with that level's residuals:
  ``u ← compose(up(u), r)`` (``warp(warp(I, up(u)), r) = warp(I, compose(up(u), r))``).
* **Deformation-inverse net** ``h``: field -> its inverse, trained on detached half-way fields with
  ``mean(compose(u, h(u))²) + λ3·Grad_l2(h(u))``. Parameterised as ``h(u) = -u + N(u)`` (the first-order
  inverse plus a learned correction), run at half resolution (the fields are smooth).
* **Final field** moving -> fixed. A fixed pixel ``x`` is the mean point ``y = x + u_fm^{-1}(x)``
  (since ``y + u_fm(y) = x``), whose moving point is ``y + u_mf(y)``; so
  ``u = compose(u_mf, inv(u_fm))``. By the same argument its inverse is ``compose(u_fm, inv(u_mf))``:
  the learned inverse the engine leaves in its run's context (``RunContext.inverse``, the result's ``inverse``: the
  viewer tracks points forward with it).

Here moving = the reference frame and fixed = frame t, so ``frame_t ≈ warp(reference, u_t)``.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..core import fields
from . import pairs
from .base import Engine, RunContext
from .nets import SVFUNet
from .weights import cache_key, load_fitting, resolve

N_LEVELS = 3
MULTIPLE = 32  # 1/4 resolution must still be a multiple of the U-Net's 8
INVERSE_INPUT_SCALE = 8.0  # the inverse net sees u / 8 (pixels -> order-one inputs)
NCC_WINDOWS = (3, 5, 7)  # per level, coarse to fine (the authors' code)
_MODELS: dict[tuple, tuple] = {}


class InverseNet(nn.Module):
    """``h(u) = -u + N(u / 8)``: a U-Net on the 2-channel field, correcting the first-order inverse."""

    def __init__(self, enc=(16, 32, 32, 32), dec=(32, 32, 32, 32, 16, 16)):
        super().__init__()
        self.unet = SVFUNet(tuple(enc), tuple(dec))

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return -u + self.unet(u / INVERSE_INPUT_SCALE)


def _pool(x: torch.Tensor, factor: int) -> torch.Tensor:
    return F.avg_pool2d(x, factor) if factor > 1 else x


def _unpool_field(u: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A field on a :func:`_pool` grid brought to the finer ``size`` (a whole multiple): coarse pixel ``i`` covers fine
    pixels ``f·i … f·i + f − 1`` (centre ``f·i + (f − 1)/2``), so the grids' centres align and the values scale by
    ``f`` (``fields.resize_field`` aligns the corners, which average pooling does not: 2-5 % too large)."""
    f = size[0] // u.shape[-2]
    if f == 1:
        return u
    return F.interpolate(u, size=size, mode="bilinear", align_corners=False) * f


class HSyNNet(nn.Module):
    """Three symmetric level nets and the deformation-inverse net.

    ``forward(moving, fixed, n_levels=3, frozen=0)`` -> dict with the half-way fields ``u_mf``, ``u_fm`` at the
    finest active level (pixels of that level), both images warped to the mean space there (``m_mean``,
    ``f_mean``), the level index, and the inverse net's outputs on the detached fields brought to full
    resolution (``inv_mf``, ``inv_fm`` with ``u_mf_full``, ``u_fm_full``). Levels below ``frozen`` run
    without gradients (the authors' progressive schedule). H, W multiples of :data:`MULTIPLE`.
    """

    def __init__(self, enc=(16, 32, 32, 32), dec=(32, 32, 32, 32, 16, 16), inv_enc=(16, 32, 32, 32), inv_dec=(32, 32, 32, 32, 16, 16)):
        super().__init__()
        self.levels = nn.ModuleList([SVFUNet(tuple(enc), tuple(dec)) for _ in range(N_LEVELS)])
        self.inverse = InverseNet(inv_enc, inv_dec)

    def half_fields(self, moving: torch.Tensor, fixed: torch.Tensor, n_levels: int = N_LEVELS, frozen: int = 0):
        """Half-way fields at level ``n_levels - 1`` and the images warped to the mean space there."""
        u_mf = u_fm = None
        for lev in range(n_levels):
            factor = 2 ** (N_LEVELS - 1 - lev)
            m, f = _pool(moving, factor), _pool(fixed, factor)
            if u_mf is not None:
                size = m.shape[-2:]
                u_mf, u_fm = _unpool_field(u_mf, size), _unpool_field(u_fm, size)
                mw, fw = fields.warp(m, u_mf), fields.warp(f, u_fm)
            else:
                mw, fw = m, f
            n = m.shape[0]
            with torch.set_grad_enabled(torch.is_grad_enabled() and lev >= frozen):
                r = self.levels[lev](torch.cat([torch.cat([mw, fw], 1), torch.cat([fw, mw], 1)], 0))
            r_mf, r_fm = r[:n], r[n:]
            u_mf = r_mf if lev == 0 else fields.compose(u_mf, r_mf)
            u_fm = r_fm if lev == 0 else fields.compose(u_fm, r_fm)
        return u_mf, u_fm, fields.warp(m, u_mf), fields.warp(f, u_fm)

    def invert(self, u: torch.Tensor) -> torch.Tensor:
        """Learned inverse of fields ``(N, 2, H, W)`` (run at half resolution, returned at full)."""
        h, w = u.shape[-2:]
        small = (max(8, h // 2), max(8, w // 2))
        us = fields.resize_field(u, small)
        us, _ = pairs.pad_to_multiple(us, 8)
        inv = self.inverse(us)[:, :, : small[0], : small[1]]
        return fields.resize_field(inv, (h, w))

    def forward(self, moving: torch.Tensor, fixed: torch.Tensor, n_levels: int = N_LEVELS, frozen: int = 0) -> dict:
        u_mf, u_fm, m_mean, f_mean = self.half_fields(moving, fixed, n_levels, frozen)
        size = moving.shape[-2:]
        u_mf_full = _unpool_field(u_mf.detach(), size)
        u_fm_full = _unpool_field(u_fm.detach(), size)
        inv = self.invert(torch.cat([u_mf_full, u_fm_full], 0))
        n = moving.shape[0]
        return {"u_mf": u_mf, "u_fm": u_fm, "m_mean": m_mean, "f_mean": f_mean, "level": n_levels - 1,
                "u_mf_full": u_mf_full, "u_fm_full": u_fm_full, "inv_mf": inv[:n], "inv_fm": inv[n:]}


# ---- losses (used by the trainer) -------------------------------------------------------------------
def lncc_loss(a: torch.Tensor, b: torch.Tensor, window: int, eps: float = 1e-5, mask: torch.Tensor | None = None) -> torch.Tensor:
    """``-mean`` local squared NCC over ``window``² boxes (VoxelMorph's form), ``(N, 1, H, W)``; over ``mask`` if given."""
    k = torch.ones(1, 1, window, window, device=a.device, dtype=a.dtype)
    pad = window // 2
    n = float(window * window)

    def box(x):
        return F.conv2d(F.pad(x, (pad, pad, pad, pad), mode="replicate"), k)

    sa, sb = box(a), box(b)
    saa, sbb, sab = box(a * a), box(b * b), box(a * b)
    cross = sab - sa * sb / n
    va = (saa - sa * sa / n).clamp_min(0)
    vb = (sbb - sb * sb / n).clamp_min(0)
    cc = cross * cross / (va * vb + eps)
    if mask is None:
        return -cc.mean()
    return -(cc * mask).sum() / mask.sum().clamp_min(1)


def build_net(config: dict[str, Any]) -> HSyNNet:
    cfg = dict(config)
    return HSyNNet(enc=tuple(cfg.get("enc", (16, 32, 32, 32))), dec=tuple(cfg.get("dec", (32, 32, 32, 32, 16, 16))),
                   inv_enc=tuple(cfg.get("inv_enc", (16, 32, 32, 32))), inv_dec=tuple(cfg.get("inv_dec", (32, 32, 32, 32, 16, 16))))


def load_net(weights: str, device: torch.device) -> tuple[HSyNNet, dict]:
    key = (*cache_key(weights), str(device))
    if key not in _MODELS:
        state, card = resolve(weights, HSyNEngine.default_model)
        net = build_net(card.get("config", {}))
        load_fitting(net, state, card, weights or HSyNEngine.default_model, "hsyn", ("hsyn",))
        _MODELS[key] = (net.to(device).eval().to(memory_format=torch.channels_last), {"train_size": int(card.get("train_size", 128))})
    return _MODELS[key]


def register_pairs(net: HSyNNet, moving: torch.Tensor, fixed: torch.Tensor, levels: int = N_LEVELS, inverse: str = "learned",
                   scale: float = 1.0, affine: bool = False, mask_nodata: bool = True,
                   step=None, valid=None, check=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Pull field ``u`` with ``warp(moving, u) ≈ fixed`` and its inverse, each ``(N, 2, H, W)``, for raw pairs;
    ``step(i)`` before the network's pass of the ``i``-th pair (progress, and a cancel, per pair); ``check()`` between
    the stages after the passes (a cancel: the inverse and the composition took 5 s of a 2048² pair); ``valid``: the
    pairs' known no-data masks (:func:`~napari_tlreg.engines.pairs.prepare_pair`)."""
    check = check or (lambda: None)
    n, _, h, w = moving.shape
    m, f, vm, vf = pairs.prepare_pair(moving, fixed, mask_nodata, valid)
    pre = pairs.affine_prealign(m, f, vm, vf) if affine else None
    if pre is not None:
        m = fields.warp(m, pre)
    size = (max(MULTIPLE, round(h * scale)), max(MULTIPLE, round(w * scale)))
    ms, fs = pairs.resample(m, size), pairs.resample(f, size)
    ms, _ = pairs.pad_to_multiple(ms, MULTIPLE)
    fs, _ = pairs.pad_to_multiple(fs, MULTIPLE)
    halves, chunk = [], pairs.network_chunk(ms, n)
    for i in range(0, n, chunk):
        if step is not None:
            step(i, "", min(chunk, n - i))
        halves.append(net.half_fields(ms[i:i + chunk], fs[i:i + chunk], levels)[:2])
    u_mf, u_fm = (torch.cat(parts) for parts in zip(*halves))
    check()
    full = ms.shape[-2:]
    u_mf, u_fm = _unpool_field(u_mf, full), _unpool_field(u_fm, full)
    if inverse == "learned":
        inv = net.invert(torch.cat([u_fm, u_mf], 0))
    else:
        inv = fields.invert(torch.cat([u_fm, u_mf], 0))
    inv_fm, inv_mf = inv[:n], inv[n:]
    check()
    u = fields.compose(u_mf, inv_fm)[:, :, : size[0], : size[1]]
    u_inv = fields.compose(u_fm, inv_mf)[:, :, : size[0], : size[1]]
    if size != (h, w):
        u, u_inv = fields.resize_field(u, (h, w)), fields.resize_field(u_inv, (h, w))
    if pre is not None:
        # total = compose(pre, u); its inverse = compose(u_inv, inv(pre)) (inv of an affine: fixed point, exact enough)
        pre_inv = fields.invert(pre)
        u, u_inv = fields.compose(pre, u), fields.compose(u_inv, pre_inv)
    return u, u_inv


class HSyNEngine(Engine):
    name = "hsyn"
    pairwise = True
    #: bytes: fixed, per voxel, per full-size and per working pixel held at once, per pair (Engine.memory_model;
    #: ``benchmarks/memory.py --fit-only --fit-with benchmarks/results/memory/earlier/*.json``)
    memory_model = (0.0, 15.7, 255.0, 1630.0, 2.84e5)
    description = "HSyN: hierarchical symmetric half-way fields + deformation-inverse network (pairs; learned inverse)"
    #: levels = 3: all three (coarse to fine); fewer uses only the coarse ones. inverse: how the final
    #: field is composed: the learned inverse net (the paper) or fixed-point inversion.
    defaults = {"weights": "", "levels": N_LEVELS, "inverse": "learned", "affine": True, "scale": 0.0, "mask_nodata": True,
                "nodata": None}
    help = {
        "weights": "shipped model name or .pt path (empty: hsyn_satellite128)",
        "levels": "symmetric levels run, coarse to fine",
        "inverse": "inverse of the half-way fields: the learned network or fixed-point iterations",
        "affine": "find a global affine first, then the deformable part (as the shipped network was trained)",
        "scale": "resolution the network runs at, as a factor (0: auto, from the size it was trained at)",
        "mask_nodata": "ignore no-data pixels in the images: a constant border at an image's minimum or maximum (a "
                       "satellite tile's fill; NaN must be filled first, e.g. with 0)",
        "nodata": pairs.NODATA_HELP,
    }
    choices = {"inverse": ("learned", "fixed-point")}
    default_model = "hsyn_satellite128"

    def check(self, params: dict[str, Any]) -> None:
        if not 1 <= params["levels"] <= N_LEVELS:
            raise ValueError(f"hsyn: levels must be in [1, {N_LEVELS}], got {params['levels']}")
        pairs.check_scale(self.name, params["scale"])
        pairs.check_nodata(self.name, params)

    def for_frames(self, params, shape, spacing, unit):
        """The "auto" scale resolved (the result records what ran: it said 0, whatever that was)."""
        _, info = load_net(params["weights"], torch.device("cpu"))
        return {**params, "scale": params["scale"] or pairs.auto_scale(shape[1], shape[2], info["train_size"])}

    def pixels_at_once(self, shape, params):
        _, info = load_net(params["weights"], torch.device("cpu"))
        return pairs.pixels_at_once(shape, params["scale"], info["train_size"])

    def run(self, frames: torch.Tensor, reference: int, params: dict[str, Any], ctx: RunContext) -> torch.Tensor:
        self.check(params)
        net, info = load_net(params["weights"], frames.device)
        t, h, w = frames.shape
        scale = params["scale"] or pairs.auto_scale(h, w, info["train_size"])
        u = torch.zeros(t, 2, h, w, device=frames.device, dtype=frames.dtype)
        inv = torch.zeros_like(u)
        others = [i for i in range(t) if i != reference]
        chunk = pairs.chunk_size(h, w)
        progress = pairs.PairSteps(ctx, len(others))
        with torch.no_grad():
            for k in range(0, len(others), chunk):
                idx = others[k:k + chunk]
                moving = frames[reference][None, None].expand(len(idx), 1, h, w)
                u[idx], inv[idx] = register_pairs(net, moving, frames[idx][:, None], params["levels"], params["inverse"],
                                                  scale, params["affine"], params["mask_nodata"], progress.at(k),
                                                  pairs.given_valid(ctx, reference, idx), ctx.check)
        progress.end()
        # the learned inverse (compose(u_fm, h(u_mf))) goes with this run's context: kept on the engine, which every
        # run shares, a second run started before the first's result was made took it (fixed-point inverse instead)
        ctx.inverse = inv
        return u
