"""How wall time and peak memory grow with image size and sequence length, for every engine (and ANTs SyN).

    python -m benchmarks.scaling [--quick | --smoke] [--no-ants] [--threads 1] [--out benchmarks/results/scaling]

Two sweeps on cardiac phantoms (``synth.cardiac``, seed 50,000): image size 64², 128², 256², 512² at 8 frames,
and sequence length 8, 25, 50, 100 frames at 64². Every point runs in a fresh ``spawn`` child
(``benchmarks.peers.measure``): one warm-up call on 2 frames of the same size, then the timed call (repeated
up to 5 times within ~2 s, median), peak memory = VmHWM above the RSS before the call (see
``benchmarks/peers.py``). ``result MiB`` is the size of the arrays the call returns (frames, warped reference,
displacement, Jacobian, inverse: a lower bound on what any method must hold), so ``peak - result`` is the
working memory of the engine and of ``tl.register``.

Methods run with their defaults, which matters here: ``tlrn``/``voxelmorph`` run at their training resolution
(longer side 64 px, ``scale=0``) and the pair engines at native resolution up to 512 px, so ``tlrn scale=1`` is added to
show the network at native size. ``nmsr`` is test-time optimisation with an early stop; here it runs a fixed
``--nmsr-iterations`` per scale (4 scales, early stop off) so that what scales is the cost per iteration.
Prints a markdown table and writes ``results.json`` + ``scaling.png`` (log-log) into ``--out``.
"""
from __future__ import annotations

import builtins
import functools
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.peers import NAMES, OURS, bench_parser, have, isolated_pool, measure, pyplot, save_figure, set_threads, write_results  # noqa: E402

SWEEPS = {
    "full": {"size": (64, 128, 256, 512), "frames": (8, 25, 50, 100)},
    "quick": {"size": (64, 128, 256), "frames": (8, 25, 50)},
    "smoke": {"size": (64,), "frames": (8,)},
}
BASE_FRAMES, BASE_SIZE = 8, 64


def variants(nmsr_iterations: int, use_ants: bool) -> dict[str, tuple[str, dict]]:
    out = {m: (m, {}) for m in OURS}
    out["tlrn scale=1"] = ("tlrn", {"scale": 1.0})
    # iterations_side=0: the same cap at every scale and size (larger frames get more coarse iterations by default)
    out[f"nmsr ({nmsr_iterations} it/scale)"] = ("nmsr", {"iterations": nmsr_iterations, "patience": 100_000, "iterations_side": 0})
    del out["nmsr"]
    if use_ants:
        out["ants"] = ("ants", {})
    return out


def points(mode: str) -> list[tuple[int, int]]:
    """(frames, size) of both sweeps, the shared 8x64² point once."""
    sw = SWEEPS[mode]
    pts = [(BASE_FRAMES, s) for s in sw["size"]] + [(t, BASE_SIZE) for t in sw["frames"]]
    return list(dict.fromkeys(pts))


def table(R: dict) -> str:
    pts = [tuple(p) for p in R["points"]]
    head = "| method | " + " | ".join(f"{t}x{s}²" for t, s in pts) + " |"
    lines = ["**wall time (s)**", "", head, "|" + "---|" * (len(pts) + 1)]
    for name, rows in R["results"].items():
        lines.append(f"| {NAMES.get(name, name)} | " + " | ".join(_fmt_s(rows.get(f"{t}x{s}")) for t, s in pts) + " |")
    lines += ["", "**peak memory above the warm process, MiB (of which the returned arrays)**", "", head, "|" + "---|" * (len(pts) + 1)]
    for name, rows in R["results"].items():
        cells = []
        for t, s in pts:
            r = rows.get(f"{t}x{s}")
            cells.append("–" if r is None else f"{r['peak_mib']:.0f} ({r['result_mib']:.0f})")
        lines.append(f"| {NAMES.get(name, name)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _fmt_s(r) -> str:
    if r is None:
        return "–"
    v = r["seconds"]
    return f"{v:.3f}" if v < 1 else f"{v:.2f}" if v < 10 else f"{v:.1f}"


def growth(R: dict) -> dict:
    """Log-log slopes between the ends of each sweep: time and memory exponents in pixels and in frames."""
    out = {}
    for name, rows in R["results"].items():
        g = {}
        for sweep, key_of in (("pixels", lambda s: f"{BASE_FRAMES}x{s}"), ("frames", lambda t: f"{t}x{BASE_SIZE}")):
            xs = R["sweeps"]["size"] if sweep == "pixels" else R["sweeps"]["frames"]
            a, b = rows.get(key_of(xs[0])), rows.get(key_of(xs[-1]))
            if a is None or b is None or len(xs) < 2:
                continue
            ratio = (xs[-1] / xs[0]) ** (2 if sweep == "pixels" else 1)
            g[f"time_vs_{sweep}"] = float(np.log(b["seconds"] / a["seconds"]) / np.log(ratio))
            g[f"memory_vs_{sweep}"] = float(np.log(max(b["peak_mib"], 0.1) / max(a["peak_mib"], 0.1)) / np.log(ratio))
            g[f"working_mib_{sweep}"] = [float(rows[key_of(x)]["peak_mib"] - rows[key_of(x)]["result_mib"]) for x in xs if key_of(x) in rows]
        out[name] = g
    return out


def main(argv=None) -> int:
    ap = bench_parser(__doc__, "scaling", "sizes up to 256², up to 50 frames (~2 minutes)",
                      "one point (8x64²), NMSR 1 iteration, no ANTs, one shared child (tests)")
    ap.add_argument("--no-ants", action="store_true")
    ap.add_argument("--nmsr-iterations", type=int, default=10, help="fixed Adam iterations per scale for nmsr")
    args = ap.parse_args(argv)
    print = functools.partial(builtins.print, flush=True)  # noqa: A001
    set_threads(args.threads)
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    nmsr_it = 1 if args.smoke else args.nmsr_iterations
    use_ants = not (args.no_ants or args.smoke) and have("ants")
    if not use_ants and not (args.no_ants or args.smoke):
        print("ANTs SyN: skipped, python module 'ants' is not installed (pip install -e '.[bench]')")
    pts = points(mode)
    R: dict = {"mode": mode, "threads": args.threads, "nmsr_iterations_per_scale": nmsr_it, "sweeps": SWEEPS[mode],
               "points": pts, "load_avg_start": os.getloadavg(), "results": {}, "ants": use_ants}
    t_run = time.perf_counter()
    pool = isolated_pool(fresh=not args.smoke)
    for name, (method, params) in variants(nmsr_it, use_ants).items():
        R["results"][name] = {}
        for T, size in pts:
            raw = pool.submit(measure, method, "sequence", 1, params, args.threads, (T, size), False, 0.0 if args.smoke else 2.0).result()
            row = dict(raw["per_case"][0], peak_mib=raw["peak_mib"], child_seconds=raw["child_seconds"], params=params)
            R["results"][name][f"{T}x{size}"] = row
            print(f"{name:22s} {T:4d}x{size:<4d} {row['seconds']:9.3f} s (x{row['repeats']})  peak {row['peak_mib']:7.1f} MiB"
                  f"  result {row['result_mib']:6.1f} MiB  child {raw['child_seconds']:5.1f} s")
    pool.shutdown()
    R["growth_exponents"] = growth(R)
    R["total_seconds"] = time.perf_counter() - t_run
    R["load_avg_end"] = os.getloadavg()
    R["table_markdown"] = table(R)
    print("\n" + R["table_markdown"])
    print("\nlog-log growth exponents (end points of each sweep; 1 = linear in pixels / frames):")
    for name, g in R["growth_exponents"].items():
        print(f"  {name:22s} " + "  ".join(f"{k}={v:.2f}" for k, v in g.items() if not k.startswith("working")))
    print(f"total {R['total_seconds']:.0f} s, {args.threads} thread(s)")
    write_results(R, args.out, "scaling.png", plot, print)
    return 0


def plot(R: dict, path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(1, 4, figsize=(18, 4.2))
    for name, rows in R["results"].items():
        label = NAMES.get(name, name)
        sizes = [s for s in R["sweeps"]["size"] if f"{BASE_FRAMES}x{s}" in rows]
        frames = [t for t in R["sweeps"]["frames"] if f"{t}x{BASE_SIZE}" in rows]
        px = [s * s for s in sizes]
        ax[0].plot(px, [rows[f"{BASE_FRAMES}x{s}"]["seconds"] for s in sizes], marker="o", label=label)
        ax[1].plot(px, [max(rows[f"{BASE_FRAMES}x{s}"]["peak_mib"], 0.1) for s in sizes], marker="o", label=label)
        ax[2].plot(frames, [rows[f"{t}x{BASE_SIZE}"]["seconds"] for t in frames], marker="o", label=label)
        ax[3].plot(frames, [max(rows[f"{t}x{BASE_SIZE}"]["peak_mib"], 0.1) for t in frames], marker="o", label=label)
    titles = (f"time vs pixels ({BASE_FRAMES} frames)", f"peak MiB vs pixels ({BASE_FRAMES} frames)",
              f"time vs frames ({BASE_SIZE}²)", f"peak MiB vs frames ({BASE_SIZE}²)")
    for a, t, xl, yl in zip(ax, titles, ("H x W", "H x W", "frames", "frames"), ("s", "MiB", "s", "MiB")):
        a.set(title=t, xscale="log", yscale="log", xlabel=xl, ylabel=yl)
        a.grid(alpha=0.3, which="both")
    save_figure(fig, f"Scaling, {R['threads']} thread(s); nmsr at {R['nmsr_iterations_per_scale']} iterations per scale", path)


if __name__ == "__main__":
    raise SystemExit(main())
