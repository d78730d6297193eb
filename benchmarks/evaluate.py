"""Time to evaluate a result (``metrics.evaluate``: the per-frame table every CLI call, report and plot reads).

    python benchmarks/evaluate.py [--sizes 512,1024,2048] [--frames 8] [--repeat 3] [--smoke] [--out benchmarks/results/evaluate]

Per size: a sequence of smooth random frames of S x S with a warped reference and a displacement (the figures do not
depend on what registered it), evaluated with the local CC's window terms shared (each frame's taken once for its
warped and its unwarped reference, the reference's once for the sequence: ``metrics.lncc_after_before``) and, side
by side in the same process, the four separate ``metrics.lncc`` calls it replaced (10 box filters a frame and radius
instead of 6). Both must give the same figures, bit for bit; the table gives the median seconds of each over
``--repeat`` rounds (alternating) and their ratio. Writes ``results.json`` (atomically) into ``--out``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import write_json  # noqa: E402


def case(size: int, frames: int, seed: int = 0) -> SimpleNamespace:
    from scipy import ndimage as ndi

    rng = np.random.default_rng(seed)
    f = ndi.gaussian_filter(rng.random((frames, size, size), dtype=np.float32), (0, 3, 3))
    warped = (f + 0.05 * rng.random(f.shape, dtype=np.float32)).astype(np.float32)
    disp = np.zeros((frames, 2, size, size), np.float32)
    return SimpleNamespace(frames=f, warped=warped, displacement=disp, reference=0, spacing=None, mask=None,
                           data_region=None)


def separate_lncc(warped, frames, reference, radius=4, mask=None):
    """What ``evaluate`` did before: ``lncc`` of the warped and of the unwarped reference, each on its own."""
    from napari_tlreg import metrics as M

    unwarped = np.broadcast_to(frames[reference], frames.shape)
    return (M.lncc(warped, frames, radius=radius, mask=mask, per_frame=True),
            M.lncc(unwarped, frames, radius=radius, mask=mask, per_frame=True))


def time_evaluate(res, shared: bool) -> tuple[float, list[dict]]:
    from napari_tlreg import metrics as M

    original = M.lncc_after_before
    if not shared:
        M.lncc_after_before = separate_lncc
    try:
        t0 = time.perf_counter()
        rows = M.evaluate(res)
        return time.perf_counter() - t0, rows
    finally:
        M.lncc_after_before = original


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="512,1024,2048")
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--smoke", action="store_true", help="one 64x64 case of 3 frames, one round")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "evaluate"))
    args = ap.parse_args(argv)
    sizes = [64] if args.smoke else [int(s) for s in args.sizes.split(",")]
    frames, repeat = (3, 1) if args.smoke else (args.frames, args.repeat)

    rows = []
    print("| frames x size | separate lncc (s) | shared terms (s) | ratio | same figures |")
    print("|---|---|---|---|---|")
    for size in sizes:
        res = case(size, frames)
        times = {True: [], False: []}
        tables = {}
        for _ in range(repeat):
            for shared in (False, True):
                dt, tables[shared] = time_evaluate(res, shared)
                times[shared].append(dt)
        same = json.dumps(tables[True]) == json.dumps(tables[False])  # NaN compared as written
        sep, shr = statistics.median(times[False]), statistics.median(times[True])
        rows.append({"frames": frames, "size": size, "separate_s": sep, "shared_s": shr, "ratio": shr / sep,
                     "same_figures": same})
        print(f"| {frames} x {size}² | {sep:.2f} | {shr:.2f} | {shr / sep:.2f} | {'yes' if same else 'NO'} |",
              flush=True)
    write_json(Path(args.out) / "results.json",
               {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(), "repeat": repeat,
                "rows": rows})
    return 0 if all(r["same_figures"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
