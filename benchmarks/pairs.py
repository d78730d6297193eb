"""The pair engines (``multistep``, ``hsyn``) against the multistep paper's tables, beside ANTs SyN, in one run.

    python benchmarks/pairs.py [--quick] [--no-ants] [--threads 1] [--out benchmarks/results/pairs]

Prints tables and writes ``results.json`` + ``pairs.png`` into ``--out``:
1. held-out synthetic urban pairs (``satellite_pair``, seeds the trainer never draws) at 192 and 256 px,
   15 landmarks each (building corners / road crossings): dx, dy, ds as in the paper's Tables 1-3, for
   unregistered, affine only, each engine (with and without the affine stage) and ANTs SyN; folding %;
2. the T = 1..5 ablation of the multistep engine (paper Table 1; inference-time steps of the shipped T = 3
   model: the weights are shared over steps);
3. speed per 256x256 pair (median of repeats, ``--threads`` for torch *and* ANTs/ITK), ratio to ANTs SyN;
4. the real Sentinel-2 pair (``../shared/data/satellite``): the median displacement of each method vs the
   phase-correlation shift; and semi-synthetic pairs from the real image (a known warp + radiometric
   change + haze applied to crops of it, 15 corner landmarks);
5. ``--sections smooth,clouds`` (not run by default): the real image under a smooth non-rigid warp of 1, 2 and 4 px
   (no affine part), and shifted under bright clouds on the second date, each engine beside ``nmsr`` and nothing:
   the endpoint error against the known field.
ANTs needs the bench extra (``pip install -e .[bench]``).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import ants_registration, write_json  # noqa: E402
import napari_tlreg as tl  # noqa: E402
from napari_tlreg import metrics  # noqa: E402
from napari_tlreg.synth._common import farthest_points  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
REAL_PAIR = SHARED / "satellite" / "arosics_S2A_crop512_r1044_c1044.npz"
TEST_SEED0 = 80_000  # held-out synthetic pairs: the trainer draws default_rng([seed, rank, step]) streams
SEMI_SEED0 = 90_000
ENGINES = ("multistep", "hsyn")
INTERIOR = 32  # px excluded at the border for median displacements on the real pair


# ---- data ---------------------------------------------------------------------------------------------
def synthetic_pairs(n: int, size: int, seed0: int = TEST_SEED0) -> list:
    """``n`` held-out ``satellite_pair`` sequences (seeds from ``seed0``, skipping the rare ones with < 15 landmarks)."""
    from napari_tlreg.synth.satellite import satellite_pair

    out, seed = [], seed0
    while len(out) < n:
        try:
            out.append(satellite_pair(size, seed=seed))
        except RuntimeError:
            pass
        seed += 1
    return out


def pair_landmarks(seq):
    lm = seq.landmarks
    p = lm[lm[:, 1] == 0]
    q = lm[lm[:, 1] == 1]
    p, q = p[np.argsort(p[:, 0])][:, 2:], q[np.argsort(q[:, 0])][:, 2:]
    kinds = np.array(seq.metadata.get("landmark_kind", ["landmark"] * len(p)))
    return p, q, kinds


def load_real_pair():
    d = np.load(REAL_PAIR)
    return d["ref"].astype(np.float32), d["tgt"].astype(np.float32)


def _corners(img: np.ndarray, n: int, border: int, rng: np.random.Generator, allowed: np.ndarray | None = None) -> np.ndarray:
    """``n`` well-spread Shi-Tomasi corners ``(n, 2)`` (row, col) of ``img``, at least ``border`` px inside
    (and where ``allowed`` is True)."""
    from scipy import ndimage

    g = ndimage.gaussian_filter(img.astype(np.float64), 1.0)
    gr, gc = np.gradient(g)
    a, b, c = (ndimage.gaussian_filter(x, 2.0) for x in (gr * gr, gr * gc, gc * gc))
    resp = (a + c) / 2 - np.sqrt(((a - c) / 2) ** 2 + b * b)  # smaller eigenvalue of the structure tensor
    peak = (resp == ndimage.maximum_filter(resp, 9)) & (resp > np.percentile(resp, 90))
    peak[:border], peak[-border:], peak[:, :border], peak[:, -border:] = False, False, False, False
    if allowed is not None:
        peak &= allowed
    pts = np.argwhere(peak).astype(np.float64)
    pts = pts[np.argsort(-resp[peak])][: 8 * n]
    return pts[farthest_points(pts, n, rng)]


def semi_synthetic_pairs(n: int, size: int = 256, seed0: int = SEMI_SEED0, nodata: bool = False) -> list[dict]:
    """Pairs made from the real Sentinel-2 reference: crops, a known pull warp (the pairs' motion model), then
    gain/offset, a smooth haze gradient and noise; 15 corner landmarks with exact partners (``q + u(q) = p``).
    ``nodata``: the frame also gets a zero (no-data) wedge in one corner. Values are 16-bit like the source."""
    from napari_tlreg.core.normalize import normalize_sequence
    from napari_tlreg.synth.satellite import random_motion, solve_landmark

    ref, _ = load_real_pair()
    margin = 24
    big = size + 2 * margin
    img = normalize_sequence(ref[None])[0]
    offsets = [(0, 0), (0, ref.shape[1] - big), (ref.shape[0] - big, 0), (ref.shape[0] - big, ref.shape[1] - big)]
    out = []
    for k in range(n):
        rng = np.random.default_rng(seed0 + k)
        r0, c0 = offsets[k % len(offsets)]
        crop = img[r0:r0 + big, c0:c0 + big]
        u_big = random_motion(big, rng)
        moved = tl.warp(crop, u_big)
        sl = (slice(margin, margin + size), slice(margin, margin + size))
        f0, f1, u = crop[sl], moved[sl], u_big[:, sl[0], sl[1]]
        rr, cc = np.mgrid[0:size, 0:size] / size
        haze = rng.uniform(0.03, 0.1) * (rr * np.cos(rng.uniform(0, 6.3)) + cc * np.sin(rng.uniform(0, 6.3)))
        f1 = rng.uniform(0.8, 1.2) * f1 + rng.uniform(-0.05, 0.05) + haze + rng.normal(0, 0.01, f1.shape)
        f0 = f0 + rng.normal(0, 0.01, f0.shape)
        frames = np.clip(np.stack([f0, f1]), -0.2, 1.4) * 3000 + 800
        diag = np.arange(size)[:, None] + np.arange(size)[None, :]
        if nodata:
            frames[1][diag < 0.35 * size] = 0
        p = _corners(f0, 15, int(0.12 * size), rng, allowed=(diag > 0.5 * size) if nodata else None)
        q = solve_landmark(u, p)
        out.append({"frames": frames.astype(np.float32), "p": p, "q": q, "u": u, "kinds": np.array(["corner"] * 15)})
    return out


# ---- methods --------------------------------------------------------------------------------------------
def have_ants() -> bool:
    from benchmarks.tlrn_paper import have_ants as _have

    return _have()


def ants_field(frames: np.ndarray, syn: str = "SyN"):
    """ANTs (``syn`` transform, defaults) of frame 0 (moving) onto frame 1 (fixed), as *our* pull field ``(2, H, W)``.

    The field is read exactly by pulling the moving image's row/col coordinate images through ANTs'
    forward transforms (linear interpolation of a linear function is exact): ``u = warped coords - x``.
    Returns ``(u, seconds of the registration, folding % of ANTs' own Jacobian of the deformable part)``.
    """
    import ants

    fixed = ants.from_numpy(np.ascontiguousarray(frames[1], dtype=np.float32))
    moving = ants.from_numpy(np.ascontiguousarray(frames[0], dtype=np.float32))
    t0 = time.perf_counter()
    with ants_registration(fixed, moving, syn) as reg:
        secs = time.perf_counter() - t0
        h, w = frames.shape[1:]
        rr, cc = np.mgrid[0:h, 0:w].astype(np.float32)
        outside = -1e6
        pull = [ants.apply_transforms(fixed, ants.from_numpy(x), reg["fwdtransforms"], interpolator="linear",
                                      defaultvalue=outside).numpy() for x in (rr, cc)]
        u = np.stack([pull[0] - rr, pull[1] - cc])
        u[:, (pull[0] < outside / 2) | (pull[1] < outside / 2)] = 0.0  # outside the moving image: ANTs has no value there
        fold = 0.0
        warp_tx = [t for t in reg["fwdtransforms"] if t.endswith((".nii.gz", ".nii"))]
        if warp_tx:
            jac = ants.create_jacobian_determinant_image(fixed, warp_tx[0]).numpy()
            fold = float((jac <= 0).mean() * 100)
    return u.astype(np.float32), secs, fold


def affine_only(frames: np.ndarray):
    """Our affine stage alone (robust normalisation, no-data mask, phase correlation + Gauss-Newton)."""
    import torch

    from napari_tlreg.core.normalize import normalize_sequence
    from napari_tlreg.engines import pairs

    t0 = time.perf_counter()
    x = torch.from_numpy(normalize_sequence(frames))[:, None]
    m, f, vm, vf = pairs.prepare_pair(x[:1], x[1:])
    u = pairs.affine_prealign(m, f, vm, vf)[0].numpy()
    return u, time.perf_counter() - t0


def run(method: str, frames: np.ndarray, **params) -> dict:
    """Register frame 0 (reference) onto frame 1: ``{"u": (2,H,W), "seconds", "folding_pct", "inverse": ... }``."""
    if method == "none":
        return {"u": np.zeros((2, *frames.shape[1:]), np.float32), "seconds": 0.0, "folding_pct": 0.0, "inverse": None}
    if method == "affine":
        u, s = affine_only(frames)
        return {"u": u, "seconds": s, "folding_pct": float(metrics.negative_jacobian_fraction(u)), "inverse": None}
    if method.startswith("ants"):
        u, s, fold = ants_field(frames, params.get("syn", "SyN"))
        return {"u": u, "seconds": s, "folding_pct": fold, "inverse": None}
    res = tl.register(frames, method=method, device="cpu", **params)
    return {"u": res.displacement[1], "seconds": res.runtime_s, "folding_pct": float(res.folding_pct[1]),
            "inverse": None if res.inverse is None else res.inverse[1]}


def _tre_split(u, p, q, kinds) -> dict:
    moved = metrics.map_points(u, q)
    out = {}
    groups = {"all": np.ones(len(p), bool), "buildings": kinds == "building corner", "roads": kinds == "crossing"}
    for name, sel in groups.items():
        if sel.any():
            t = metrics.tre(moved[sel], p[sel])
            out[name] = {k: t[k] for k in ("dx", "dy", "ds", "max")}
    return out


def inverse_residuals(u: np.ndarray, inv: np.ndarray, border: int = 16) -> dict:
    """Mean |compose(u, inv)| of the learned inverse and of ``tl.invert`` (fixed point), and their difference (px)."""
    fp = tl.invert(u)
    sl = (slice(None), slice(border, -border), slice(border, -border))

    def mag(v):
        return float(np.sqrt((v[sl] ** 2).sum(0)).mean())

    return {"learned": mag(tl.compose(u, inv)), "fixed_point": mag(tl.compose(u, fp)), "learned_vs_fixed_point": mag(inv - fp)}


def evaluate_cases(method: str, cases: list[dict], **params) -> dict:
    """Landmark errors (dx, dy, ds per group, pooled over the cases' landmarks), folding, seconds, inverse residual."""
    moved_all, per = [], []
    fold, secs, inv_res = [], [], []
    for case in cases:
        r = run(method, case["frames"], **params)
        per.append(_tre_split(r["u"], case["p"], case["q"], case["kinds"]))
        moved_all.append((metrics.map_points(r["u"], case["q"]), case["p"], case["kinds"]))
        fold.append(r["folding_pct"])
        secs.append(r["seconds"])
        if r["inverse"] is not None:
            inv_res.append(inverse_residuals(r["u"], r["inverse"]))
    moved = np.concatenate([m for m, _, _ in moved_all])
    target = np.concatenate([p for _, p, _ in moved_all])
    kinds = np.concatenate([k for _, _, k in moved_all])
    out = {"method": method, "params": params, "n_pairs": len(cases)}
    for name, sel in {"all": np.ones(len(kinds), bool), "buildings": kinds == "building corner", "roads": kinds == "crossing"}.items():
        if sel.any():
            t = metrics.tre(moved[sel], target[sel])
            out[name] = {k: float(t[k]) for k in ("dx", "dy", "ds", "max")}
    out["ds"] = out["all"]["ds"]
    out["ds_worst_pair"] = float(max(p["all"]["ds"] for p in per))
    out["folding_pct"] = float(np.mean(fold))
    out["folding_pct_max"] = float(np.max(fold))
    out["seconds_per_pair"] = float(np.median(secs))
    if inv_res:
        out["inverse_residual"] = float(np.mean([r["learned"] for r in inv_res]))
        out["inverse_residual_fixed_point"] = float(np.mean([r["fixed_point"] for r in inv_res]))
        out["inverse_learned_vs_fixed_point"] = float(np.mean([r["learned_vs_fixed_point"] for r in inv_res]))
    return out


def synthetic_cases(n: int, size: int, seed0: int = TEST_SEED0) -> list[dict]:
    cases = []
    for seq in synthetic_pairs(n, size, seed0):
        p, q, kinds = pair_landmarks(seq)
        cases.append({"frames": seq.frames, "p": p, "q": q, "kinds": kinds})
    return cases


def evaluate_synthetic(method: str, n_pairs: int = 10, size: int = 256, seed0: int = TEST_SEED0, **params) -> dict:
    """Held-out synthetic pairs (the model cards' ``quick_check`` uses this with a few pairs)."""
    return evaluate_cases(method, synthetic_cases(n_pairs, size, seed0), **params)


def real_shift(method: str, **params) -> dict:
    """Median displacement (row, col) over the real pair's interior vs the phase-correlation shift."""
    import torch

    from napari_tlreg.engines.pairs import phase_correlation

    ref, tgt = load_real_pair()
    pc = phase_correlation(torch.from_numpy(ref)[None, None], torch.from_numpy(tgt)[None, None], upsample=100)[0].numpy()
    r = run(method, np.stack([ref, tgt]), **params)
    b = INTERIOR
    med = np.median(r["u"][:, b:-b, b:-b].reshape(2, -1), axis=1)
    return {"method": method, "params": params, "median_rc": [float(v) for v in med], "phase_correlation_rc": [float(v) for v in pc],
            "error_px": float(np.hypot(*(med - pc))), "folding_pct": r["folding_pct"], "seconds": r["seconds"]}


def speed(method: str, frames: np.ndarray, repeats: int = 5, **params) -> float:
    """Median seconds per pair of ``run`` (one warm-up first; ANTs: the registration call only)."""
    run(method, frames, **params)
    return float(np.median([run(method, frames, **params)["seconds"] for _ in range(repeats)]))


# ---- report ---------------------------------------------------------------------------------------------
def _row(name: str, r: dict) -> str:
    b, rd, a = r.get("buildings", {}), r.get("roads", {}), r["all"]
    f = lambda d, k: f"{d[k]:6.2f}" if k in d else "     -"  # noqa: E731
    return (f"{name:26s} {f(b, 'dx')} {f(b, 'dy')} {f(b, 'ds')}  {f(rd, 'dx')} {f(rd, 'dy')} {f(rd, 'ds')}  "
            f"{a['ds']:6.2f} {a['max']:6.2f} {r['folding_pct']:7.3f} {r['seconds_per_pair']:8.3f}")


HEADER = (f"{'method':26s} {'bld dx':>6s} {'dy':>6s} {'ds':>6s}  {'road dx':>6s} {'dy':>6s} {'ds':>6s}  "
          f"{'all ds':>6s} {'max':>6s} {'fold %':>7s} {'s/pair':>8s}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer pairs (a few minutes)")
    ap.add_argument("--no-ants", action="store_true")
    ap.add_argument("--threads", type=int, default=1, help="torch and ITK threads (same for both sides)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "pairs"))
    ap.add_argument("--sections", default="synthetic,steps,speed,real",
                    help="comma-separated subset (also smooth, clouds); results of other sections in --out are kept")
    args = ap.parse_args(argv)
    sections = set(args.sections.split(","))
    os.environ["ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"] = str(args.threads)
    import torch

    torch.set_num_threads(args.threads)
    use_ants = have_ants() and not args.no_ants
    if use_ants:
        import ants.config

        ants.config._random_seed = 1234  # ANTs samples its affine metric at random: repeatable reruns (as peers.py)
    n_syn, n_semi, reps = (4, 2, 3) if args.quick else (10, 4, 5)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    prev = out / "results.json"
    R: dict = json.loads(prev.read_text()) if prev.is_file() else {}
    if sections & {"synthetic", "steps", "speed", "real"}:  # the main sections' run
        R.update({"torch": torch.__version__, "threads": args.threads, "ants": use_ants, "n_synthetic_pairs": n_syn})
    if sections & {"smooth", "clouds"}:
        R["known_field_threads"] = args.threads
    variants = [("none", {}), ("affine", {})]
    for m in ENGINES:  # default = the affine stage then the network ("A & Φ"); affine=False: the network alone
        variants += [(m, {}), (m, {"scale": 0.5}), (m, {"affine": False})]  # default: native resolution up to 512 px
    if use_ants:
        variants.append(("ants", {"syn": "SyN"}))

    def label(m, p):
        items = [f"{k}={v}" for k, v in p.items() if k != "syn"]
        return m + (" " + ",".join(items) if items else "")

    if "synthetic" in sections:
        R["synthetic"] = {}
    for size in ((192, 256) if "synthetic" in sections else ()):
        cases = synthetic_cases(n_syn, size)
        print(f"\n## Held-out synthetic pairs, {n_syn} x {size}x{size}, 15 landmarks each (px; dx = |Δcol|, dy = |Δrow|)")
        print(HEADER)
        R["synthetic"][size] = {}
        for m, p in variants:
            r = evaluate_cases(m, cases, **p)
            R["synthetic"][size][label(m, p)] = r
            print(_row(label(m, p), r) + (f"  inv.res {r['inverse_residual']:.3f} (fixed pt {r['inverse_residual_fixed_point']:.3f})" if "inverse_residual" in r else ""))

    cases = synthetic_cases(n_syn, 256) if sections & {"steps", "speed"} else []
    if "steps" in sections:
        print("\n## Multistep T = 1..5 (paper Table 1; the shipped T = 3 weights, steps at inference), 256 px; "
              "default = A & Φ, affine=False = Φ only")
        R["steps"] = {}
        print(HEADER)
    for T in (range(1, 6) if "steps" in sections else ()):
        for extra in ({}, {"affine": False}):
            r = evaluate_cases("multistep", cases, steps=T, **extra)
            R["steps"][label(f"T={T}", extra)] = r
            print(_row(label(f"multistep T={T}", extra), r))

    if "speed" in sections:
        run_speed(R, cases[0]["frames"], reps, args.threads, use_ants, label)
    if REAL_PAIR.is_file() and "real" in sections:
        run_real(R, variants, n_semi, label)
    if REAL_PAIR.is_file() and "smooth" in sections:
        run_smooth(R)
    if REAL_PAIR.is_file() and "clouds" in sections:
        run_clouds(R)

    write_json(out / "results.json", R, default=float)
    if "synthetic" in R and "steps" in R:
        plot(R, out / "pairs.png")
    print(f"\nwrote {out / 'results.json'} and {out / 'pairs.png'}")
    return 0


def run_speed(R, frames, reps, threads, use_ants, label):
    print(f"\n## Speed per 256x256 pair (median of {reps}, {threads} thread(s) for torch and ITK)")
    R["speed"] = {}
    for m, p in [("affine", {}), ("multistep", {}), ("multistep", {"steps": 1}), ("multistep", {"affine": False}),
                 ("multistep", {"scale": 0.5}), ("hsyn", {}), ("hsyn", {"scale": 0.5}), ("hsyn", {"affine": False})] + ([("ants", {"syn": "SyN"})] if use_ants else []):
        R["speed"][label(m, p)] = speed(m, frames, reps, **p)
    if use_ants:
        base = R["speed"]["ants"]
        R["speed_ratio_ants_over"] = {k: base / v for k, v in R["speed"].items() if k != "ants"}
    for k, v in R["speed"].items():
        ratio = f"  ANTs/this = {R['speed_ratio_ants_over'][k]:.1f}x" if use_ants and k != "ants" else ""
        print(f"{k:26s} {v:8.4f} s{ratio}")


def run_real(R, variants, n_semi, label):
    """The real Sentinel-2 pair, and semi-synthetic pairs made from it."""
    print("\n## Real Sentinel-2 pair (512x512, 10 m): median displacement vs phase correlation (px, row, col)")
    R["real_shift"] = {}
    for m, p in [(m, p) for m, p in variants if m != "none"]:
        r = real_shift(m, **p)
        R["real_shift"][label(m, p)] = r
        print(f"{label(m, p):26s} median ({r['median_rc'][0]:+.3f}, {r['median_rc'][1]:+.3f})  phase corr "
              f"({r['phase_correlation_rc'][0]:+.3f}, {r['phase_correlation_rc'][1]:+.3f})  error {r['error_px']:.3f}  "
              f"fold {r['folding_pct']:.3f} %  {r['seconds']:.3f} s")
    for nodata in (False, True):
        semi = semi_synthetic_pairs(n_semi, 256, nodata=nodata)
        key = "semi_synthetic_nodata" if nodata else "semi_synthetic"
        print(f"\n## Semi-synthetic pairs from the real image ({n_semi} x 256 px, known warp + haze"
              f"{' + no-data wedge' if nodata else ''}), 15 corner landmarks")
        print(HEADER)
        R[key] = {}
        for m, p in variants:
            r = evaluate_cases(m, semi, **p)
            R[key][label(m, p)] = r
            print(_row(label(m, p), r))


#: the crop of the real image the smooth and clouds sections move (its centre, px) and the shift under the clouds
KNOWN_SIZE, CLOUD_SHIFT = 384, (3.3, -2.7)


def _known_pair(field) -> tuple[np.ndarray, np.ndarray]:
    """(frames (2, H, W), u (2, H, W)): the real reference's central crop and the image pulled through ``field``
    (``frame(x) = reference(x + u(x))``, cubic, read from the whole image so no border is filled)."""
    from scipy import ndimage

    ref, _ = load_real_pair()
    img = ref.astype(np.float64)
    h = w = KNOWN_SIZE
    r0, c0 = (img.shape[0] - h) // 2, (img.shape[1] - w) // 2
    r, c = np.mgrid[0:h, 0:w].astype(np.float64)
    u = field(r, c)
    frame = ndimage.map_coordinates(img, [r + r0 + u[0], c + c0 + u[1]], order=3, mode="reflect")
    return np.stack([img[r0:r0 + h, c0:c0 + w], frame]).astype(np.float32), u


def _endpoint(frames, u, method, **params) -> dict:
    """Endpoint error (median, 95th percentile; 4 px border out) of ``method``'s field against ``u``, and its time."""
    inner = (slice(None), slice(4, -4), slice(4, -4))
    if method == "none":
        est, secs = np.zeros_like(u), 0.0
    else:
        res = tl.register(frames, method=method, **params)
        est, secs = res.displacement[1], res.runtime_s
    err = np.hypot(*(est - u)[inner])
    return {"median": float(np.median(err)), "p95": float(np.percentile(err, 95)), "seconds": float(secs)}


KNOWN_METHODS = ("none", "hsyn", "multistep", "nmsr")


def run_smooth(R):
    """A smooth sine warp without affine part (amplitude 1, 2, 4 px, period 192 px) of the real image."""
    print(f"\n## Smooth non-rigid warp of the real image ({KNOWN_SIZE} px): endpoint error median / p95 (px)")
    R["smooth"] = {}
    for amp in (1.0, 2.0, 4.0):
        def field(r, c, a=amp, period=192.0):
            return np.stack([a * np.sin(2 * np.pi * c / period) * np.cos(2 * np.pi * r / (1.3 * period)),
                             a * np.cos(2 * np.pi * r / period + 0.5) * np.sin(2 * np.pi * c / (1.7 * period))])
        frames, u = _known_pair(field)
        R["smooth"][f"{amp:g} px"] = row = {m: _endpoint(frames, u, m) for m in KNOWN_METHODS}
        print(f"amplitude {amp:g} px: " + "  ".join(f"{m} {r['median']:.2f} / {r['p95']:.2f}" for m, r in row.items()))


def run_clouds(R):
    """The real image shifted by :data:`CLOUD_SHIFT`, with 8 bright clouds (Gaussian blobs, sigma 18 px) on the
    second date at 4,000 and 8,000 (the land's brightest is about 4,100)."""
    print(f"\n## Clouds on the second date, real image shifted {CLOUD_SHIFT} px: endpoint error median / p95 (px)")
    frames, u = _known_pair(lambda r, c: np.stack([np.full_like(r, CLOUD_SHIFT[0]), np.full_like(c, CLOUD_SHIFT[1])]))
    h = w = KNOWN_SIZE
    r, c = np.mgrid[0:h, 0:w].astype(np.float64)
    rng, cloud = np.random.default_rng(0), np.zeros((h, w))
    for _ in range(8):
        cr, cc = rng.uniform(0, h, 2)
        cloud = np.maximum(cloud, np.exp(-((r - cr) ** 2 + (c - cc) ** 2) / (2 * 18**2)))
    R["clouds"] = {"cover_pct": float((cloud > 0.5).mean() * 100)}
    for peak in (None, 4000.0, 8000.0):
        f = frames.copy()
        if peak is not None:
            f[1] = frames[1] * (1 - cloud) + peak * cloud
        key = "no clouds" if peak is None else f"clouds {peak:g}"
        R["clouds"][key] = row = {m: _endpoint(f, u, m) for m in KNOWN_METHODS}
        print(f"{key:14s}: " + "  ".join(f"{m} {x['median']:.2f} / {x['p95']:.2f}" for m, x in row.items()))


def plot(R: dict, path: Path) -> None:
    from benchmarks.peers import pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(1, 3, figsize=(15, 4.6))
    res = R["synthetic"].get(256) or R["synthetic"]["256"]  # int keys in the run, str keys from results.json
    names = list(res)
    x = np.arange(len(names))
    ax[0].bar(x - 0.2, [res[n].get("buildings", {}).get("ds", np.nan) for n in names], 0.4, label="buildings")
    ax[0].bar(x + 0.2, [res[n].get("roads", {}).get("ds", np.nan) for n in names], 0.4, label="roads / crossings")
    ax[0].axhline(1.5, color="k", ls="--", lw=0.8, label="target 1.5 px")
    ax[0].set_xticks(x, names, rotation=60, ha="right", fontsize=7)
    ax[0].set(title="Synthetic 256 px: landmark ds (px)", yscale="log")
    stepsA = [k for k in R["steps"] if "affine" not in k]
    ax[1].plot(range(1, len(stepsA) + 1), [R["steps"][k]["all"]["ds"] for k in stepsA], marker="s", label="A & Φ (default)")
    steps = [k for k in R["steps"] if "affine" in k]
    ax[1].plot(range(1, len(steps) + 1), [R["steps"][k]["all"]["ds"] for k in steps], marker="o", label="Φ only")
    ax[1].set_yscale("log")
    ax[1].set(title="Multistep: ds vs T (256 px)", xlabel="T", ylabel="ds (px)")
    sp = R["speed"]
    ax[2].barh(list(sp), list(sp.values()))
    ax[2].set(title="Seconds per 256² pair (CPU, 1 thread)")
    for a in ax[:2]:
        a.grid(alpha=0.3)
    save_figure(fig, None, path, dpi=110)


if __name__ == "__main__":
    raise SystemExit(main())
