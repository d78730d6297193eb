"""Regimes of motion and intensity, every engine against a known field, and what ``register`` warns of.

    python benchmarks/regimes.py [--methods tlrn,voxelmorph,multistep,nmsr,hsyn] [--cases 'PREFIX;...'] [--threads 1]
                                 [--smoke] [--out benchmarks/results/regimes]

Frames made from the cardiac sample's first frame (resized to 96 px) warped by a known pull field,
``frame_t = tl.warp(reference, u_t)``, 5 frames, reference 0 (the last, in the ``reference 4`` case), each engine with
its defaults, on the CPU. A case: no motion (one frame repeated, plain and with 3 % noise), tiny and large shifts, a
15° rotation, a smooth non-rigid motion of up to 1.5 px plus a drift (``base``) and that motion under intensity
changes (scale, offset, 8 grey levels, saturation, every other frame inverted, gain and offset ramps), white noise,
and with the motion's sign flipped or the last frame as the reference. Endpoint error against the true field, median
and 95th percentile (px) over the pixels whose true position stays 3 px inside the frame, beside no registration; and
the warnings ``register`` gave, by kind (``worse``: the warped reference matches worse than none; ``inverted``:
frames correlate negatively; ``flicker``). Prints a markdown table and writes ``results.json`` into ``--out``.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import write_json  # noqa: E402
import napari_tlreg as tl  # noqa: E402

METHODS = ("tlrn", "voxelmorph", "multistep", "nmsr", "hsyn")
SIZE, N_FRAMES = 96, 5
WARNING_KINDS = {"worse": "matches the frames worse", "frame": "matches the frame worse", "inverted": "correlate negatively",
                 "flicker": "brightness"}


def reference_image(size: int = SIZE) -> np.ndarray:
    from scipy.ndimage import zoom

    f = tl.load_sequence("cardiac").frames[0].astype(np.float64)
    f = zoom(f, (size / f.shape[0], size / f.shape[1]), order=1)
    return ((f - f.min()) / (f.max() - f.min())).astype(np.float32)


def shifts(shift_rc, n=N_FRAMES, size=SIZE) -> np.ndarray:
    """A shift growing linearly from 0 on frame 0 to ``shift_rc`` on the last frame, ``(T, 2, H, W)``."""
    u = np.zeros((n, 2, size, size), np.float32)
    for t in range(n):
        u[t, 0], u[t, 1] = (t / (n - 1) * np.asarray(shift_rc, np.float64)).tolist()
    return u


def rotation(deg: float, size: int = SIZE) -> np.ndarray:
    """Pull field of a rotation by ``deg`` about the centre, ``(2, H, W)``."""
    th = np.deg2rad(deg)
    r, c = np.mgrid[0:size, 0:size].astype(np.float64) - (size - 1) / 2
    return np.stack([np.cos(th) * r - np.sin(th) * c - r, np.sin(th) * r + np.cos(th) * c - c]).astype(np.float32)


def base_motion(n=N_FRAMES, size=SIZE) -> np.ndarray:
    """A smooth non-rigid field of 1.5 px at most plus a (1, -0.6) px drift, growing over the frames."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(3)
    f = np.stack([gaussian_filter(rng.standard_normal((size, size)), 12) for _ in range(2)])
    f = f / np.abs(f).max() * 1.5 + np.array([1.0, -0.6])[:, None, None]
    return np.stack([(t / (n - 1)) * f for t in range(n)]).astype(np.float32)


def cases() -> dict[str, tuple[np.ndarray, np.ndarray, int]]:
    """name -> (frames, true field, reference)."""
    ref = reference_image()
    rng = np.random.default_rng(1)

    def seq(u):
        return np.stack([tl.warp(ref, ut) for ut in u]).astype(np.float32)

    zero = np.zeros((N_FRAMES, 2, SIZE, SIZE), np.float32)
    base_u = base_motion()
    base = seq(base_u)
    out = {"still": (np.repeat(ref[None], N_FRAMES, 0), zero, 0),
           "still + 3 % noise": (np.repeat(ref[None], N_FRAMES, 0)
                                 + 0.03 * rng.standard_normal((N_FRAMES, SIZE, SIZE)).astype(np.float32), zero, 0)}
    for s in (0.1, 0.2):
        out[f"shift {s} px"] = (seq(shifts((s, -s))), shifts((s, -s)), 0)
    for s in (10, 30):
        u = shifts((0.6 * s, 0.8 * s))
        out[f"shift {s} px"] = (seq(u), u, 0)
    u = np.stack([rotation(15 * t / (N_FRAMES - 1)) for t in range(N_FRAMES)])
    out["rotation 15°"] = (seq(u), u, 0)
    out["base"] = (base, base_u, 0)
    out["base, motion reversed"] = (seq(-base_u), -base_u, 0)
    # the same motion seen from the last frame: frame_t = ref'(x + v_t) with ref' = frame 4, v_t = u_t - u_4 (drift)
    out["base, reference 4"] = (base, base_u, 4)
    out["base x 1e-6"] = (base * 1e-6, base_u, 0)
    out["base - 1000"] = (base - 1000, base_u, 0)
    out["base, 8 grey levels"] = ((np.round(np.clip(base, 0, 1) * 7) * 36).astype(np.uint8), base_u, 0)
    out["base, top 5 % saturated"] = (np.minimum(base, np.percentile(base, 95)), base_u, 0)
    inverted = base.copy()
    inverted[1::2] = 1 - inverted[1::2]
    out["base, every other frame inverted"] = (inverted, base_u, 0)
    out["base, gain 1 to 1.6"] = (np.stack([base[t] * (1 + 0.15 * t) for t in range(N_FRAMES)]), base_u, 0)
    for sd in (0.1, 0.3):
        out[f"base + {int(sd * 100)} % noise"] = (base + sd * rng.standard_normal(base.shape).astype(np.float32), base_u, 0)
    return out


def endpoint_error(u: np.ndarray, truth: np.ndarray, reference: int, margin: int = 3) -> tuple[float, float]:
    """Median and 95th percentile of |u - truth| over the frames but the reference, where the true position lies
    ``margin`` px inside the frame. With another reference the truth is taken relative to it (see :func:`relative`)."""
    h, w = truth.shape[-2:]
    r, c = np.mgrid[0:h, 0:w]
    errs = []
    for t in range(truth.shape[0]):
        if t == reference:
            continue
        rr, cc = r + truth[t, 0], c + truth[t, 1]
        inside = (rr >= margin) & (rr <= h - 1 - margin) & (cc >= margin) & (cc <= w - 1 - margin)
        errs.append(np.hypot(*(u[t] - truth[t]))[inside])
    e = np.concatenate(errs)
    return float(np.median(e)), float(np.percentile(e, 95))


def relative(truth: np.ndarray, reference: int) -> np.ndarray:
    """The true pull fields to frame ``reference`` instead of frame 0: frame_t(x) = ref0(x + u_t(x)) and
    ref0(y) = frame_k(y + w(y)) with w the inverse of u_k, so frame_t(x) = frame_k(x + compose(w, u_t)(x))."""
    if reference == 0:
        return truth
    w = tl.invert(truth[reference])
    out = np.stack([tl.compose(w, truth[t]) for t in range(truth.shape[0])])
    out[reference] = 0
    return out


def run_case(frames, truth, reference, method) -> dict:
    notes: list[str] = []
    t0 = time.perf_counter()
    res = tl.register(frames, method=method, reference=reference, device="cpu", on_warning=notes.append)
    med, p95 = endpoint_error(res.displacement, truth, reference)
    return {"median": med, "p95": p95, "seconds": time.perf_counter() - t0,
            "folding_pct": float(np.mean(res.folding_pct[np.arange(len(frames)) != reference])),
            "warnings": sorted({k for k, words in WARNING_KINDS.items() for n in notes if words in n})}


def table(R: dict, methods) -> str:
    head = "| case | none | " + " | ".join(methods) + " |"
    lines = [head, "|" + "---|" * (len(methods) + 2)]
    for name, row in R.items():
        none = row["none"]
        cells = [f"{none['median']:.2f} / {none['p95']:.2f}"]
        for m in methods:
            r = row[m]
            said = f" ({', '.join(r['warnings'])})" if r["warnings"] else ""
            cells.append(f"{r['median']:.2f} / {r['p95']:.2f}{said}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--cases", default="", help="semicolon-separated name prefixes, e.g. 'base, reference 4;still' "
                                                 "(the names hold commas; default: every case)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--smoke", action="store_true", help="two cases, tlrn and multistep (the test's run)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "regimes"))
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    methods = ("tlrn", "multistep") if args.smoke else tuple(m for m in args.methods.split(",") if m)
    wanted = ("still", "base, every other") if args.smoke else tuple(p.strip() for p in args.cases.split(";") if p.strip())
    R: dict = {}
    for name, (frames, truth, reference) in cases().items():
        if wanted and not name.startswith(wanted):
            continue
        truth = relative(truth, reference)
        zero = np.zeros_like(truth)
        none_med, none_p95 = endpoint_error(zero, truth, reference)
        R[name] = {"none": {"median": none_med, "p95": none_p95}}
        for m in methods:
            R[name][m] = run_case(frames, truth, reference, m)
        print(name, {m: round(R[name][m]["median"], 3) for m in methods}, f"none {none_med:.3f}", flush=True)
    md = table(R, methods)
    print("\n## Endpoint error against the known field, median / p95 (px); warnings register gave\n")
    print(md)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "results.json", {"torch": torch.__version__, "threads": args.threads, "size": SIZE,
                                      "frames": N_FRAMES, "methods": list(methods), "cases": R, "table_markdown": md})
    print(f"\nwrote {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
