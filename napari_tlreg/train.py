"""Training of the learned sequence engines (``tlrn``, ``voxelmorph``): one trainer, run by hand.

``napari-tlreg train tlrn --data synthetic:cardiac --iterations 3000 --out w.pt`` or
:func:`train` from Python. Unsupervised: loss = mean over frames of
``MSE(warp(I_ref, φ_t), I_t) + w·Grad_l2(v_t)`` (TLRN paper eq. 4, w = 0.03).
Data: synthetic generators on the fly (``synthetic:cardiac``, ``synthetic:lemniscate``,
``synthetic:mix``) or a folder of the user's sequences (any format ``load_sequence`` reads),
with flips / 90° rotations / time reversal applied to whole sequences. Deterministic on CPU
under a seed: the batch of step ``k`` on rank ``r`` is drawn from ``default_rng([seed, r, k])``,
so resuming from a checkpoint continues exactly. Multi-GPU (or multi-process CPU) through
``torchrun``: torch DistributedDataParallel, gloo on CPU, nccl on CUDA.
"""
from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from .core import fields
from .core.normalize import normalize_sequence
from .engines.nets import grad_l2
from .engines.tlrn import INTEGRATION_STEPS, build_net

SEQUENCE_METHODS = ("tlrn", "voxelmorph")


@dataclass
class TrainConfig:
    method: str = "tlrn"
    data: str = "synthetic:cardiac"
    out: str = "weights.pt"
    iterations: int = 2000
    batch: int = 4  # sequences per step (each gives n_frames - 1 pairs)
    n_frames: int = 8
    size: int = 64
    lr: float = 1e-3
    weight: float = 0.03  # Grad-l2 weight with MSE (TLRN paper)
    seed: int = 1234
    device: str = "auto"
    threads: int = 0  # 0: torch default
    checkpoint_every: int = 200
    resume: bool = False
    init: str = ""  # start from these weights (fine-tuning)
    net: dict[str, Any] = field(default_factory=lambda: {"enc": [16, 32, 32, 32], "dec": [32, 32, 32, 32, 16, 16], "shared": True})


# ---- data ----------------------------------------------------------------------------------------
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
        from .io import load_sequence

        folder = Path(folder)
        if not folder.is_dir():
            raise ValueError(f"training data folder not found: {folder}")
        self.seqs = []
        for path in sorted(folder.iterdir()):
            try:
                seq = load_sequence(path)
            except (ValueError, OSError):
                continue
            if seq.frames.shape[0] >= 2:
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


def make_batch(cfg: TrainConfig, step: int, rank: int, folder: FolderData | None) -> np.ndarray:
    rng = np.random.default_rng([cfg.seed, rank, step])
    if folder is not None:
        raw = folder.sample(rng, cfg.batch, cfg.n_frames)
    else:
        raw = _synthetic(cfg.data.split(":", 1)[1], rng, cfg.batch, cfg.n_frames, cfg.size)
    return augment(raw, rng)


# ---- loss ----------------------------------------------------------------------------------------
def sequence_loss(net, seqs: torch.Tensor, weight: float) -> tuple[torch.Tensor, dict[str, float]]:
    """Reference = frame 0 of each sequence ``(B, T, H, W)``; mean over frames of MSE + w·Grad_l2(v)."""
    b, t, h, w = seqs.shape
    ref, moving = seqs[:, :1], seqs[:, 1:]
    v = net(ref, moving).reshape(b * (t - 1), 2, h, w)
    u = fields.integrate_velocity(v, INTEGRATION_STEPS)
    warped = fields.warp(ref.expand(b, t - 1, h, w).reshape(b * (t - 1), 1, h, w), u)
    mse = F.mse_loss(warped[:, 0], moving.reshape(b * (t - 1), h, w))
    reg = grad_l2(v)
    return mse + weight * reg, {"mse": float(mse.detach()), "grad": float(reg.detach())}


# ---- the loop ------------------------------------------------------------------------------------
def train(config: TrainConfig | None = None, progress: Callable[[int, int, dict], None] | None = None, **overrides) -> Path:
    """Train ``config.method`` and write the checkpoint ``config.out``; returns its path.

    Checkpoints every ``checkpoint_every`` steps (atomically); ``resume=True`` continues from ``out``.
    Under ``torchrun`` each process trains on its own batches and gradients are averaged (DDP).
    """
    import torch.distributed as dist

    cfg = TrainConfig(**{**(asdict(config) if config else {}), **overrides})
    if cfg.method not in SEQUENCE_METHODS:
        raise ValueError(f"train: unknown method {cfg.method!r}; trainable here: {', '.join(SEQUENCE_METHODS)}")
    if cfg.iterations < 1 or cfg.batch < 1 or cfg.n_frames < 2 or cfg.size % 8:
        raise ValueError("train: iterations, batch >= 1, n_frames >= 2 and size a multiple of 8 are required")
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

    folder = None if cfg.data.startswith("synthetic:") else FolderData(cfg.data, cfg.size)
    net_cfg = {**cfg.net, "residual": cfg.method == "tlrn"}
    net = build_net(net_cfg).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    out = Path(cfg.out)
    start = 0
    if cfg.init:
        from .engines.weights import resolve

        state, _ = resolve(cfg.init, cfg.init)
        if cfg.method == "voxelmorph":
            state = {k: v for k, v in state.items() if not k.startswith("units.")}
        net.load_state_dict(state, strict=False)
    if cfg.resume and out.is_file():
        from .engines.weights import load_checkpoint

        ckpt = load_checkpoint(out)
        net.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        start = int(ckpt["step"])
    model = net
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(net)
    net.train()

    bar = None
    if rank == 0 and progress is None:
        from tqdm import tqdm

        bar = tqdm(total=cfg.iterations, initial=start, desc=f"train {cfg.method}", unit="it")
    t0 = time.perf_counter()
    stats: dict[str, float] = {}
    for step in range(start, cfg.iterations):
        seqs = torch.from_numpy(make_batch(cfg, step, rank, folder)).to(device)
        loss, stats = sequence_loss(model, seqs, cfg.weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        done = step + 1
        if rank == 0:
            stats["seconds"] = time.perf_counter() - t0
            if bar is not None:
                bar.update(1)
                bar.set_postfix(mse=f"{stats['mse']:.5f}", grad=f"{stats['grad']:.4f}")
            if progress is not None:
                progress(done, cfg.iterations, stats)
            if done % cfg.checkpoint_every == 0 or done == cfg.iterations:
                _save(out, net, opt, done, cfg, net_cfg, stats)
    if bar is not None:
        bar.close()
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return out


def _save(out: Path, net, opt, step: int, cfg: TrainConfig, net_cfg: dict, stats: dict) -> None:
    from .io.writers import atomic_path

    out.parent.mkdir(parents=True, exist_ok=True)
    ckpt = {
        "model": net.state_dict(),
        "optimizer": opt.state_dict(),
        "step": step,
        "method": cfg.method,
        "config": net_cfg,
        "train": {k: v for k, v in asdict(cfg).items() if k != "net"},
        "last": dict(stats),
    }
    with atomic_path(out) as tmp:
        torch.save(ckpt, tmp)


def main_torchrun() -> None:  # pragma: no cover - entry for `torchrun -m napari_tlreg.train ...`
    from .cli import main

    raise SystemExit(main(["train", *os.sys.argv[1:]]))


if __name__ == "__main__":  # pragma: no cover
    main_torchrun()
