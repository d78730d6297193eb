"""TLRN (temporal latent residual network) and its pairwise ablation, VoxelMorph.

Both use the same SVF U-Net, the same scaling-and-squaring integration (7 steps) and the same
loss; TLRN adds the temporal residual unit over the bottleneck features of the pairs
``(I_ref, I_t)`` ordered by time away from the reference (one chain forward, one backward).
"""
from __future__ import annotations

import math

from typing import Any

import torch
import torch.nn.functional as F

from ..core import fields
from .base import Engine, RunContext
from .nets import TLRNNet, velocity_to_displacement
from .weights import cache_key, load_fitting, resolve

INTEGRATION_STEPS = 7
_MODELS: dict[tuple, TLRNNet] = {}


def build_net(config: dict[str, Any]) -> TLRNNet:
    cfg = dict(config)
    return TLRNNet(
        enc=tuple(cfg.get("enc", (16, 32, 32, 32))),
        dec=tuple(cfg.get("dec", (32, 32, 32, 32, 16, 16))),
        residual=bool(cfg.get("residual", True)),
        shared=bool(cfg.get("shared", True)),
        n_units=int(cfg.get("n_units", 1)),
        flow_level=int(cfg.get("flow_level", 0)),
    )


def load_net(weights: str, default_name: str, residual: bool, device: torch.device) -> tuple[TLRNNet, int]:
    """Build and load a network (cached per weights/device; BatchNorm in eval mode) and its training image size."""
    key = (*cache_key(weights), default_name, residual, str(device))
    if key not in _MODELS:
        state, card = resolve(weights, default_name)
        cfg = dict(card.get("config", {}))
        cfg["residual"] = residual
        net = build_net(cfg)
        if not residual:  # a TLRN checkpoint also serves the pairwise ablation: drop the unit
            state = {k: v for k, v in state.items() if not k.startswith("units.")}
        load_fitting(net, state, card, weights or default_name, "tlrn" if residual else "voxelmorph",
                     ("tlrn",) if residual else ("voxelmorph", "tlrn"))
        net = net.to(device).eval().to(memory_format=torch.channels_last)
        _MODELS[key] = (net, int(card.get("train_size", 64)))
    return _MODELS[key]


def auto_scale(h: int, w: int, train_size: int) -> float:
    """The resampling factor that brings the longer side to ``train_size`` (at most 1, at least 0.25)."""
    return float(min(1.0, max(0.25, train_size / max(h, w))))


#: mm a pixel the shipped cine models see: 128-px crops of the real cine (1.29-1.37 mm pixels) run at 64 px
CINE_PIXEL_MM = 2.7


def spacing_scale(spacing, unit: str) -> float | None:
    """The resampling factor, a power of 2, that brings pixels of ``spacing`` mm nearest to :data:`CINE_PIXEL_MM`
    along their coarser axis (None without a pixel size in mm): on non-square pixels one factor for both axes, and
    the mean of the two took 2 x 1 mm pixels to 0.5 (4 mm rows, the heart drawn smaller than in training)."""
    if spacing is None or unit != "mm":
        return None
    return float(2.0 ** round(math.log2(max(float(spacing[0]), float(spacing[1])) / CINE_PIXEL_MM)))


def time_chains(n_frames: int, reference: int) -> list[list[int]]:
    """Frame indices ordered away from the reference: ``[[ref+1, ..., T-1], [ref-1, ..., 0]]`` (empty chains dropped)."""
    chains = [list(range(reference + 1, n_frames)), list(range(reference - 1, -1, -1))]
    return [c for c in chains if c]


#: frames ``predict_velocities`` runs through the network at once
PREDICT_BLOCK = 16


def predict_velocities(net: TLRNNet, frames: torch.Tensor, reference: int, ctx: RunContext | None = None,
                       block: int = PREDICT_BLOCK) -> torch.Tensor:
    """Velocities for normalised frames ``(T, H, W)``; zero at the reference.

    Pads H, W to a multiple of 8 (border replication); the result is on the network's output grid
    of the *padded* frames, ``(T, 2, Hp, Wp)`` or ``(T, 2, Hp/2, Wp/2)`` (``flow_level=1``): crop after
    :func:`~napari_tlreg.engines.nets.velocity_to_displacement`. Each chain is streamed in
    blocks of ``block`` frames (the latent state carried across blocks), so memory stays bounded on
    long sequences and cancellation is checked between blocks.
    """
    t, h, w = frames.shape
    m = net.unet.multiple
    ph, pw = (-h) % m, (-w) % m
    x = F.pad(frames[None], (0, pw, 0, ph), mode="replicate")[0] if (ph or pw) else frames
    f = 2**net.unet.flow_level
    v = torch.zeros(t, 2, (h + ph) // f, (w + pw) // f, device=frames.device, dtype=frames.dtype)
    ref = x[reference][None, None]
    done, total = 0, t - 1
    for chain in time_chains(t, reference):
        state = None
        for start in range(0, len(chain), block):
            idx = chain[start : start + block]
            if ctx is not None:
                # the frames' own numbers (it said "frames 1-1 of 19" registering frame 19 to reference 18)
                which = f"frame {idx[0]}" if len(idx) == 1 else f"frames {min(idx)}-{max(idx)}"  # (a chain back
                # towards frame 0 said "frames 1-0")
                ctx.report(done, total, f"{which} ({done + len(idx)} of {total})")
            out, state = net.step(ref, x[idx][None], state, t0=start)
            v[idx] = out[0]
            done += len(idx)
    if ctx is not None:  # the frames' stage ends at its total (API review: it stopped at 0/2, then "integrated" 1/1)
        ctx.report(total, total, f"{total} frames")
    return v


class TLRNEngine(Engine):
    name = "tlrn"
    #: bytes: fixed, per voxel, per full-size and per working pixel held at once, per pair (Engine.memory_model;
    #: ``benchmarks/memory.py --fit-only --fit-with benchmarks/results/memory/earlier/*.json``)
    memory_model = (0.0, 78.6, 0.0, 621.0, 3.68e4)
    #: scale 0 = auto: run the network at the resolution it was trained at, i.e. resize so the
    #: longer side is the training size (64 px for the shipped cine models), never upsampling and never below a
    #: quarter of the frame (:func:`auto_scale`)
    defaults = {"weights": "", "scale": 0.0, "steps": INTEGRATION_STEPS}
    help = {
        "weights": "shipped model name or .pt path (empty: tlrn_cine64)",
        "scale": "resolution the network runs at, as a factor (0: auto, from the size it was trained at, and with a "
                 "pixel size in mm never coarser than the 2.7 mm a pixel of its training)",
        "steps": "scaling-and-squaring steps integrating the velocities (0: the velocity as a displacement)",
    }
    residual = True
    default_model = "tlrn_cine64"

    def check(self, params: dict[str, Any]) -> None:
        if params["scale"] != 0.0 and not 0.1 <= params["scale"] <= 4.0:
            raise ValueError(f"{self.name}: scale must be 0 (auto) or in [0.1, 4], got {params['scale']}")
        if params["steps"] < 0 or params["steps"] > 12:
            raise ValueError(f"{self.name}: steps must be in [0, 12], got {params['steps']}")

    def for_frames(self, params, shape, spacing, unit):
        """Auto scale on frames with a pixel size in mm: never so coarse that the heart is drawn smaller than in
        training (:func:`spacing_scale`). The size rule alone ran a full 256-px field of view of 1.37 mm pixels at
        64 px (5.5 mm a pixel): on the real cine (SCD0000101, held out) the ED->ES Dice fell from 0.914 (at 0.5) to
        0.902, and the warped frames matched worse than none (MSE 0.00305 against 0.00227 unregistered)."""
        if params["scale"] != 0.0:
            return params
        _, train_size = load_net(params["weights"], self.default_model, self.residual, torch.device("cpu"))
        by_size = auto_scale(shape[1], shape[2], train_size)
        by_mm = spacing_scale(spacing, unit)
        # the result records the scale it ran at (0 said "auto", whatever that came to)
        return {**params, "scale": by_size if by_mm is None else min(1.0, max(by_size, by_mm))}

    def pixels_at_once(self, shape, params):
        """A block of ``predict_velocities``' frames at the resolution the network runs at."""
        t, h, w = shape
        _, train_size = load_net(params["weights"], self.default_model, self.residual, torch.device("cpu"))
        s = params["scale"] or auto_scale(h, w, train_size)
        return 0, max(8, round(h * s)) * max(8, round(w * s)) * min(t, PREDICT_BLOCK)

    def run(self, frames: torch.Tensor, reference: int, params: dict[str, Any], ctx: RunContext) -> torch.Tensor:
        net, train_size = load_net(params["weights"], self.default_model, self.residual, frames.device)
        t, h, w = frames.shape
        s = params["scale"] or auto_scale(h, w, train_size)
        x = frames
        if s != 1.0:  # run the network at another resolution, bring the field back to pixels here
            size = (max(8, round(h * s)), max(8, round(w * s)))
            x = F.interpolate(frames[:, None], size=size, mode="bilinear", align_corners=True)[:, 0]
        with torch.no_grad():
            v = predict_velocities(net, x, reference, ctx)
            u = velocity_to_displacement(v, params["steps"], net.unet.flow_level)[:, :, : x.shape[1], : x.shape[2]]
            if s != 1.0:
                u = fields.resize_field(u, (h, w))
        ctx.report(1, 1, "integrated")
        return u

    def chains_frames(self, params: dict) -> bool:
        return self.residual  # the temporal unit carries each frame's features to the next one away from the reference


class VoxelMorphEngine(TLRNEngine):
    name = "voxelmorph"
    #: bytes: fixed, per voxel, per full-size and per working pixel held at once, per pair (Engine.memory_model;
    #: ``benchmarks/memory.py --fit-only --fit-with benchmarks/results/memory/earlier/*.json``)
    memory_model = (0.0, 73.0, 0.0, 413.0, 4.58e4)
    residual = False
    default_model = "voxelmorph_cine64"
    # the weights field names the model it runs (it said "the engine's shipped model"; training review)
    help = {**TLRNEngine.help, "weights": "shipped model name or .pt path (empty: voxelmorph_cine64)"}
