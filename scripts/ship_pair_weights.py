"""Turn a pair-engine checkpoint (``multistep`` / ``hsyn``) into shipped weights + a model card with measured figures.

    python scripts/ship_pair_weights.py CHECKPOINT --name multistep_satellite128 --command "napari-tlreg train ..." [--notes "..."]

Writes ``resources/weights/<name>.pt`` (state dict, network config and training size; no optimizer) and
``resources/models/<name>.json`` (file, sha256, method, config, train_size, training, figures). The figures
are measured here with the engine's default parameters on data the model never saw: held-out synthetic
pairs (``benchmarks.pairs``), the real Sentinel-2 pair's shift and semi-synthetic pairs from it;
``figures.quick_check`` is what the tests re-measure on a small subset.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.pairs import REAL_PAIR, evaluate_cases, evaluate_synthetic, real_shift, semi_synthetic_pairs  # noqa: E402
from napari_tlreg.engines.weights import sha256  # noqa: E402

QUICK = {"n_pairs": 3, "size": 128, "seed0": 60_000}


def _round(d):
    if isinstance(d, dict):
        return {k: _round(v) for k, v in d.items()}
    if isinstance(d, float):
        return round(d, 4)
    return d


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("--name", required=True)
    ap.add_argument("--command", required=True, help="the command(s) that trained it, verbatim")
    ap.add_argument("--notes", default="")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    ck = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
    method = ck["method"]
    wdir, mdir = ROOT / "resources" / "weights", ROOT / "resources" / "models"
    wdir.mkdir(parents=True, exist_ok=True)
    mdir.mkdir(parents=True, exist_ok=True)
    wpath = wdir / f"{args.name}.pt"
    # "train" (size) travels with the file, so a path to it behaves exactly like the shipped name
    torch.save({"model": ck["model"], "config": ck["config"], "method": method, "train": {"size": ck["train"]["size"]}}, wpath)
    w = {"weights": str(wpath)}
    card = {
        "name": args.name,
        "method": method,
        "file": f"weights/{args.name}.pt",
        "sha256": sha256(wpath),
        "config": ck["config"],
        "train_size": ck["train"]["size"],
        "training": {**ck["train"], "iterations_done": ck["step"], "command": args.command,
                     "final_batch_loss": ck.get("last", {}), "notes": args.notes},
    }
    quick = evaluate_synthetic(method, QUICK["n_pairs"], QUICK["size"], QUICK["seed0"], **w)
    qc = {**QUICK, "params": {}, "ds": quick["ds"], "folding_pct": quick["folding_pct"]}
    if "inverse_residual" in quick:
        qc["inverse_residual"] = quick["inverse_residual"]
    figures = {"quick_check": qc}
    for size in (192, 256):
        r = evaluate_synthetic(method, 10, size, **w)
        figures[f"synthetic_{size}_10_pairs"] = {k: v for k, v in r.items() if k not in ("params", "method")}
    if REAL_PAIR.is_file():
        figures["real_sentinel2_shift"] = {k: v for k, v in real_shift(method, **w).items() if k not in ("params", "method")}
        r = evaluate_cases(method, semi_synthetic_pairs(4, 256), **w)
        figures["semi_synthetic_real_4x256"] = {k: v for k, v in r.items() if k not in ("params", "method")}
    card["figures"] = _round(figures)
    (mdir / f"{args.name}.json").write_text(json.dumps(card, indent=2))
    print(json.dumps(card["figures"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
