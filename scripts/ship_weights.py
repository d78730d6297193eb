"""Turn a trainer checkpoint into shipped weights + a model card with figures measured here.

    python scripts/ship_weights.py CHECKPOINT --name tlrn_cine64 --command "napari-tlreg train ..." [--notes "..."]
    python scripts/ship_weights.py --refresh multistep_satellite128     # re-measure a shipped card's figures

Writes ``resources/weights/<name>.pt`` (state dict, network config and training size; no optimizer)
and ``resources/models/<name>.json`` (file, sha256, method, config, train_size, training, figures).
The figures are measured with the engine's default parameters on data the model never saw:

- ``tlrn`` / ``voxelmorph``: unseen cardiac phantoms, the lemniscate test split, real cine
  (Sunnybrook, ED endocardium propagated to ES);
- ``multistep`` / ``hsyn``: held-out synthetic pairs (``benchmarks.pairs``), the real Sentinel-2
  pair's shift and semi-synthetic pairs made from it.

``figures.quick_check`` is what the tests re-measure on a small subset. ``--refresh`` keeps the
weights and the training record and measures the figures again (after a change of defaults).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from napari_tlreg.engines.weights import load_checkpoint, save_weights, sha256, write_model_card  # noqa: E402

WEIGHTS, MODELS = ROOT / "resources" / "weights", ROOT / "resources" / "models"


def _round(d):
    """Four significant digits for every float in a nested figure dict."""
    if isinstance(d, dict):
        return {k: _round(v) for k, v in d.items()}
    if isinstance(d, list):
        return [_round(v) for v in d]
    if isinstance(d, float):
        return float(f"{d:.4g}")
    return d


def sequence_figures(method: str, w: dict) -> dict:
    from benchmarks.tlrn_paper import evaluate_cardiac, evaluate_lemniscate, evaluate_sunnybrook

    quick_cfg = {"n_sequences": 4, "seed0": 90_000, "n_frames": 12}
    quick = evaluate_cardiac(method, **quick_cfg, **w)
    figures = {
        "quick_check": {**quick_cfg, "dice_mean": quick["dice_mean"], "folding_pct": quick["folding_pct"]},
        "cardiac_unseen_30": {k: v for k, v in evaluate_cardiac(method, n_sequences=30, **w).items() if isinstance(v, float)},
        "lemniscate_test_200": {k: v for k, v in evaluate_lemniscate(method, 200, **w).items() if k != "method"},
    }
    sunny = evaluate_sunnybrook(method, **w)
    if sunny["n_cases"]:
        per_case = sunny["dice_per_case"]
        figures["sunnybrook_ed_to_es_endo_dice"] = {
            "mean_all": sunny["dice_mean"], "per_case": per_case,
            "mean_by_patient": {p: sum(v for k, v in per_case.items() if k.startswith(p)) / sum(k.startswith(p) for k in per_case)
                                for p in sorted({k.split("/")[0] for k in per_case})},
        }
    return figures


def pair_figures(method: str, w: dict) -> dict:
    from benchmarks.pairs import REAL_PAIR, evaluate_cases, evaluate_synthetic, real_shift, semi_synthetic_pairs

    quick_cfg = {"n_pairs": 3, "size": 128, "seed0": 60_000}
    quick = evaluate_synthetic(method, quick_cfg["n_pairs"], quick_cfg["size"], quick_cfg["seed0"], **w)
    qc = {**quick_cfg, "params": {}, "ds": quick["ds"], "folding_pct": quick["folding_pct"]}
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
    return figures


FIGURES = {"tlrn": sequence_figures, "voxelmorph": sequence_figures, "multistep": pair_figures, "hsyn": pair_figures}


def staging(name: str) -> Path:
    """Where the weights wait while their figures are measured: the shipped file and its card change together, at
    the end (an interrupted or failed run left new weights beside the old card, whose sha256 then refused them)."""
    return WEIGHTS / f".{name}.staging.pt"


def ship(checkpoint: str, name: str, command: str, notes: str = "") -> dict:
    """Write the weights to :func:`staging` and return the card's record of where they came from (figures still to
    measure)."""
    if not Path(checkpoint).is_file():
        raise SystemExit(f"ship_weights: no checkpoint at {checkpoint}")
    try:  # the engines' safe load and its one line (torch's own advised weights_only=False, which runs the file's code)
        ck = load_checkpoint(checkpoint)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"ship_weights: {exc}") from None
    missing = [k for k in ("model", "config", "method", "train", "step") if k not in ck]
    if missing:  # a bare state_dict: its method, network configuration and training size are not known
        raise SystemExit(f"ship_weights: {checkpoint} is not a trainer checkpoint (no {', '.join(missing)}): ship what "
                         "napari-tlreg train wrote")
    method = ck["method"]
    if method not in FIGURES:
        raise SystemExit(f"ship_weights: no figures defined for method {method!r}")
    WEIGHTS.mkdir(parents=True, exist_ok=True)
    wpath = staging(name)
    # "train" (size) travels with the file, so a path to it behaves exactly like the shipped name
    save_weights(wpath, {"model": ck["model"], "config": ck["config"], "method": method, "train": {"size": ck["train"]["size"]}})
    return {
        "name": name, "method": method, "file": f"weights/{name}.pt", "sha256": sha256(wpath),
        "config": ck["config"], "train_size": ck["train"]["size"],
        "training": {**_file_names(ck["train"]), "iterations_done": ck["step"], "command": command,
                     "final_batch_loss": ck.get("last", {}), "notes": notes},
    }


def _file_names(record):
    """A training record with the files it wrote and started from (``out``, ``init``) by their names: the trainer's
    scratch paths (/tmp/exp3/...) shipped in every model card; packaging review."""
    if isinstance(record, dict):
        return {k: (Path(v).name if k in ("out", "init") and isinstance(v, str) and v else _file_names(v))
                for k, v in record.items()}
    if isinstance(record, list):
        return [_file_names(v) for v in record]
    return record


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", nargs="?")
    ap.add_argument("--name", help="the shipped name (resources/weights/<name>.pt)")
    ap.add_argument("--command", help="the command(s) that trained it, verbatim")
    ap.add_argument("--notes", default="")
    ap.add_argument("--refresh", metavar="NAME", help="re-measure the figures of an already shipped model")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.refresh:
        name = args.refresh
        card_path = MODELS / f"{name}.json"
        if not card_path.is_file():
            raise SystemExit(f"ship_weights: no shipped model {name!r} ({card_path} is missing)")
        card = json.loads(card_path.read_text())
        if card.get("method") not in FIGURES:
            raise SystemExit(f"ship_weights: no figures defined for method {card.get('method')!r} "
                             f"(its card's figures come from {', '.join(sorted(FIGURES))}'s scripts only)")
        if sha256(ROOT / "resources" / card["file"]) != card["sha256"]:
            raise SystemExit(f"ship_weights: {card['file']} does not match its card's sha256")
        weights = ROOT / "resources" / card["file"]
    else:
        if not (args.checkpoint and args.name and args.command):
            ap.error("CHECKPOINT, --name and --command are required (or --refresh NAME)")
        name = args.name
        card = ship(args.checkpoint, name, args.command, args.notes)
        weights = staging(name)
    try:
        card["figures"] = _round(FIGURES[card["method"]](card["method"], {"weights": str(weights)}))
        if weights != ROOT / "resources" / card["file"]:
            os.replace(weights, ROOT / "resources" / card["file"])  # the weights, then at once their card
        write_model_card(MODELS / f"{name}.json", card)
    finally:
        staging(name).unlink(missing_ok=True)
    print(json.dumps(card["figures"]["quick_check"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
