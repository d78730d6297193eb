"""``napari-tlreg``: the command-line face of the public API.

    napari-tlreg register INPUT [--method tlrn] [--reference 0] [--labels FILE]
                         [--landmarks CSV] [--device auto] --out FOLDER
    napari-tlreg evaluate FOLDER [--labels FILE] [--landmarks CSV]
    napari-tlreg train METHOD [--data synthetic:cardiac|FOLDER] [--iterations N] --out WEIGHTS
    napari-tlreg view [INPUT] [--run]          (napari with the plugin docked)
    napari-tlreg methods | samples

INPUT is a file, a DICOM folder or a bundled sample name. Exit code 0 on success; bad input
prints one line to stderr and exits 2. Like the widgets, this module holds no math.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="napari-tlreg", description="Deformable registration of image sequences.")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("register", help="register a sequence and write the results to a folder")
    r.add_argument("input", help="file, DICOM folder, or bundled sample name")
    r.add_argument("--method", default=None, help="engine (default: tlrn); see `napari-tlreg methods`")
    r.add_argument("--reference", type=int, default=0)
    r.add_argument("--labels", default=None, help="labels file (T,H,W) or (H,W) on the reference")
    r.add_argument("--landmarks", default=None, help="CSV with columns id,t,row,col")
    r.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    r.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="engine parameter (repeatable)")
    r.add_argument("--out", required=True, help="output folder (written atomically)")
    r.add_argument("--no-montage", action="store_true", help="skip the PNG montage")

    e = sub.add_parser("evaluate", help="per-frame metrics of a saved result folder")
    e.add_argument("folder")
    e.add_argument("--labels", default=None)
    e.add_argument("--landmarks", default=None)

    t = sub.add_parser("train", help="train a learned engine (by hand; minutes to hours on a CPU)")
    t.add_argument("method", choices=["tlrn", "voxelmorph"])
    t.add_argument("--data", default="synthetic:cardiac", help="synthetic:cardiac|synthetic:lemniscate|synthetic:mix or a folder")
    t.add_argument("--iterations", "--epochs", type=int, default=2000, dest="iterations")
    t.add_argument("--batch", type=int, default=4)
    t.add_argument("--frames", type=int, default=8, dest="n_frames")
    t.add_argument("--size", type=int, default=64)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--weight", type=float, default=0.03)
    t.add_argument("--seed", type=int, default=1234)
    t.add_argument("--device", default="auto")
    t.add_argument("--threads", type=int, default=0)
    t.add_argument("--checkpoint-every", type=int, default=200)
    t.add_argument("--resume", action="store_true")
    t.add_argument("--init", default="", help="start from these weights (fine-tuning)")
    t.add_argument("--out", required=True)

    v = sub.add_parser("view", help="open napari with the plugin docked on a sequence")
    v.add_argument("input", nargs="?", default="cardiac")
    v.add_argument("--method", default=None)
    v.add_argument("--run", action="store_true", help="start the registration at once")
    v.add_argument("--screenshot", default=None, help="save a screenshot after the run and quit")

    sub.add_parser("methods", help="list the engines")
    sub.add_parser("samples", help="list the bundled sample sequences")
    return p


def _parse_params(items: list[str]) -> dict:
    params = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--param expects KEY=VALUE, got {item!r}")
        key, raw = item.split("=", 1)
        try:
            params[key] = json.loads(raw)
        except json.JSONDecodeError:
            params[key] = raw
    return params


def _load_labels(path: str | None, shape: tuple[int, int, int]):
    if path is None:
        return None
    from .io import load_sequence

    lab = load_sequence(path).frames
    if lab.shape[1:] != shape[1:]:
        raise ValueError(f"{path}: labels of {lab.shape[1]}x{lab.shape[2]} do not match frames of {shape[1]}x{shape[2]}")
    return lab.astype("int32")


def cmd_register(args) -> int:
    import numpy as np

    from . import api, report
    from .io import load_points_csv, load_sequence

    seq = load_sequence(args.input)
    labels = _load_labels(args.labels, seq.shape) if args.labels else seq.labels
    landmarks = load_points_csv(args.landmarks) if args.landmarks else seq.landmarks
    method = args.method or api.DEFAULT_METHOD

    def progress(done, total, message):
        print(f"\r[{method}] {done}/{total} {message:40s}", end="", file=sys.stderr, flush=True)

    res = api.register(seq.frames, method=method, reference=args.reference, device=args.device,
                       progress=progress, spacing=seq.spacing, **_parse_params(args.param))
    print(file=sys.stderr)
    if labels is not None and labels.ndim == 3 and labels.shape[0] == 1:
        labels = np.repeat(labels, seq.shape[0], 0) * (np.arange(seq.shape[0]) == 0)[:, None, None]
    report.write(res, args.out, labels=labels, landmarks=landmarks, montage=not args.no_montage, source=str(args.input))
    print(f"{method}: {seq.shape[0]} frames of {seq.shape[1]}x{seq.shape[2]} in {res.runtime_s:.2f} s on {res.device} -> {args.out}")
    return 0


def cmd_evaluate(args) -> int:
    from . import report
    from .io import load_points_csv
    from .result import RegistrationResult

    res = RegistrationResult.load(args.folder)
    labels = _load_labels(args.labels, res.frames.shape)
    landmarks = load_points_csv(args.landmarks) if args.landmarks else None
    summary = report.write_metrics(res, args.folder, labels=labels, landmarks=landmarks)
    print(json.dumps(summary, indent=2))
    return 0


def cmd_train(args) -> int:
    from .train import TrainConfig, train

    cfg = TrainConfig(**{k: v for k, v in vars(args).items() if k != "command"})
    out = train(cfg)
    print(f"weights written to {out}")
    return 0


def cmd_view(args) -> int:
    from ._widgets.launch import launch

    return launch(args.input, method=args.method, run=args.run, screenshot=args.screenshot)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "methods":
            from .api import methods

            for name, desc in methods().items():
                print(f"{name:12s} {desc}")
            return 0
        if args.command == "samples":
            from .io import samples

            for name, desc in samples().items():
                print(f"{name:12s} {desc}")
            return 0
        return {"register": cmd_register, "evaluate": cmd_evaluate, "train": cmd_train, "view": cmd_view}[args.command](args)
    except (ValueError, OSError, TypeError) as exc:
        print(f"napari-tlreg {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"napari-tlreg {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
