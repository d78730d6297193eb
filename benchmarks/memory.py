"""Peak memory of every engine against its estimate (``Engine.peak_bytes``), which ``tl.register`` uses to refuse a
CPU run that would not fit before it starts.

    python benchmarks/memory.py [--rows nmsr,tlrn] [--smoke] [--fit] [--fit-with OLD.json ...] [--fit-only] [--threads 2]
                                [--out benchmarks/results/memory]

Each point (row: an engine and its parameters; T frames of S x S) runs in a fresh ``spawn`` child: a warm-up on 2 frames of 64x64, then one
``tl.register`` under ``benchmarks.peers.PeakMemory`` (the peak resident memory above the warm process). The frames
are a smooth random image rolled by a pixel or two per frame. NMSR runs 1 iteration per scale: its memory is that of
one iteration (the early stop and the iteration caps change the time, not the memory). The points span what decides
memory: large frames (a single pair of 2048x2048), many frames (2048 of 64x64) and between.

The table prints the measured peak, the estimate of the engine's ``memory_model`` and their ratio (the estimate must
hold the peak: ratio >= 1). ``--fit`` also prints, per engine, the five constants of the tightest model that holds
every measured point (a linear programme: least total ratio subject to ratio >= 1 at every point, times a 25 %
margin), to paste into the engine's ``memory_model``; with ``--fit-with`` earlier runs' results, on the largest
peak of each point over all of them (one run's peaks vary by up to ~30 % at 2048 frames). Writes ``results.json``
(atomically) into ``--out``.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: rows: name -> (engine, parameters); ``tlrn scale=1`` runs the network at full size, as a user may ask
VARIANTS = {"tlrn": ("tlrn", {}), "tlrn scale=1": ("tlrn", {"scale": 1.0}), "voxelmorph": ("voxelmorph", {}),
            "multistep": ("multistep", {}), "hsyn": ("hsyn", {}),
            "nmsr": ("nmsr", {"iterations": 1, "final_iterations": 1, "final_iterations_large": 1, "iterations_side": 0})}
POINTS = ((2, 512), (2, 1024), (2, 2048), (8, 512), (64, 256), (512, 64), (2048, 64))
SMOKE_POINTS = ((2, 64), (4, 64))
MARGIN = 1.25
MiB = 2.0**20


def frames_for(t: int, side: int) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    base = gaussian_filter(np.random.default_rng(0).random((side, side)).astype(np.float32), 3)
    return np.stack([np.roll(base, (k % 3, -(k % 2)), (0, 1)) for k in range(t)])


def _child(method: str, params: dict, t: int, side: int, threads: int, queue) -> None:
    import torch

    torch.set_num_threads(threads)
    import napari_tlreg as tl
    from benchmarks.peers import PeakMemory

    frames = frames_for(t, side)
    tl.register(frames_for(2, 64), method=method, **params)  # weights, lazy imports
    with PeakMemory() as mem:
        tl.register(frames, method=method, **params)
    queue.put(mem.extra)


def measure(method: str, params: dict, t: int, side: int, threads: int) -> float | None:
    """Peak bytes above the warm process of one ``tl.register`` in a fresh child; None if the child died."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(method, params, t, side, threads, queue))
    proc.start()
    proc.join()
    return float(queue.get()) if proc.exitcode == 0 and not queue.empty() else None


def features(method: str, params: dict, t: int, side: int) -> list[float]:
    """The terms of ``Engine.memory_model``: 1, T·H·W, full-size and working-resolution pixels held at once, pairs."""
    from napari_tlreg.engines import get_engine

    engine = get_engine(method)
    full, work = engine.pixels_at_once((t, side, side), engine.validate_params(params))
    return [1.0, float(t * side * side), float(full), float(work), float(t - 1)]


def estimate(method: str, params: dict, t: int, side: int) -> float | None:
    from napari_tlreg.engines import get_engine

    engine = get_engine(method)
    return engine.peak_bytes((t, side, side), engine.validate_params(params))


def fit(rows: list[tuple[list[float], float]]) -> list[float]:
    """The constants (>= 0) of the model with the least total ratio estimate / peak that holds every peak, times MARGIN."""
    from scipy.optimize import linprog

    X = np.array([f for f, _ in rows])
    y = np.array([p for _, p in rows])
    scale = X.max(0)  # well-conditioned columns
    scale[scale == 0] = 1.0
    Xs = X / scale
    res = linprog(c=(Xs / y[:, None]).sum(0), A_ub=-Xs, b_ub=-y, bounds=[(0, None)] * X.shape[1], method="highs")
    if not res.success:
        raise RuntimeError(f"fit failed: {res.message}")
    return [float(v) * MARGIN for v in res.x / scale]


def fit_runs(runs: list[dict[str, dict]]) -> dict[str, list[float]]:
    """One model per engine over all of its rows, on the largest peak of each (row, point) over ``runs`` (each a
    results.json's ``results``); the features are recomputed with the current code."""
    peaks: dict[tuple[str, str], tuple[int, int, float]] = {}
    for run in runs:
        for name, by_point in run.items():
            for key, r in by_point.items():
                if r["peak_mib"] is not None and name in VARIANTS:
                    old = peaks.get((name, key))
                    peaks[(name, key)] = (r["frames"], r["side"], max(r["peak_mib"], old[2] if old else 0.0))
    out = {}
    for method in dict.fromkeys(VARIANTS[n][0] for n, _ in peaks):
        data = [(features(method, VARIANTS[n][1], t, side), peak * MiB) for (n, _), (t, side, peak) in peaks.items()
                if VARIANTS[n][0] == method]
        out[method] = fit(data)
    return out


def table(rows: dict[str, dict], points) -> str:
    """Markdown: per engine and point, the measured peak / the estimate, MiB."""
    head = "| row | " + " | ".join(f"{t}x{s}²" for t, s in points) + " |"
    lines = [head, "|---" * (len(points) + 1) + "|"]
    for method, by_point in rows.items():
        cells = []
        for t, s in points:
            r = by_point[f"{t}x{s}"]
            peak = "–" if r["peak_mib"] is None else f"{r['peak_mib']:.0f}"
            est = "–" if r["estimate_mib"] is None else f"{r['estimate_mib']:.0f}"
            cells.append(f"{peak} / {est}")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", default=",".join(VARIANTS), help="comma list of rows: " + ", ".join(VARIANTS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--smoke", action="store_true", help=f"the points {SMOKE_POINTS} only (the test's tiny run)")
    ap.add_argument("--fit", action="store_true", help="print the fitted memory_model constants per engine")
    ap.add_argument("--fit-with", nargs="+", action="extend", default=[], metavar="RESULTS_JSON",
                    help="fit on the largest peak of each point over this run and these earlier results")
    ap.add_argument("--fit-only", action="store_true",
                    help="measure nothing, write nothing: fit the --fit-with results (none: the --out folder's results.json)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "memory"))
    args = ap.parse_args(argv)
    names = args.rows.split(",")
    unknown = set(names) - set(VARIANTS)
    if unknown:
        ap.error(f"unknown rows {sorted(unknown)}; known: {', '.join(VARIANTS)}")
    points = SMOKE_POINTS if args.smoke else POINTS
    if args.fit_only:
        files = args.fit_with or [str(Path(args.out) / "results.json")]
        for method, c in fit_runs([json.loads(Path(f).read_text())["results"] for f in files]).items():
            print(f"{method}: memory_model = ({', '.join(f'{v:.3g}' for v in c)})")
        return 0
    rows: dict[str, dict] = {}
    print(f"{'row':13s} {'frames':>14s} {'peak MiB':>9s} {'estimate MiB':>13s} {'ratio':>6s}")
    for name in names:
        method, params = VARIANTS[name]
        rows[name] = {}
        for t, side in points:
            peak = measure(method, params, t, side, args.threads)
            est = estimate(method, params, t, side)
            r = {"frames": t, "side": side, "peak_mib": None if peak is None else peak / MiB,
                 "estimate_mib": None if est is None else est / MiB,
                 "ratio": None if peak is None or est is None else est / peak, "features": features(method, params, t, side)}
            rows[name][f"{t}x{side}"] = r
            fmt = lambda v, spec: "–" if v is None else format(v, spec)  # noqa: E731
            print(f"{name:13s} {f'{t}x{side}x{side}':>14s} {fmt(r['peak_mib'], '9.0f')} {fmt(r['estimate_mib'], '13.0f')} "
                  f"{fmt(r['ratio'], '6.2f')}", flush=True)
    fitted = {}
    if args.fit:
        fitted = fit_runs([rows] + [json.loads(Path(f).read_text())["results"] for f in args.fit_with])
        for method, c in fitted.items():
            print(f"{method}: memory_model = ({', '.join(f'{v:.3g}' for v in c)})")
    md = table(rows, points)
    print("\n" + md)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    R = {"threads": args.threads, "smoke": args.smoke, "points": [list(p) for p in points],
         "rows": {n: {"method": VARIANTS[n][0], "params": VARIANTS[n][1]} for n in names}, "results": rows,
         "fitted": fitted, "table_markdown": md, "load_avg_end": os.getloadavg()}
    tmp = out / "results.json.tmp"
    tmp.write_text(json.dumps(R, indent=2))
    tmp.replace(out / "results.json")  # never a half-written results file
    print(f"\nwrote {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
