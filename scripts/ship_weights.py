"""Turn a trainer checkpoint into shipped weights + a model card with measured figures.

    python scripts/ship_weights.py CHECKPOINT --name tlrn_cine64 --command "napari-tlreg train ..." [--notes "..."]

Writes ``resources/weights/<name>.pt`` (state dict and network config only, no optimizer) and
``resources/models/<name>.json`` (file, sha256, method, config, training, figures). The figures are
measured here on data the model never saw (unseen cardiac phantoms, the lemniscate test split, and the
held-out real cine patient); ``figures.quick_check`` is what CI re-measures on a small subset.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.tlrn_paper import evaluate_cardiac, evaluate_lemniscate, evaluate_sunnybrook  # noqa: E402
from napari_tlreg.engines.weights import sha256  # noqa: E402

QUICK = {"n_sequences": 4, "seed0": 90_000, "n_frames": 12}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("--name", required=True)
    ap.add_argument("--command", required=True, help="the command(s) that trained it, verbatim")
    ap.add_argument("--notes", default="")
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    ck = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
    method = ck["method"]
    wdir, mdir = ROOT / "resources" / "weights", ROOT / "resources" / "models"
    wdir.mkdir(parents=True, exist_ok=True)
    mdir.mkdir(parents=True, exist_ok=True)
    wpath = wdir / f"{args.name}.pt"
    torch.save({"model": ck["model"], "config": ck["config"], "method": method}, wpath)
    figures_params = {"weights": str(wpath)}
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
    card["training"]["data"] = ck["train"]["data"]
    quick = evaluate_cardiac(method, **QUICK, **figures_params)
    card["figures"] = {
        "quick_check": {**QUICK, "dice_mean": round(quick["dice_mean"], 4), "folding_pct": round(quick["folding_pct"], 4)},
        "cardiac_unseen_30": {k: round(v, 4) for k, v in evaluate_cardiac(method, n_sequences=30, **figures_params).items() if isinstance(v, float)},
        "lemniscate_test_200": {k: (round(v, 6) if isinstance(v, float) else [round(x, 6) for x in v] if isinstance(v, list) else v)
                                for k, v in evaluate_lemniscate(method, 200, **figures_params).items() if k != "method"},
    }
    sunny = evaluate_sunnybrook(method, **figures_params)
    card["figures"]["sunnybrook_ed_to_es_endo_dice"] = {"mean_all": round(sunny["dice_mean"], 4), "per_case": sunny["dice_per_case"]}
    (mdir / f"{args.name}.json").write_text(json.dumps(card, indent=2))
    print(json.dumps(card["figures"]["quick_check"]), json.dumps(card["figures"]["cardiac_unseen_30"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
