"""Every engine of ours beside ANTs SyN (and dipy SyN) on the same unseen data with ground truth, in one run.

    python -m benchmarks.peers [--quick | --smoke] [--no-peers] [--threads 1] [--out benchmarks/results/peers]

Prints a markdown table and writes ``results.json`` + ``peers.png`` into ``--out``. Datasets (seeds none of
the shipped models was trained on):

* ``cardiac``: cardiac phantoms (``synth.cardiac``), 12 frames, 64x64, seeds 50,000+ (as ``tlrn_paper.py``);
* ``echo``: synthetic apical echo (``synth.echo``), 12 frames, 128x128, seeds 50,000+ (the NMSR warm-start
  weights saw seeds 10,000-13,999), scored inside the sector;
* ``pairs``: satellite-like pairs (``benchmarks.pairs``: ``satellite_pair``, seeds 80,000+), 256x256, 15 landmarks.

Every method runs on every dataset with its defaults: the pair engines (multistep, hsyn) and the external
tools register each frame to the reference as a pair, the sequence engines take a pair as a 2-frame
sequence. Metrics: Dice of the reference labels propagated to every frame (mean of the two labels), endpoint
error against the true field (EPE, px), landmark error on the pairs (TRE = mean distance, px), folding
(% of pixels with det J <= 0), wall time per sequence or pair, and peak memory.

Isolation: each (method, dataset) runs in a fresh ``spawn`` child with torch, ITK/ANTs and OpenMP on
``--threads`` threads. After imports, data and one warm-up call (weights loaded), the child runs
``gc.collect()`` + ``malloc_trim``, reads its resident set (VmRSS), resets the kernel's peak counter
(``/proc/self/clear_refs`` = 5) and after each registration reads the peak (VmHWM): peak memory = the largest
``VmHWM - VmRSS before`` over the cases, i.e. what one registration adds to a warm process (inputs, network
activations, outputs, C++ allocations of ANTs/ITK included). Where ``clear_refs`` cannot be written it falls
back to ``ru_maxrss`` minus the RSS before the first case (said in results.json).
"""
from __future__ import annotations

import argparse
import builtins
import functools
import gc
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import write_json  # noqa: E402

OURS = ("tlrn", "voxelmorph", "multistep", "hsyn", "nmsr")
PEERS = ("ants", "dipy")
NAMES = {"none": "none (identity)", "ants": "ANTs SyN", "dipy": "dipy SyN (CC)"}
SEED0 = 50_000
MiB = 2**20
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS")
# cases per dataset: (everyone, nmsr) -- NMSR optimises a network per sequence, so it gets fewer
SIZES = {
    "full": {"cardiac": (20, 5), "echo": (4, 2), "pairs": (10, 4)},
    "quick": {"cardiac": (3, 1), "echo": (1, 1), "pairs": (2, 1)},
    "smoke": {"cardiac": (1, 1), "echo": (1, 1), "pairs": (1, 1)},
}
SMOKE_NMSR = {"iterations": 2, "levels": 2}
SMOKE_CASE = {"cardiac": (2, 64), "echo": (2, 64), "pairs": (128,)}  # (frames, size) / (size,)


def have(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def set_threads(n: int) -> None:
    """Thread counts for torch, OpenMP (dipy), BLAS and ITK (ANTs): env vars are read when a library loads."""
    for var in THREAD_VARS:
        os.environ[var] = str(n)


# ---- datasets ------------------------------------------------------------------------------------------
def cardiac_cases(n: int, n_frames: int = 12, size: int = 64) -> list[dict]:
    from benchmarks.nmsr import phantom_case

    return [phantom_case(i, n_frames, size) for i in range(n)]


def echo_cases(n: int, n_frames: int = 12, size: int = 128) -> list[dict]:
    from napari_tlreg.synth.echo import echo_sequence

    out = []
    for i in range(n):
        seq = echo_sequence(n_frames=n_frames, size=size, seed=SEED0 + i)
        out.append({"name": f"echo {SEED0 + i}", "frames": seq.frames, "labels": seq.labels.astype(np.int32),
                    "gt": seq.metadata["displacement"], "mask": seq.metadata["mask"], "label_ids": (1, 2)})
    return out


def pair_cases(n: int, size: int = 256) -> list[dict]:
    from benchmarks.pairs import pair_landmarks, synthetic_pairs

    out = []
    for seq in synthetic_pairs(n, size):
        p, q, _ = pair_landmarks(seq)
        out.append({"name": f"pair {seq.metadata.get('seed', '')}", "frames": seq.frames, "labels": None,
                    "gt": seq.metadata["displacement"], "mask": None, "p": p, "q": q})
    return out


def sequence_cases(n: int, n_frames: int, size: int) -> list[dict]:
    """Unscored cardiac phantoms of any size and length (for ``scaling.py``)."""
    return cardiac_cases(n, n_frames, size)


DATASETS = {"cardiac": cardiac_cases, "echo": echo_cases, "pairs": pair_cases}
TITLES = {"cardiac": "cardiac phantoms", "echo": "synthetic echo", "pairs": "satellite-like pairs"}


def title(ds: str, shape) -> str:
    return f"{TITLES[ds]} {'x'.join(map(str, shape[1:] if ds == 'pairs' else shape))}"


# ---- methods -------------------------------------------------------------------------------------------
def dipy_fields(frames_n: np.ndarray, reference: int) -> tuple[np.ndarray, float]:
    """dipy's SyN (CC metric, its defaults) of the reference onto every frame: pull fields ``(T, 2, H, W)``, seconds.

    With identity affines dipy's forward field is exactly our pull field (``transform(moving)(x) =
    moving(x + forward(x))``; checked against warping coordinate images, < 1e-5 px).
    """
    import logging

    from dipy.align.imwarp import SymmetricDiffeomorphicRegistration
    from dipy.align.metrics import CCMetric

    logging.getLogger("dipy").setLevel(logging.WARNING)
    T = len(frames_n)
    u = np.zeros((T, 2, *frames_n.shape[1:]), np.float32)
    secs = 0.0
    moving = frames_n[reference].astype(np.float64)
    for t in range(T):
        if t == reference:
            continue
        t0 = time.perf_counter()
        mapping = SymmetricDiffeomorphicRegistration(CCMetric(2)).optimize(frames_n[t].astype(np.float64), moving)
        secs += time.perf_counter() - t0
        u[t] = np.moveaxis(mapping.get_forward_field(), -1, 0)
    return u, secs


def register_any(method: str, frames: np.ndarray, reference: int = 0, labels_ref=None, **params) -> dict:
    """Any method in our conventions: normalised frames, pull field (NaN where ANTs has none), warped reference,
    propagated labels (or None), Jacobian determinant, and the wall time of the registration (s)."""
    import napari_tlreg as tl
    from napari_tlreg.core.normalize import normalize_sequence

    if method in OURS:
        t0 = time.perf_counter()
        res = tl.register(frames, method=method, reference=reference, device="cpu", **params)
        secs = time.perf_counter() - t0
        labs = None if labels_ref is None else res.warp_labels(labels_ref)
        held = sum(a.nbytes for a in (res.frames, res.warped, res.displacement, res.jacobian, res.inverse) if a is not None)
        return {"frames": res.frames, "field": res.displacement, "warped": res.warped, "labels": labs,
                "jac": res.jacobian, "seconds": secs, "result_bytes": held}
    frames_n = normalize_sequence(frames)
    if method == "ants":
        from benchmarks.tlrn_paper import ants_as_ours  # scored as ours: its field everywhere, the border replicated

        warped, labs, jac, secs, field = ants_as_ours(frames_n, reference, labels_ref)
        return {"frames": frames_n, "field": field, "warped": warped, "labels": labs, "jac": jac, "seconds": secs,
                "result_bytes": frames_n.nbytes + warped.nbytes + jac.nbytes + field.nbytes}
    if method == "dipy":
        field, secs = dipy_fields(frames_n, reference)
    elif method == "none":
        field, secs = np.zeros((len(frames_n), 2, *frames_n.shape[1:]), np.float32), 0.0
    else:
        raise ValueError(f"unknown method {method!r}")
    warped, jac = tl.warp(frames_n[reference], field), tl.jacobian_determinant(field)
    return {"frames": frames_n, "field": field, "warped": warped, "jac": jac, "seconds": secs,
            "labels": None if labels_ref is None else tl.warp(np.asarray(labels_ref, np.int32), field, order=0),
            "result_bytes": frames_n.nbytes + warped.nbytes + jac.nbytes + field.nbytes}


def score_case(case: dict, r: dict, reference: int = 0) -> dict:
    """``benchmarks.nmsr.score`` (MSE, LCC, Dice, EPE, folding) plus the landmark error of the pairs."""
    from benchmarks.nmsr import score
    from napari_tlreg import metrics

    labels = case.get("labels")
    out = score(r["frames"], r["warped"], r["labels"], labels, r["jac"], r["field"], case.get("gt"), case.get("mask"),
                case.get("label_ids", (1,)), reference)
    if "p" in case:
        u = np.nan_to_num(r["field"][1])  # ANTs: no value outside its image; map_points would propagate NaN
        out["tre_px"] = float(metrics.tre(metrics.map_points(u, case["q"]), case["p"])["ds"])
    out["seconds"] = r["seconds"]
    return out


# ---- memory --------------------------------------------------------------------------------------------
def _status_kib(key: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


class PeakMemory:
    """``with PeakMemory() as m: ...`` then ``m.extra`` = peak resident bytes above the RSS at entry (see module doc)."""

    def __init__(self):
        self.extra = 0
        try:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
            self.method = "VmHWM reset by clear_refs"
        except OSError:
            self.method = "ru_maxrss"

    def __enter__(self):
        from benchmarks.soak import _malloc_trim

        gc.collect()
        _malloc_trim()
        self.base = _status_kib("VmRSS") * 1024
        if self.method.startswith("VmHWM"):
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
        return self

    def __exit__(self, *exc):
        import resource

        peak = _status_kib("VmHWM") if self.method.startswith("VmHWM") else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        self.extra = max(0, peak * 1024 - self.base)
        return False


def measure(method: str, dataset: str, n: int, params: dict, threads: int, case_args: tuple = (), scored: bool = True,
            repeat_for: float = 0.0) -> dict:
    """In a fresh process: time, peak memory (and scores) of ``method`` on ``n`` cases of ``dataset``.

    ``repeat_for``: unscored runs repeat each case (at most 5 times) until this many seconds have passed and
    report the median time (the peak memory is the largest of the runs).
    """
    import torch

    torch.set_num_threads(threads)
    if method == "ants":
        import ants.config

        ants.config._random_seed = 1234  # ANTs samples its affine metric at random: repeatable reruns
    t_start = time.perf_counter()
    build = sequence_cases if dataset == "sequence" else DATASETS[dataset]
    cases = build(n, *case_args)
    warm = dict(params, iterations=1, levels=1) if method == "nmsr" else params
    register_any(method, cases[0]["frames"][:2], 0, **warm)  # weights, lazy imports, library loading
    rows, peaks = [], []
    for case in cases:
        labels = case.get("labels") if scored else None
        with PeakMemory() as mem:
            r = register_any(method, case["frames"], 0, None if labels is None else labels[0], **params)
        peaks.append(mem.extra)
        if scored:
            rows.append(score_case(case, r))
        else:
            times, t_case = [r["seconds"]], time.perf_counter()
            while time.perf_counter() - t_case < repeat_for and len(times) < 5:
                del r
                with PeakMemory() as mem:
                    r = register_any(method, case["frames"], 0, **params)
                peaks.append(mem.extra)
                times.append(r["seconds"])
            rows.append({"seconds": float(np.median(times)), "repeats": len(times), "result_mib": r.get("result_bytes", 0) / MiB})
        del r
    return {"method": method, "dataset": dataset, "n_cases": len(cases), "params": params, "threads": torch.get_num_threads(),
            "per_case": rows, "peak_mib": max(peaks) / MiB, "memory_method": mem.method,
            "shape": list(cases[0]["frames"].shape), "child_seconds": time.perf_counter() - t_start}


def isolated_pool(fresh: bool = True) -> ProcessPoolExecutor:
    """A pool whose tasks run in spawned children: a fresh process per task (``fresh``), or one shared child
    (``--smoke``: no torch import per task; its memory figures are then not per method)."""
    return ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"), max_tasks_per_child=1 if fresh else None)


def summarize(r: dict) -> dict:
    from benchmarks.nmsr import mean_rows

    out = mean_rows(r["per_case"])
    out.update(n_cases=r["n_cases"], peak_mib=r["peak_mib"], shape=r["shape"])
    return out


# ---- report --------------------------------------------------------------------------------------------
COLS = (("dice", "Dice", "{:.3f}"), ("epe_px", "EPE px", "{:.2f}"), ("tre_px", "TRE px", "{:.2f}"),
        ("folding_pct", "fold %", "{:.3f}"), ("seconds", "s / case", "{:.3f}"), ("peak_mib", "peak MiB", "{:.0f}"),
        ("ants_speedup", "ANTs s / this s", "{:.1f}x"), ("n_cases", "cases", "{:d}"))


def table(R: dict) -> str:
    lines = ["| dataset | method | " + " | ".join(h for _, h, _ in COLS) + " |", "|" + "---|" * (len(COLS) + 2)]
    for ds, rows in R["datasets"].items():
        for i, (m, r) in enumerate(rows.items()):
            cells = []
            for key, _, fmt in COLS:
                v = r.get(key)
                cells.append("–" if v is None or (isinstance(v, float) and not np.isfinite(v)) or (key == "seconds" and m == "none")
                             else fmt.format(v))
            most = max(x["n_cases"] for x in rows.values())  # the others' count (with or without the none row)
            name = NAMES.get(m, m) + (" †" if m == "nmsr" and r["n_cases"] < most else "")
            lines.append(f"| {title(ds, r['shape']) if i == 0 else ''} | {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def add_speedups(rows: dict) -> None:
    """``ants_speedup`` = ANTs seconds per case / this method's, on the same dataset (None without ANTs)."""
    ants = rows.get("ants")
    for m, r in rows.items():
        if ants is not None and m not in ("ants", "none") and r["seconds"] > 0:
            r["ants_speedup"] = ants["seconds"] / r["seconds"]


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def bench_parser(doc: str, out: str, quick: str, smoke: str) -> argparse.ArgumentParser:
    """The options both ``peers.py`` and ``scaling.py`` take: --quick, --smoke, --threads, --out."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help=quick)
    ap.add_argument("--smoke", action="store_true", help=smoke)
    ap.add_argument("--threads", type=_positive_int, default=1, help="torch, ITK, OpenMP threads (the same for all)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / out))
    return ap


def write_results(R: dict, out: str, png: str, plot_fn, print=builtins.print) -> None:  # noqa: A002
    """``results.json`` and the plot ``png`` (drawn by ``plot_fn(R, path)``) into ``out``."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / "results.json", R, default=float)
    plot_fn(R, folder / png)
    print(f"wrote {folder / 'results.json'} and {folder / png}")


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, title: str | None, path: Path, dpi: int = 100) -> None:
    """One legend for the whole figure, below the panels (inside a panel it hides data), labels
    gathered from every panel once each; a small suptitle; tight layout; PNG; figure closed."""
    plt = pyplot()
    entries: dict = {}
    for a in fig.axes:
        for handle, label in zip(*a.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    renderer = fig.canvas.get_renderer()
    for ncol in range(max(1, min(len(entries), 8)), 0, -1):  # as many columns as fit the figure's width
        legend = fig.legend(list(entries.values()), list(entries), loc="lower center", ncol=ncol, fontsize=8, frameon=False)
        if ncol == 1 or legend.get_window_extent(renderer).width <= 0.98 * fig.bbox.width:
            break
        legend.remove()
    rows = -(-len(entries) // ncol)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, (0.1 + 0.22 * rows) / fig.get_figheight(), 1, 1))
    fig.savefig(path, dpi=dpi)
    plt.close(fig)


def main(argv=None) -> int:
    ap = bench_parser(__doc__, "peers", "a few cases per dataset (~2 minutes)",
                      "1 tiny case per dataset, NMSR 2 iterations, no ANTs/dipy, one shared child (tests)")
    ap.add_argument("--no-peers", action="store_true", help="skip ANTs and dipy")
    ap.add_argument("--methods", default=",".join(("none", *OURS, *PEERS)), help="comma-separated subset")
    ap.add_argument("--datasets", default=",".join(DATASETS), help="comma-separated subset")
    args = ap.parse_args(argv)
    print = functools.partial(builtins.print, flush=True)  # noqa: A001 - progress visible when piped
    set_threads(args.threads)
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    methods = [m for m in args.methods.split(",") if m]
    datasets = [d for d in args.datasets.split(",") if d]
    # checked before the first measurement (a typo failed in a child after the other methods had run, writing nothing)
    bad = [m for m in methods if m not in ("none", *OURS, *PEERS)] + [d for d in datasets if d not in DATASETS]
    if bad or not methods or not datasets:
        ap.error(f"unknown or missing --methods/--datasets {', '.join(bad) or '(none given)'}; methods: "
                 f"{', '.join(('none', *OURS, *PEERS))}; datasets: {', '.join(DATASETS)}")
    skipped = {}
    for m, mod in (("ants", "ants"), ("dipy", "dipy")):
        if m in methods and (args.no_peers or args.smoke or not have(mod)):
            methods.remove(m)
            skipped[m] = ("skipped (--no-peers/--smoke)" if args.no_peers or args.smoke else
                          f"skipped: python module {mod!r} is not installed (pip install -e '.[bench]'" + (" and pip install dipy)" if m == "dipy" else ")"))
            print(f"{NAMES[m]}: {skipped[m]}")
    t_run = time.perf_counter()
    R: dict = {"mode": mode, "threads": args.threads, "skipped": skipped, "load_avg_start": os.getloadavg(), "datasets": {}, "raw": {}}
    pool = isolated_pool(fresh=not args.smoke)
    for ds in datasets:
        n_all, n_nmsr = SIZES[mode][ds]
        case_args = SMOKE_CASE[ds] if args.smoke else ()
        R["datasets"][ds], R["raw"][ds] = {}, {}
        for m in methods:
            params = SMOKE_NMSR if (m == "nmsr" and args.smoke) else {}
            t0 = time.perf_counter()
            raw = pool.submit(measure, m, ds, n_nmsr if m == "nmsr" else n_all, params, args.threads, case_args).result()
            R["raw"][ds][m] = raw
            R["datasets"][ds][m] = summarize(raw)
            print(f"{ds:8s} {m:11s} {len(raw['per_case'])} case(s) in {time.perf_counter() - t0:6.1f} s (child)")
        add_speedups(R["datasets"][ds])
    pool.shutdown()
    R["total_seconds"] = time.perf_counter() - t_run
    R["load_avg_end"] = os.getloadavg()
    R["memory_method"] = next(iter(next(iter(R["raw"].values())).values()))["memory_method"]
    R["table_markdown"] = table(R)
    print("\n" + R["table_markdown"])
    nmsr_note = ", ".join(f"{d}: {v[1]}" for d, v in SIZES[mode].items())
    print(f"\n† nmsr on fewer cases ({nmsr_note}); total {R['total_seconds']:.0f} s, {args.threads} thread(s), "
          f"memory: {R['memory_method']}")
    write_results(R, args.out, "peers.png", plot, print)
    return 0


def plot(R: dict, path: Path) -> None:
    plt = pyplot()
    keys = (("dice", "Dice of propagated labels"), ("epe_px", "endpoint error vs truth (px, log)"), ("folding_pct", "folding (% det J <= 0)"),
            ("seconds", "s per sequence / pair (log)"), ("peak_mib", "peak memory above baseline (MiB, log)"))
    datasets = list(R["datasets"])
    methods = list(dict.fromkeys(m for rows in R["datasets"].values() for m in rows))
    fig, ax = plt.subplots(1, len(keys), figsize=(4 * len(keys), 4))
    width = 0.8 / max(len(methods), 1)
    x = np.arange(len(datasets))
    for i, m in enumerate(methods):
        for a, (key, _) in zip(ax, keys):
            vals = [R["datasets"][d].get(m, {}).get(key, np.nan) for d in datasets]
            a.bar(x + i * width, [np.nan if v is None else v for v in vals], width, label=NAMES.get(m, m))
    for a, (key, title) in zip(ax, keys):
        a.set_title(title, fontsize=10)
        a.set_xticks(x + 0.4 - width / 2, datasets)
        a.grid(alpha=0.3, axis="y")
        if key in ("epe_px", "seconds", "peak_mib"):
            a.set_yscale("log")
    ax[0].set_ylim(0.5, 1.0)
    save_figure(fig, f"All engines vs ANTs/dipy SyN, {R['threads']} thread(s), unseen synthetic data with ground truth", path)


if __name__ == "__main__":
    raise SystemExit(main())
