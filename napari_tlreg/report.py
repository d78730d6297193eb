"""Headless outputs of a registration: result arrays, per-frame metrics (JSON + CSV), a PNG montage.

Used by the CLI (``register``/``evaluate``) and the main job; matplotlib with the Agg backend, no Qt.
"""
from __future__ import annotations

import csv
import json
import math
import platform
from pathlib import Path

import numpy as np

from . import __version__
from .result import RegistrationResult


def _clean(value):
    if isinstance(value, (np.floating, float)):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def metrics_tables(res: RegistrationResult, labels=None, landmarks=None) -> tuple[list[dict], dict]:
    from .metrics import evaluate, summarize

    rows = [{k: _clean(v) for k, v in row.items()} for row in evaluate(res, labels=labels, landmarks=landmarks)]
    return rows, {k: _clean(v) for k, v in summarize(rows).items()}


def _versions() -> dict:
    import scipy
    import torch

    return {"napari_tlreg": __version__, "python": platform.python_version(), "numpy": np.__version__,
            "scipy": scipy.__version__, "torch": torch.__version__}


def _write_metrics_files(folder: Path, res: RegistrationResult, rows: list[dict], summary: dict, source: str | None) -> dict:
    doc = {"method": res.method, "params": res.params, "reference": res.reference, "device": res.device,
           "runtime_s": res.runtime_s, "source": source, "spacing": res.spacing, "versions": _versions(),
           "summary": summary, "frames": rows}
    (folder / "metrics.json").write_text(json.dumps(doc, indent=2))
    keys = sorted({k for row in rows for k in row}, key=lambda k: (k != "t", k))
    with open(folder / "metrics.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)
    return summary


def write_metrics(res: RegistrationResult, folder, labels=None, landmarks=None, source: str | None = None) -> dict:
    """(Re)write ``metrics.json`` and ``metrics.csv`` in a result folder, each file atomically."""
    from .io.writers import atomic_path

    folder = Path(folder)
    rows, summary = metrics_tables(res, labels, landmarks)
    tmpdir = folder / ".metrics-tmp"
    tmpdir.mkdir(exist_ok=True)
    try:
        _write_metrics_files(tmpdir, res, rows, summary, source)
        for name in ("metrics.json", "metrics.csv"):
            with atomic_path(folder / name) as tmp:
                tmp.write_bytes((tmpdir / name).read_bytes())
    finally:
        for p in tmpdir.iterdir():
            p.unlink()
        tmpdir.rmdir()
    return summary


def write(res: RegistrationResult, out, labels=None, landmarks=None, montage: bool = True, source: str | None = None) -> Path:
    """Write everything for one run into ``out`` atomically: arrays, metrics, montage, labels."""
    import tifffile

    from .io.writers import atomic_dir

    out = Path(out)
    with atomic_dir(out) as tmp:
        res.write_into(tmp)
        rows, summary = metrics_tables(res, labels, landmarks)
        _write_metrics_files(tmp, res, rows, summary, source)
        propagated = None
        if labels is not None:
            propagated = res.warp_labels(np.asarray(labels)[res.reference])
            tifffile.imwrite(tmp / "propagated_labels.tif", propagated.astype(np.int32))
        if montage:
            save_montage(res, tmp / "montage.png", propagated=propagated)
    return out


def save_montage(res: RegistrationResult, path, propagated=None, n_cols: int = 6) -> None:
    """PNG: for a few frames, the frame with propagated labels, the warped reference, |difference|, and the Jacobian."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.colors import TwoSlopeNorm

    T = res.n_frames
    ts = np.unique(np.linspace(0, T - 1, min(n_cols, T)).round().astype(int))
    rows = ["frame (+ propagated labels)", "reference warped to frame", "|frame - warped|", "Jacobian det (folds: black)"]
    fig, axes = plt.subplots(len(rows), len(ts), figsize=(2.1 * len(ts) + 1.2, 2.1 * len(rows) + 0.6), squeeze=False)
    jmax = max(1.0, float(np.abs(res.jacobian - 1).max()))
    norm = TwoSlopeNorm(vcenter=1.0, vmin=1 - min(jmax, 1.0), vmax=1 + jmax)
    for j, t in enumerate(ts):
        axes[0, j].imshow(res.frames[t], cmap="gray", vmin=0, vmax=1)
        if propagated is not None and propagated[t].any():
            axes[0, j].contour(propagated[t] > 0, levels=[0.5], colors=["#ffcc00"], linewidths=1.0)
        axes[1, j].imshow(res.warped[t], cmap="gray", vmin=0, vmax=1)
        axes[2, j].imshow(np.abs(res.frames[t] - res.warped[t]), cmap="magma", vmin=0, vmax=0.5)
        im = axes[3, j].imshow(res.jacobian[t], cmap="RdBu_r", norm=norm)
        folds = np.ma.masked_where(res.jacobian[t] > 0, np.ones_like(res.jacobian[t]))
        axes[3, j].imshow(folds, cmap="gray_r", vmin=0, vmax=1)
        axes[0, j].set_title(f"t={t}" + (" (ref)" if t == res.reference else ""), fontsize=9)
        for ax in axes[:, j]:
            ax.set_xticks([])
            ax.set_yticks([])
    for i, name in enumerate(rows):
        axes[i, 0].set_ylabel(name, fontsize=8)
    fig.colorbar(im, ax=axes[3, :].tolist(), fraction=0.02, pad=0.01, label="det(I+∇u)")
    fig.suptitle(f"{res.method}: {T} frames, reference {res.reference}, {res.runtime_s:.2f} s on {res.device}", fontsize=10)
    fig.savefig(path, dpi=110)
    plt.close(fig)
