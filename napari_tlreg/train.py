"""Training of the learned engines (``tlrn``, ``voxelmorph``, ``multistep``, ``hsyn``): one trainer, run by hand.

``napari-tlreg train tlrn --data synthetic:cardiac --iterations 3000 --out w.pt``,
``napari-tlreg train multistep --data synthetic:satellite --out w.pt`` or :func:`train` from Python.
What differs between methods lives in a *task* (:data:`TASKS`): its network, its data and its loss;
the loop, the checkpoints, resuming, DDP and the deterministic batches are shared.

* Sequences (``tlrn``, ``voxelmorph``): loss = mean over frames of ``MSE(warp(I_ref, φ_t), I_t) + w·Grad_l2(v_t)``
  (TLRN paper eq. 4, w = 0.03). Data: ``synthetic:cardiac``, ``synthetic:lemniscate``, ``synthetic:mix``
  or a folder of sequences, with flips / 90° rotations / time reversal of whole sequences.
* Pairs (``multistep``, ``hsyn``): ``synthetic:satellite`` (urban-like scenes under the multistep paper's
  extra translation 2-12 px, rotation 3-4° and scale) or a folder of image pairs (any file with two or
  more frames, same random motion added); flips / 90° rotations / swaps. Losses: see the tasks.

Checkpoint selection: with ``val_every = N`` the objective is measured every N steps on
``val_batches`` held-out batches (drawn like training batches from a random stream no training
step uses, so for synthetic data: sequences the run never sees) and the weights of the lowest
value are kept in :func:`best_path` (``w.pt`` -> ``w.best.pt``); the history is in both checkpoints
(``"val"``), and ``resume`` continues it. For HSyN only losses with the same number of active
levels are compared (the best restarts when a level is added).

Several sources may be given separated by commas (one drawn per step). Deterministic on CPU
under a seed: the batch of step ``k`` on rank ``r`` is drawn from ``default_rng([seed, r, k])``,
so resuming from a checkpoint continues exactly. Multi-GPU (or multi-process CPU) through
``torchrun``: torch DistributedDataParallel, gloo on CPU, nccl on CUDA.
"""
from __future__ import annotations

import math
import numbers
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from .core import fields
from .core.normalize import normalize_sequence
from .engines.nets import grad_l2, half_resolution_state, velocity_to_displacement
from .engines.tlrn import INTEGRATION_STEPS, build_net
from .core.notes import user_stacklevel

SEQUENCE_METHODS = ("tlrn", "voxelmorph")
LR_SCHEDULES = ("constant", "cosine")


@dataclass
class TrainConfig:
    method: str = "tlrn"
    data: str | None = None  # None: the method's default (synthetic:cardiac, synthetic:satellite)
    out: str = "weights.pt"
    iterations: int = 2000
    batch: int = 4  # sequences (each gives n_frames - 1 pairs) or pairs per step
    n_frames: int = 8  # sequences only
    size: int | None = None  # None: the method's default (64 sequences, 128 pairs)
    lr: float = 1e-3
    lr_schedule: str = "constant"  # or "cosine": lr·½(1 + cos(π·step/iterations)), down to 0 at the end
    weight: float | None = None  # None: the method's default (TLRN Grad 0.03, multistep β 0.01, HSyN λ1 1)
    seed: int = 1234
    device: str = "auto"
    threads: int = 0  # 0: torch default
    checkpoint_every: int = 200
    val_every: int = 0  # > 0: every this many steps, the loss on held-out batches; the best weights -> best_path(out)
    val_batches: int = 4  # held-out batches (drawn like training ones, from a stream training never uses)
    resume: bool = False
    init: str = ""  # start from these weights (fine-tuning)
    net: dict[str, Any] = field(default_factory=dict)  # network/method options over the task's defaults


# ---- data ----------------------------------------------------------------------------------------
def _training_files(folder: Path) -> list[Path]:
    """The sequences of a training folder: not hidden files, and not ``<stem>_labels.*`` (a sequence's labels, which
    the readers attach to it: as a sequence of its own it would be trained on as frames)."""
    from .io.readers import is_labels_file

    return [p for p in sorted(folder.iterdir()) if not p.name.startswith(".") and not (p.is_file() and is_labels_file(p))]


def _training_sequences(folder: Path, finite: bool = True):
    """The :class:`~napari_tlreg.io.Sequence` of each file of a training folder that reads as 2 or more frames (and, with ``finite``,
    holds no NaN or infinity: one NaN pixel made the whole sequence 0 after normalisation); the others are named in
    one warning, with why."""
    import warnings

    from .io import load_slices

    skipped = []
    for path in _training_files(folder):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                seqs = load_slices(path)  # every slice position of a stack (slice 0 alone was taken, silently)
        except (ValueError, OSError) as exc:
            why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            skipped.append(f"{path.name} ({why.removeprefix(path.name + ': ')})")
            continue
        for k, seq in enumerate(seqs):
            name = path.name if len(seqs) == 1 else f"{path.name} slice {k}"
            if seq.frames.shape[0] < 2:
                skipped.append(f"{name} (1 frame)")
            elif finite and not np.isfinite(seq.frames).all():
                skipped.append(f"{name} (NaN or infinite values)")
            elif not _varies(seq.frames):  # nothing to register: every loss 0, a network trained on nothing
                skipped.append(f"{name} (constant)")
            else:
                yield seq
    if skipped:
        warnings.warn(f"{folder}: skipped {len(skipped)} file(s): " + "; ".join(skipped),
                      stacklevel=user_stacklevel())


def _varies(frames: np.ndarray) -> bool:
    """Whether the finite values of ``frames`` are not all one value."""
    lo, hi = np.inf, -np.inf
    for f in frames:  # frame by frame: no copy of the whole sequence
        ok = f[np.isfinite(f)]
        if ok.size:
            lo, hi = min(lo, float(ok.min())), max(hi, float(ok.max()))
    return hi > lo


def _synthetic(kind: str, rng: np.random.Generator, n: int, n_frames: int, size: int) -> np.ndarray:
    from .synth.cardiac import cardiac_batch
    from .synth.lemniscate import lemniscate_batch

    if kind == "mix":
        kind = "cardiac" if rng.random() < 0.5 else "lemniscate"
    if kind == "cardiac":
        frames = cardiac_batch(n, rng, n_frames=n_frames, size=size)
    elif kind == "lemniscate":
        frames = lemniscate_batch(n, rng, n_frames=n_frames, size=size)
    else:
        raise ValueError(f"unknown synthetic data {kind!r}: use synthetic:cardiac, synthetic:lemniscate or synthetic:mix")
    return frames[0] if isinstance(frames, tuple) else frames


class FolderData:
    """Sequences from a folder (every file/DICOM folder ``load_sequence`` reads), cropped/resized to ``size``."""

    def __init__(self, folder: str | Path, size: int):
        folder = Path(folder)
        if not folder.is_dir():
            raise ValueError(f"training data folder not found: {folder}")
        self.seqs = []
        for seq in _training_sequences(folder):
            f = torch.from_numpy(normalize_sequence(seq.frames))[:, None]
            self.seqs.append(F.interpolate(f, size=(size, size), mode="bilinear", align_corners=True)[:, 0].numpy())
        if not self.seqs:
            raise ValueError(f"{folder}: no readable sequences of 2 or more frames")

    def sample(self, rng: np.random.Generator, n: int, n_frames: int) -> np.ndarray:
        out = []
        for _ in range(n):
            seq = self.seqs[rng.integers(len(self.seqs))]
            idx = (rng.integers(seq.shape[0]) + np.arange(n_frames)) % seq.shape[0]  # cine is cyclic
            out.append(seq[idx])
        return np.stack(out)


def augment(batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Flips, 90° rotations and time reversal of whole sequences ``(B, T, H, W)``."""
    out = []
    for seq in batch:
        seq = np.rot90(seq, k=int(rng.integers(4)), axes=(1, 2))
        if rng.random() < 0.5:
            seq = seq[:, :, ::-1]
        if rng.random() < 0.5:
            seq = seq[::-1]
        out.append(seq)
    return np.ascontiguousarray(np.stack(out), dtype=np.float32)


#: the random stream of the validation batches: a "rank" no training process has
VALIDATION_STREAM = 1 << 30


def make_batch(cfg: TrainConfig, step: int, rank: int, folders: dict) -> np.ndarray:
    """The batch of ``step`` on ``rank``: one source (of the comma-separated ``cfg.data``) drawn per step."""
    rng = np.random.default_rng([cfg.seed, rank, step])
    sources = cfg.data.split(",")
    src = sources[int(rng.integers(len(sources)))] if len(sources) > 1 else sources[0]
    return TASKS[cfg.method].batch(cfg, rng, src, folders)


# ---- loss ----------------------------------------------------------------------------------------
def sequence_loss(net, seqs: torch.Tensor, weight: float, flow_level: int = 0) -> tuple[torch.Tensor, dict[str, float]]:
    """Reference = frame 0 of each sequence ``(B, T, H, W)``; mean over frames of MSE + w·Grad_l2(v)."""
    b, t, h, w = seqs.shape
    ref, moving = seqs[:, :1], seqs[:, 1:]
    v = net(ref, moving)
    v = v.reshape(b * (t - 1), *v.shape[2:])
    u = velocity_to_displacement(v, INTEGRATION_STEPS, flow_level)
    warped = fields.warp(ref.expand(b, t - 1, h, w).reshape(b * (t - 1), 1, h, w), u)
    mse = F.mse_loss(warped[:, 0], moving.reshape(b * (t - 1), h, w))
    reg = grad_l2(v)
    return mse + weight * reg, {"mse": float(mse.detach()), "grad": float(reg.detach())}


# ---- tasks: what differs between the trainable methods --------------------------------------------
class Task:
    """What a trainable method defines (see the subclasses); shared defaults here."""

    def regime(self, net_cfg: dict, step: int, iterations: int) -> int:
        """Validation losses of steps with the same regime are comparable (one regime unless a task says otherwise)."""
        return 0


class SequenceTask(Task):
    """TLRN and its pairwise ablation VoxelMorph: sequences ``(B, T, H, W)``, SVF U-Net, MSE + Grad."""

    methods = ("tlrn", "voxelmorph")
    default_data = "synthetic:cardiac"
    synthetic = ("cardiac", "lemniscate", "mix")
    default_size = 64
    default_weight = 0.03
    # n_units: TLRN's per-step temporal units with shared=False (the authors' variant; 0: one per step of the
    # training chains, n_frames - 2); a shared unit serves every step
    default_net = {"enc": [16, 32, 32, 32], "dec": [32, 32, 32, 32, 16, 16], "shared": True, "flow_level": 0,
                   "n_units": 0}
    find_unused_parameters = False

    def net_config(self, cfg: TrainConfig) -> dict:
        net = {**self.default_net, **cfg.net, "residual": cfg.method == "tlrn"}
        if net["shared"]:
            net["n_units"] = 1
        elif not net["n_units"]:
            net["n_units"] = max(1, cfg.n_frames - 2)
        return net

    def build(self, net_cfg: dict):
        return build_net(net_cfg)

    def init_state(self, cfg: TrainConfig, state: dict) -> dict:
        if cfg.method == "voxelmorph":
            state = {k: v for k, v in state.items() if not k.startswith("units.")}
        if int(self.net_config(cfg).get("flow_level", 0)) == 1:
            state = half_resolution_state(state)
        return state

    def folder(self, src: str, cfg: TrainConfig):
        return FolderData(src, cfg.size)

    def batch(self, cfg: TrainConfig, rng: np.random.Generator, src: str, folders: dict) -> np.ndarray:
        if src.startswith("synthetic:"):
            raw = _synthetic(src.split(":", 1)[1], rng, cfg.batch, cfg.n_frames, cfg.size)
        else:
            raw = folders[src].sample(rng, cfg.batch, cfg.n_frames)
        return augment(raw, rng)

    def loss(self, model, batch: torch.Tensor, cfg: TrainConfig, net_cfg: dict, step: int):
        return sequence_loss(model, batch, cfg.weight, int(net_cfg.get("flow_level", 0)))


class PairFolderData:
    """Image pairs from a folder: every file ``load_sequence`` reads with >= 2 frames (e.g. two dates).

    A sample = two different frames of one file, the same random window of ``size`` px (the images
    are resized to it when smaller), the second pulled through a random motion of the pairs' model
    (the multistep paper's extra translation / rotation / scale) on top of its real misregistration.
    No-data (constant border-connected regions, :func:`~napari_tlreg.engines.pairs.nodata_mask`) is NaN.
    """

    MARGIN = 24

    def __init__(self, folder: str | Path, size: int):
        from .engines.pairs import nodata_mask

        folder = Path(folder)
        if not folder.is_dir():
            raise ValueError(f"training data folder not found: {folder}")
        self.size = size
        self.items = []
        need = size + 2 * self.MARGIN
        for seq in _training_sequences(folder, finite=False):  # NaN: no-data, masked below
            f = torch.from_numpy(np.asarray(seq.frames, np.float32))[:, None]
            valid = nodata_mask(f)
            if min(f.shape[-2:]) < need:  # small images: resize up to the window (and the mask with them)
                f = F.interpolate(f, size=(need, need), mode="bilinear", align_corners=True)
                valid = F.interpolate(valid.float(), size=(need, need), mode="bilinear", align_corners=True) > 0.99
            x = f[:, 0].numpy().copy()
            x[~valid[:, 0].numpy()] = np.nan
            self.items.append(x)
        if not self.items:
            raise ValueError(f"{folder}: no readable image pairs (files with 2 or more frames)")

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        from .core.ops import warp
        from .synth.satellite import random_motion

        s, m = self.size, self.MARGIN
        out = np.empty((n, 2, s, s), np.float32)
        for k in range(n):
            x = self.items[rng.integers(len(self.items))]
            i, j = rng.choice(x.shape[0], 2, replace=False)
            r0 = int(rng.integers(x.shape[1] - (s + 2 * m) + 1))
            c0 = int(rng.integers(x.shape[2] - (s + 2 * m) + 1))
            a = x[i, r0:r0 + s + 2 * m, c0:c0 + s + 2 * m]
            b = x[j, r0:r0 + s + 2 * m, c0:c0 + s + 2 * m]
            u = random_motion(s + 2 * m, rng)
            b = warp(b, u)  # NaN (no-data) spreads to its bilinear neighbours: masked in the loss
            out[k, 0], out[k, 1] = a[m:m + s, m:m + s], b[m:m + s, m:m + s]
        return out


def augment_pairs(batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Flips, 90° rotations and moving/fixed swaps of pairs ``(B, 2, H, W)``."""
    out = []
    for pair in batch:
        pair = np.rot90(pair, k=int(rng.integers(4)), axes=(1, 2))
        if rng.random() < 0.5:
            pair = pair[:, :, ::-1]
        if rng.random() < 0.5:
            pair = pair[::-1]
        out.append(pair)
    return np.ascontiguousarray(np.stack(out), dtype=np.float32)


def _prepare_pairs(batch: torch.Tensor):
    """Raw pairs ``(B, 2, H, W)`` (NaN = no-data) -> moving, fixed ``(B, 1, H, W)`` robustly normalised
    and filled as the engines see them, and the validity masks."""
    from .engines.pairs import fill_nodata, robust_normalize

    moving, fixed = batch[:, :1], batch[:, 1:]
    vm, vf = ~torch.isnan(moving), ~torch.isnan(fixed)
    moving, fixed = torch.nan_to_num(moving), torch.nan_to_num(fixed)
    m, f = robust_normalize(moving, vm), robust_normalize(fixed, vf)
    return fill_nodata(m, vm), fill_nodata(f, vf), vm, vf


class PairTask(Task):
    """Common part of the pair methods: pairs ``(B, 2, H, W)`` (moving = the reference, fixed = the frame)."""

    default_data = "synthetic:satellite"
    synthetic = ("satellite",)
    default_size = 128
    find_unused_parameters = False

    def net_config(self, cfg: TrainConfig) -> dict:
        return {**self.default_net, **cfg.net}

    def init_state(self, cfg: TrainConfig, state: dict) -> dict:
        return state

    def folder(self, src: str, cfg: TrainConfig):
        return PairFolderData(src, cfg.size)

    def batch(self, cfg: TrainConfig, rng: np.random.Generator, src: str, folders: dict) -> np.ndarray:
        from .synth.satellite import satellite_batch

        if src == "synthetic:satellite":
            raw = satellite_batch(cfg.batch, rng, cfg.size, change=float(self.net_config(cfg).get("change", 0.0)))
        elif src.startswith("synthetic:"):
            raise ValueError(f"unknown synthetic data {src!r} for {cfg.method}: use synthetic:satellite or a folder of pairs")
        else:
            raw = folders[src].sample(rng, cfg.batch)
        return augment_pairs(raw, rng)


class MultistepTask(PairTask):
    """Multistep: mean over steps of masked MSE(warped_s, fixed) + β·mean|Φ_acc| (β = ``weight``).

    Options (``net``): ``c``, ``steps`` (T), ``affine_fraction`` (share of the batch that starts from the
    affine pre-alignment, as the engine's default ``affine=True`` does), ``change`` (probability of a local
    radiometric change in a synthetic pair; 0 for the shipped model: with an MSE loss it taught the
    network to explain intensity changes by motion).
    """

    methods = ("multistep",)
    default_weight = 0.01
    default_net = {"enc": [16, 32, 64, 128], "slope": 0.01, "c": 2.0, "steps": 3, "affine_fraction": 1.0,
                   "change": 0.0}

    def build(self, net_cfg: dict):
        from .engines.multistep import build_net as build_multistep

        return build_multistep(net_cfg)

    def loss(self, model, batch: torch.Tensor, cfg: TrainConfig, net_cfg: dict, step: int):
        m, f, vm, vf = _prepare_pairs(batch)
        init = None
        k = round(float(net_cfg["affine_fraction"]) * m.shape[0])
        if k:  # the first k pairs of the (randomly drawn) batch start from the affine pre-alignment
            from .engines.pairs import affine_prealign

            init = torch.zeros(m.shape[0], 2, *m.shape[-2:], dtype=m.dtype, device=m.device)
            init[:k] = affine_prealign(m[:k], f[:k], vm[:k], vf[:k])
        phis, warped = model(m, f, int(net_cfg["steps"]), float(net_cfg["c"]), init)
        masked = not bool(vm.all() and vf.all())
        mses = []
        for s, w in enumerate(warped):
            err = (w - f) ** 2
            if masked:
                from .engines.multistep import gradients_to_displacement

                u = gradients_to_displacement(phis[s], float(net_cfg["c"]))
                ok = vf & (fields.warp(vm.float(), u if init is None else fields.compose(init, u)) > 0.99)
                mses.append((err * ok).sum() / ok.sum().clamp_min(1))
            else:
                mses.append(err.mean())
        mse = torch.stack(mses).mean()
        reg = phis[-1].abs().mean()
        return mse + cfg.weight * reg, {"mse": float(mse.detach()), "mse_last": float(mses[-1].detach()), "phi": float(reg.detach())}


class HSyNTask(PairTask):
    """HSyN: -LNCC in the mean space + λ1·2·Grad + λ2·mean((u_mf+u_fm)²), plus the inverse net's loss.

    Levels are trained progressively (the authors' schedule): level 1 alone until ``schedule[0]`` of the
    iterations, levels 1-2 until ``schedule[1]``, then all three; for ``freeze`` of the iterations after a
    level is added, the coarser levels are frozen. ``weight`` is λ1. Options (``net``) also hold
    ``smc`` (λ2), ``inv_smooth`` (λ3), ``loss_mult``, ``affine_fraction`` and ``change`` (local
    radiometric change on that share of synthetic pairs; NCC is insensitive to it, and it taught the
    nets not to deform where real fields changed between dates).
    """

    methods = ("hsyn",)
    default_weight = 1.0
    default_net = {"enc": [16, 32, 32, 32], "dec": [32, 32, 32, 32, 16, 16], "inv_enc": [16, 32, 32, 32],
                   "inv_dec": [32, 32, 32, 32, 16, 16], "smc": 0.1, "inv_smooth": 0.02, "loss_mult": 2.0,
                   "schedule": [0.2, 0.45], "freeze": 0.05, "affine_fraction": 1.0, "change": 0.5}
    find_unused_parameters = True

    def build(self, net_cfg: dict):
        from .engines.hsyn import build_net as build_hsyn

        return build_hsyn(net_cfg)

    @staticmethod
    def stage(net_cfg: dict, step: int, iterations: int) -> tuple[int, int]:
        """(active levels, frozen levels) at ``step``."""
        b1, b2 = (float(v) * iterations for v in net_cfg["schedule"])
        fr = float(net_cfg["freeze"]) * iterations
        if step < b1:
            return 1, 0
        if step < b2:
            return 2, (1 if step < b1 + fr else 0)
        return 3, (2 if step < b2 + fr else 0)

    def regime(self, net_cfg: dict, step: int, iterations: int) -> int:
        """Validation losses compare only within one number of active levels (the loss changes with it)."""
        return self.stage(net_cfg, step, iterations)[0]

    def loss(self, model, batch: torch.Tensor, cfg: TrainConfig, net_cfg: dict, step: int):
        from .engines.hsyn import NCC_WINDOWS, lncc_loss

        m, f, vm, vf = _prepare_pairs(batch)
        k = round(float(net_cfg["affine_fraction"]) * m.shape[0])
        if k:  # the first k pairs of the (randomly drawn) batch start from the affine pre-alignment
            from .engines.pairs import affine_prealign

            pre = affine_prealign(m[:k], f[:k], vm[:k], vf[:k])
            m = torch.cat([fields.warp(m[:k], pre), m[k:]])
            vm = torch.cat([fields.warp(vm[:k].float(), pre) > 0.99, vm[k:]])
        n_levels, frozen = self.stage(net_cfg, step, cfg.iterations)
        out = model(m, f, n_levels, frozen)
        lev = out["level"]
        u_mf, u_fm = out["u_mf"], out["u_fm"]
        mask = None
        if not bool(vm.all() and vf.all()):
            factor = 2 ** (2 - lev)
            pm = F.avg_pool2d(vm.float(), factor) if factor > 1 else vm.float()
            pf = F.avg_pool2d(vf.float(), factor) if factor > 1 else vf.float()
            mask = (fields.warp(pm, u_mf) > 0.99) & (fields.warp(pf, u_fm) > 0.99)
        sim = lncc_loss(out["m_mean"], out["f_mean"], NCC_WINDOWS[lev], mask=mask)
        smooth = float(net_cfg["loss_mult"]) * (grad_l2(u_mf) + grad_l2(u_fm))
        smc = ((u_mf + u_fm) ** 2).mean()
        res = torch.cat([fields.compose(out["u_mf_full"], out["inv_mf"]), fields.compose(out["u_fm_full"], out["inv_fm"])])
        inv_loss = (res**2).mean()
        inv_smooth = grad_l2(torch.cat([out["inv_mf"], out["inv_fm"]]))
        loss = sim + cfg.weight * smooth + float(net_cfg["smc"]) * smc + inv_loss + float(net_cfg["inv_smooth"]) * inv_smooth
        return loss, {"ncc": float(-sim.detach()), "grad": float(smooth.detach()), "smc": float(smc.detach()),
                      "inv": float(inv_loss.detach()), "levels": float(n_levels)}


TASKS = {m: task for task in (SequenceTask(), MultistepTask(), HSyNTask()) for m in task.methods}
TRAINABLE = tuple(TASKS)


def resolve_config(cfg: TrainConfig) -> TrainConfig:
    """Fill the method's defaults (data, size, weight) into ``cfg`` and check it; returns a new config."""
    if cfg.method not in TASKS:
        raise ValueError(f"train: unknown method {cfg.method!r}; trainable here: {', '.join(TRAINABLE)}")
    task = TASKS[cfg.method]
    cfg = TrainConfig(**asdict(cfg))
    cfg.data = cfg.data or task.default_data
    cfg.size = cfg.size or task.default_size
    cfg.weight = task.default_weight if cfg.weight is None else float(cfg.weight)
    unknown = sorted(set(cfg.net) - set(task.default_net))
    if unknown:
        raise ValueError(f"train: {cfg.method} has no network option(s) {', '.join(unknown)}; known: {', '.join(sorted(task.default_net))}")
    cfg.net = {key: _net_option(cfg.method, key, value, task.default_net[key]) for key, value in cfg.net.items()}
    for src in cfg.data.split(","):  # before the first step (a misspelt one failed when a batch first drew it)
        if src.startswith("synthetic:") and src.split(":", 1)[1] not in task.synthetic:
            raise ValueError(f"train: unknown synthetic data {src!r} for {cfg.method}: use "
                             + ", ".join(f"synthetic:{k}" for k in task.synthetic) + " or a folder")
    if cfg.lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"train: lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {cfg.lr_schedule!r}")
    multiple = 32 if cfg.method == "hsyn" else 8
    # each setting by the command line's name for it (one message named them all, and the size whichever failed)
    for flag, value, ok, need in (
            ("--iterations", cfg.iterations, cfg.iterations >= 1, "at least 1"),
            ("--batch", cfg.batch, cfg.batch >= 1, "at least 1"),
            ("--frames", cfg.n_frames, cfg.n_frames >= 2, "at least 2"),
            ("--size", cfg.size, cfg.size % multiple == 0 and cfg.size >= MIN_SIZE[cfg.method],
             f"a multiple of {multiple}, at least {MIN_SIZE[cfg.method]}, for {cfg.method}"),
            ("--threads", cfg.threads, cfg.threads >= 0, "0 (torch's default) or more"),
            ("--checkpoint-every", cfg.checkpoint_every, cfg.checkpoint_every >= 1, "at least 1"),
            ("--val-every", cfg.val_every, cfg.val_every >= 0, "0 (none) or more"),
            ("--val-batches", cfg.val_batches, cfg.val_batches >= 1, "at least 1"),
            # (training review) --lr inf and --weight nan segfaulted in torch's grid_sample; --weight -5 rewarded
            # roughness and its weights were written
            ("--lr", cfg.lr, math.isfinite(cfg.lr) and cfg.lr > 0, "a finite number above 0"),
            ("--weight", cfg.weight, math.isfinite(cfg.weight) and cfg.weight >= 0, "a finite number, 0 or more")):
        if not ok:
            raise ValueError(f"train: {flag} must be {need}, got {value}")
    out = Path(cfg.out)
    if out.is_dir() or (out.parent.exists() and not out.parent.is_dir()):
        raise ValueError(f"train: cannot write the weights to {out}: " + ("it is a folder; give a file path"
                         if out.is_dir() else f"{out.parent} is not a folder"))
    _check_writable(out)  # now, not at the first checkpoint (step 200 by default)
    return cfg


#: the smallest training size each method's network takes (its encoder halves the image 3 or 5 times)
MIN_SIZE = {"tlrn": 16, "voxelmorph": 16, "multistep": 32, "hsyn": 32}
#: network options' ranges (inclusive; the type is the default's): what the losses and networks can use
NET_RANGES = {"flow_level": (0, 1), "n_units": (0, 10_000), "slope": (0.0, 1.0), "c": (1e-3, 1e3), "steps": (1, 100),
              "affine_fraction": (0.0, 1.0), "change": (0.0, 1.0), "smc": (0.0, 1e6), "inv_smooth": (0.0, 1e6),
              "loss_mult": (0.0, 1e6), "freeze": (0.0, 1.0), "schedule": (0.0, 1.0)}


def _net_option(method: str, key: str, value, default):
    """A ``--net`` option checked against its default's type and its range (:data:`NET_RANGES`); returns it typed."""
    what = f"train: {method}'s network option {key}"
    if isinstance(default, list):
        if not isinstance(value, (list, tuple)) or len(value) != len(default):
            raise ValueError(f"{what} must be a list of {len(default)} numbers like {default}, got {value!r}")
        out = [_net_option(method, key, v, default[0]) for v in value]
        if key == "schedule" and out != sorted(out):
            raise ValueError(f"{what} must be in increasing order, got {value!r}")
        if isinstance(default[0], int) and min(out) < 1:
            raise ValueError(f"{what} must list positive channel counts, got {value!r}")
        return out
    if isinstance(default, bool):
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        raise ValueError(f"{what} must be true or false, got {value!r}")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise ValueError(f"{what} must be a number, got {value!r}")
    if isinstance(default, int):
        if float(value) != int(value):
            raise ValueError(f"{what} must be a whole number, got {value!r}")
        value = int(value)
    else:
        value = float(value)
    lo, hi = NET_RANGES.get(key, (-math.inf, math.inf))
    if not lo <= value <= hi:
        raise ValueError(f"{what} must be in [{lo:g}, {hi:g}], got {value!r}")
    return value


# ---- the loop ------------------------------------------------------------------------------------
def train(config: TrainConfig | None = None, progress: Callable[[int, int, dict], None] | None = None, **overrides) -> Path:
    """Train ``config.method`` and write the checkpoint ``config.out``; returns its path.

    Checkpoints every ``checkpoint_every`` steps (atomically); ``resume=True`` continues from ``out``.
    Under ``torchrun`` each process trains on its own batches and gradients are averaged (DDP). Training on a CPU
    runs torch's deterministic algorithms; the process's setting is restored afterwards (in napari, what runs
    next is not slowed by it), and so are torch's thread count (``threads``: every later registration in a notebook
    ran on it, and every later test of a run) and its CPU random stream (seeded with ``seed``).
    """
    before = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())
    threads = torch.get_num_threads()
    try:
        with torch.random.fork_rng(devices=[]):
            return _train(config, progress, **overrides)
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)


def _train(config: TrainConfig | None, progress: Callable[[int, int, dict], None] | None, **overrides) -> Path:
    import torch.distributed as dist

    cfg = resolve_config(TrainConfig(**{**(asdict(config) if config else {}), **overrides}))
    task = TASKS[cfg.method]
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    from .core.ops import resolve_device

    device = resolve_device(cfg.device)
    if world > 1:
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    torch.use_deterministic_algorithms(device.type == "cpu", warn_only=True)

    folders = {src: task.folder(src, cfg) for src in cfg.data.split(",") if not src.startswith("synthetic:")}
    net_cfg = task.net_config(cfg)
    net = task.build(net_cfg).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    out = Path(cfg.out)
    start = 0
    if cfg.init:
        from .engines.weights import resolve

        state, _ = resolve(cfg.init, cfg.init)
        _load_fitting(net, task.init_state(cfg, state), f"--init {cfg.init}", strict=False)
    val: dict[str, Any] = {"history": [], "best_loss": None, "best_step": None, "regime": None}
    if cfg.resume and not out.is_file():
        import warnings

        warnings.warn(f"--resume: no checkpoint at {out}; training from step 0", stacklevel=user_stacklevel())
    if cfg.resume and out.is_file():
        from .engines.weights import load_checkpoint

        ckpt = load_checkpoint(out)
        missing = [k for k in ("model", "optimizer", "step") if k not in ckpt]
        if missing:
            raise ValueError(f"--resume {out}: not a trainer checkpoint (no {', '.join(missing)}); "
                             f"--init {out} starts from its weights")
        _check_resumed(ckpt, cfg, net_cfg, out)
        _load_fitting(net, ckpt["model"], f"--resume {out}", strict=True)
        opt.load_state_dict(ckpt["optimizer"])
        start = int(ckpt["step"])
        val = ckpt.get("val") or val
        if start >= cfg.iterations:
            raise ValueError(f"--resume {out}: the checkpoint is at step {start} already, --iterations is "
                             f"{cfg.iterations}: nothing to train (raise --iterations to train on)")
    val_set = [make_batch(cfg, k, VALIDATION_STREAM, folders) for k in range(cfg.val_batches)] if cfg.val_every and rank == 0 else []
    model = net
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(net, find_unused_parameters=task.find_unused_parameters)
    net.train()

    bar = None
    if rank == 0 and progress is None and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=cfg.iterations, initial=start, desc=f"train {cfg.method}", unit="it")
    elif rank == 0 and progress is None:  # a log (a batch job's, SLURM's): lines, not a bar redrawn every step
        bar = _LogLines(cfg.iterations, start, f"train {cfg.method}")
    t0 = time.perf_counter()
    stats: dict[str, float] = {}
    done = saved = start
    stepping = False
    try:
        for step in range(start, cfg.iterations):
            for group in opt.param_groups:
                group["lr"] = learning_rate(cfg, step)
            batch = torch.from_numpy(make_batch(cfg, step, rank, folders)).to(device)
            loss, stats = task.loss(model, batch, cfg, net_cfg, step)
            if not bool(torch.isfinite(loss)):  # diverged: a NaN field's backward through grid_sample (border
                # padding) segfaulted torch, no message and no checkpoint (--lr 10)
                raise ValueError(f"train: the loss is not finite at step {step + 1} (training diverged): lower --lr; "
                                 + (f"the last checkpoint (step {saved}) stands" if saved else "nothing was written"))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            stepping = True  # the weights change in place: Ctrl-C now leaves them half updated
            opt.step()
            done, stepping = step + 1, False
            if rank == 0:
                stats["seconds"] = time.perf_counter() - t0
                if val_set and (done % cfg.val_every == 0 or done == cfg.iterations):
                    loss_val = validation_loss(task, net, val_set, cfg, net_cfg, step, device)
                    val["history"].append([done, loss_val])
                    stats["val"] = loss_val
                    regime = task.regime(net_cfg, step, cfg.iterations)
                    if val.get("regime") != regime:  # a loss not comparable with the earlier ones: start again
                        val.update(regime=regime, best_loss=None, best_step=None)
                    if val["best_loss"] is None or loss_val < val["best_loss"]:
                        val["best_loss"], val["best_step"] = loss_val, done
                        _save(best_path(out), net, opt, done, cfg, net_cfg, stats, val)
                if bar is not None:  # this step's loss, then the step (a log's line said the step before's)
                    bar.set_postfix({k: (f"{v:.5f}" if abs(v) < 1 else f"{v:.3f}") for k, v in stats.items() if k != "seconds"},
                                    refresh=False)
                    bar.update(1)
                if progress is not None:
                    progress(done, cfg.iterations, stats)
                if done % cfg.checkpoint_every == 0 or done == cfg.iterations:
                    _save(out, net, opt, done, cfg, net_cfg, stats, val)
                    saved = done
    except KeyboardInterrupt:  # Ctrl-C: the steps since the last checkpoint are kept (all of them, before the first)
        if rank == 0 and done > saved and not stepping:
            _save(out, net, opt, done, cfg, net_cfg, stats, val)
            print(f"\ntrain: interrupted at step {done} of {cfg.iterations}: checkpoint written to {out} "
                  "(--resume continues from it)", file=sys.stderr)
        elif rank == 0 and stepping:  # mid-update: the weights are neither step done's nor the next's
            print(f"\ntrain: interrupted while updating the weights: nothing written; the last checkpoint (step "
                  f"{saved}) stands", file=sys.stderr)
        raise
    finally:
        if bar is not None:  # closed on an error too: its message then starts a line of its own
            bar.close()
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return out


#: what a resumed run must share with its checkpoint ("resuming continues exactly"); --iterations may grow
RESUMED_AS_SAVED = ("method", "data", "batch", "n_frames", "size", "lr", "lr_schedule", "weight", "seed", "val_batches")


def resumed_settings(out, given: set[str]) -> dict:
    """The settings of the checkpoint ``out`` that a ``--resume`` did not give (``given``: the options it gave, by
    their ``TrainConfig`` names), to train on as saved: ``--resume --iterations 12`` was refused for every setting not
    restated ("--data 'synthetic:mix' -> 'synthetic:cardiac'; --batch 2 -> 4; ..."). ``net``: the checkpoint's network
    options, for the caller to update with those given. Empty where ``out`` is no readable checkpoint (the run says
    why)."""
    from .engines.weights import load_checkpoint

    try:
        ckpt = load_checkpoint(out)
    except (OSError, ValueError):
        return {}
    saved = ckpt.get("train") or {}
    # the planned length too (a plain --resume of a 3000-step run stopped at the default 2000, and recorded it)
    # and its validation and checkpoints' rhythm (a plain --resume switched validation off, unsaid)
    taken = {k: saved[k] for k in (*RESUMED_AS_SAVED, "iterations", "val_every", "checkpoint_every")
             if k != "method" and k in saved and k not in given}
    task = TASKS.get(ckpt.get("method") or saved.get("method"))
    if isinstance(ckpt.get("config"), dict) and task is not None:  # the network options a user sets, key by key
        taken["net"] = {k: v for k, v in ckpt["config"].items() if k in task.default_net}
    return taken


def _check_resumed(ckpt: dict, cfg: TrainConfig, net_cfg: dict, out: Path) -> None:
    """Refuse a ``--resume`` with other settings than its checkpoint's (they were taken silently, and the
    checkpoint's record, its training size among them, rewritten); warn where a longer ``--iterations`` changes the
    schedule of the steps to come."""
    saved = ckpt.get("train") or {}
    now = asdict(cfg)
    if ckpt.get("method") not in (None, cfg.method):
        raise ValueError(f"--resume {out}: a {ckpt['method']} checkpoint; this run trains {cfg.method}")
    flag = {"n_frames": "--frames"}  # the command line's names ("--n-frames" is none)
    changed = [f"{flag.get(k, '--' + k.replace('_', '-'))} {saved[k]!r} -> {now[k]!r}" for k in RESUMED_AS_SAVED
               if k in saved and saved[k] != now[k]]
    # the keys the checkpoint has: one written before a network option existed lacks it (and had its default)
    old_cfg = dict(ckpt.get("config") or {})
    changed += [f"--net {k}={old_cfg[k]!r} -> {net_cfg.get(k)!r}" for k in old_cfg if old_cfg[k] != net_cfg.get(k)]
    if changed:
        raise ValueError(f"--resume {out}: the checkpoint was trained with other settings ({'; '.join(changed)}): "
                         f"resume with its own, or start a new run from its weights with --init {out}")
    if "iterations" in saved and saved["iterations"] != cfg.iterations and (
            cfg.lr_schedule == "cosine" or cfg.method == "hsyn"):
        import warnings

        warnings.warn(f"--resume {out}: --iterations {saved['iterations']} -> {cfg.iterations}: the "
                      + ("cosine learning rate" if cfg.lr_schedule == "cosine" else "levels' schedule")
                      + " follows --iterations, so the steps to come differ from the run that was planned",
                      stacklevel=user_stacklevel())


def _load_fitting(net, state: dict, what: str, strict: bool) -> None:
    """Load ``state`` into ``net``, or a one-line ``ValueError`` when the weights are another network's: another
    method's or size's (torch's own error is a page), or none of their names in this one (``strict=False`` loaded
    nothing, silently: a fine-tuning that started from scratch)."""
    from .engines.weights import other_shapes

    own = net.state_dict()
    shared = [k for k in state if k in own]
    wrong = other_shapes(own, state)
    if wrong or not shared or (strict and set(state) != set(own)):
        why = (f"{len(wrong)} of its tensors have other shapes (e.g. {wrong[0]}: {tuple(state[wrong[0]].shape)} here "
               f"{tuple(own[wrong[0]].shape)})" if wrong else "none of its tensors is this network's" if not shared
               else f"its tensors are not this network's ({len(set(own) ^ set(state))} differ)")
        raise ValueError(f"train: {what}: these weights do not fit the {type(net).__name__}: {why}")
    net.load_state_dict(state, strict=strict)
    untrained = [k for k in own if k not in state]
    if untrained:  # (tlrn from voxelmorph weights: its temporal unit started from scratch without a word)
        import warnings

        parts = sorted({k.split(".")[0] for k in untrained})
        warnings.warn(f"train: {what}: {len(untrained)} of the {type(net).__name__}'s {len(own)} tensors are not in "
                      f"these weights and start untrained ({', '.join(parts)})", stacklevel=user_stacklevel())


def best_path(out: str | Path) -> Path:
    """Where ``val_every`` keeps the weights of the lowest validation loss: ``weights.pt`` -> ``weights.best.pt``."""
    out = Path(out)
    return out.with_name(f"{out.stem}.best{out.suffix or '.pt'}")


def validation_loss(task, net, batches: list[np.ndarray], cfg: TrainConfig, net_cfg: dict, step: int, device) -> float:
    """Mean training objective over the held-out ``batches`` (eval mode, no gradients; the mode is restored)."""
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            total = [float(task.loss(net, torch.from_numpy(b).to(device), cfg, net_cfg, step)[0]) for b in batches]
    finally:
        net.train(was_training)
    return float(np.mean(total))


class _LogLines:
    """tqdm's ``update``/``set_postfix``/``close`` for a log: a whole line every :data:`LOG_EVERY_S` seconds and at the
    end (tqdm's bar in a file was one line of every step's redraw, ``\r`` apart)."""

    def __init__(self, total: int, initial: int, desc: str):
        self.total, self.n, self.desc = total, initial, desc
        self.t0 = self.last = time.monotonic()
        self.first, self.postfix = initial, ""

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if now - self.last >= LOG_EVERY_S or self.n >= self.total:
            self.last = now
            self._line(now)

    def set_postfix(self, values: dict, refresh: bool = True) -> None:
        self.postfix = ", ".join(f"{k}={v}" for k, v in values.items())

    def close(self) -> None:
        if self.last == self.t0 and self.n > self.first:  # nothing said yet: say where it stopped
            self._line(time.monotonic())

    def _line(self, now: float) -> None:
        rate = (self.n - self.first) / max(now - self.t0, 1e-9)
        print(f"{self.desc}: step {self.n}/{self.total} ({rate:.2f} it/s)" + (f", {self.postfix}" if self.postfix else ""),
              file=sys.stderr, flush=True)


#: seconds between a training's progress lines in a log (stderr not a terminal)
LOG_EVERY_S = 30.0


def learning_rate(cfg: TrainConfig, step: int) -> float:
    """The learning rate of ``step`` (0-based): constant, or cosine-annealed to 0 over ``cfg.iterations``.

    A function of the step alone, so ``--resume`` continues the same schedule.
    """
    if cfg.lr_schedule == "cosine":
        return cfg.lr * 0.5 * (1.0 + math.cos(math.pi * step / max(1, cfg.iterations)))
    return cfg.lr


def _on_cpu(obj):
    """``obj`` (a state dict: dicts, lists, tuples of tensors and plain values) with its tensors on the CPU."""
    if isinstance(obj, torch.Tensor):
        return obj.cpu()
    if isinstance(obj, dict):
        out = type(obj)((k, _on_cpu(v)) for k, v in obj.items())
        if hasattr(obj, "_metadata"):  # a state dict's module versions (load_state_dict reads them)
            out._metadata = obj._metadata
        return out
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # a named tuple
        return type(obj)(*(_on_cpu(v) for v in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(_on_cpu(v) for v in obj)
    return obj


def _save(out: Path, net, opt, step: int, cfg: TrainConfig, net_cfg: dict, stats: dict, val: dict | None = None) -> None:
    from .io.writers import atomic_path

    out.parent.mkdir(parents=True, exist_ok=True)
    ckpt = {
        # on the CPU: a GPU's tensors saved as they are need map_location for a plain torch.load on a machine without
        # one ("Attempting to deserialize object on a CUDA device"); a resumed optimizer puts its state back beside
        # its parameters
        "model": _on_cpu(net.state_dict()),
        "optimizer": _on_cpu(opt.state_dict()),
        "step": step,
        "method": cfg.method,
        "config": net_cfg,
        "train": {k: v for k, v in asdict(cfg).items() if k != "net"},
        "last": dict(stats),
        "val": val,
    }
    try:
        with atomic_path(out) as tmp:
            torch.save(ckpt, tmp)
    except RuntimeError as exc:  # torch's writer: a full disk, a file system that refuses the file
        raise OSError(f"{out}: the checkpoint could not be written ({str(exc).splitlines()[0]})") from None


def _check_writable(out: Path) -> None:
    """A file can be written beside ``out`` (its folder made if missing), or an ``OSError`` that says so."""
    import tempfile

    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out.parent, prefix=f".{out.name}.probe-"):
            pass
    except OSError as exc:
        raise OSError(f"--out {out}: cannot write there ({exc.strerror or exc})") from None


def main_torchrun() -> None:  # pragma: no cover - entry for `torchrun -m napari_tlreg.train ...`
    from .cli import main

    raise SystemExit(main(["train", *os.sys.argv[1:]]))


if __name__ == "__main__":  # pragma: no cover
    main_torchrun()
