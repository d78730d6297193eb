"""NMSR options judged over perturbed frames, beside ANTs SyN-CC's spread over its seeds.

    python benchmarks/nmsr_options.py [--phantoms 60001,60005] [--row tol=0 --row patience=30,tol=0.01]
                                      [--perturbations 6] [--threads 1] [--smoke] [--out benchmarks/results/nmsr_options]

NMSR is deterministic but chaotic: white noise far below a phantom's own (``benchmarks/nmsr.py``'s
:func:`~benchmarks.nmsr.perturbed`, σ = 1e-4) moves its Dice by about as much as ANTs' seeds move SyN-CC's.
So one run per option says little on one phantom. Here each row (the engine's defaults, then each ``--row``
of ``KEY=VALUE[,KEY=VALUE]`` options) runs on each phantom under the first ``--perturbations`` perturbations of
the nmsr benchmark's spread section. The script prints and stores, per phantom and row, the Dice's min / median /
max, the median time and the iterations each scale ran (first perturbation). Beside them it prints SyN-CC's
min / median over its 7 ANTs seeds, read from ``benchmarks/results/nmsr/results.json`` (its seeds section). Each
run has ``--threads`` threads, and rows run one after another, so their times are side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.nmsr import (  # noqa: E402
    PERTURBATIONS,
    PHANTOM_SEED0,
    dice_spread,
    first_frames,
    perturbed,
    phantom_case,
    run_nmsr,
)
from napari_tlreg.cli import parse_params  # noqa: E402


def option_rows(specs: list[str]) -> dict[str, dict]:
    """``{"defaults": {}}`` and one row per ``KEY=VALUE[,KEY=VALUE]`` spec, named by the spec."""
    rows: dict[str, dict] = {"defaults": {}}
    for spec in specs:
        rows[spec] = parse_params(spec.split(","))
    return rows


def judge(cases: list[dict], rows: dict[str, dict], seeds, threads: int) -> dict:
    """Per case and row: Dice per perturbation seed, their min / median / max, the median seconds and the first run's
    iterations per scale."""
    out: dict = {}
    for case in cases:
        out[case["name"]] = {}
        for row, kw in rows.items():
            runs = {str(s): run_nmsr(perturbed(case, s), threads=threads, **kw) for s in seeds}
            out[case["name"]][row] = {
                **dice_spread({s: r["dice"] for s, r in runs.items()}),
                "seconds_median": statistics.median(r["seconds"] for r in runs.values()),
                "iterations_per_scale": next(iter(runs.values()))["iterations_per_scale"]}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--phantoms", default="60001", help="comma list of phantom seeds (the nmsr benchmark's 50,000+)")
    ap.add_argument("--row", action="append", default=[], metavar="KEY=VALUE[,KEY=VALUE]",
                    help="a row of NMSR options beside the defaults (repeatable)")
    ap.add_argument("--perturbations", type=int, default=len(PERTURBATIONS),
                    help=f"how many of the spread section's perturbation seeds {PERTURBATIONS}")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--smoke", action="store_true", help="the phantoms' first 3 frames (the test's tiny run)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "nmsr_options"))
    args = ap.parse_args(argv)
    if not 1 <= args.perturbations <= len(PERTURBATIONS):
        ap.error(f"--perturbations must be 1..{len(PERTURBATIONS)}")
    rows = option_rows(args.row)
    seeds = PERTURBATIONS[: args.perturbations]
    cases = [phantom_case(int(s) - PHANTOM_SEED0) for s in args.phantoms.split(",")]
    if args.smoke:
        cases = [first_frames(c) for c in cases]
    nmsr_results = ROOT / "benchmarks" / "results" / "nmsr" / "results.json"
    syncc = json.loads(nmsr_results.read_text()).get("seeds", {}).get("cases", {}) if nmsr_results.exists() else {}

    cases_out = judge(cases, rows, seeds, args.threads)
    print(f"\n## NMSR options over {len(seeds)} perturbations (σ = 1e-4) of the frames, {args.threads} thread(s)")
    print(f"{'phantom':16s} {'row':28s} {'Dice min':>9s} {'median':>8s} {'max':>8s} {'s':>6s}  iterations    SyN-CC min / median")
    for name, by_row in cases_out.items():
        s = syncc.get(name)
        ref = "–" if s is None or args.smoke else f"{s['min']:.4f} / {s['median']:.4f}"
        for row, r in by_row.items():
            print(f"{name:16s} {row:28s} {r['min']:9.4f} {r['median']:8.4f} {r['max']:8.4f} {r['seconds_median']:6.1f}  "
                  f"{str(r['iterations_per_scale']):13s} {ref}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    R = {"threads": args.threads, "smoke": args.smoke, "perturbation_seeds": list(seeds), "rows": rows,
         "load_avg_end": os.getloadavg(), "cases": cases_out,
         "syncc": {n: None if args.smoke or n not in syncc else {k: syncc[n][k] for k in ("min", "median", "max")}
                   for n in cases_out}}
    tmp = out / "results.json.tmp"
    tmp.write_text(json.dumps(R, indent=2, default=float))
    tmp.replace(out / "results.json")  # never a half-written results file
    print(f"\nwrote {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
