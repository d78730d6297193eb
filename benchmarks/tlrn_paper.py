"""Reproduce the TLRN paper's claims with our engines, beside ANTs SyN, in one run.

    python benchmarks/tlrn_paper.py [--quick] [--no-ants] [--out benchmarks/results/tlrn]

Prints tables and writes ``results.json`` + ``tlrn_paper.png`` into ``--out``:
1. lemniscate test split (sequences the models never saw): MSE per time step, TLRN vs VoxelMorph
   (the paper's Fig. 3), % non-positive Jacobian;
2. unseen cardiac phantoms: Dice / HD95 of the propagated myocardium per frame (Fig. 5), folding;
3. real cine MRI (Sunnybrook, ../shared/data): ED endocardium propagated to ES, Dice vs the expert;
4. inference speed on 8x64x64 and 30x128x128 (2 threads; CUDA too when present), ANTs per pair;
5. identity (``--sections identity``, not run by default): the field the models give a sequence of one frame
   repeated, where the truth is none, and what the two ways of removing that bias tried cost in Dice;
6. edpairs (``--sections edpairs``, not run by default): the 28 Sunnybrook ED/ES pairs given as two frames in pixels,
   as a bare two-page TIFF would come, registered by every engine (the Register dock's choice for two frames).
ANTs needs the bench extra (``pip install -e .[bench]``: antspyx pins numpy<2.4, scipy<1.16).
"""
from __future__ import annotations

import argparse
import builtins
import os
import functools
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import ants_registration, write_json  # noqa: E402
import napari_tlreg as tl  # noqa: E402
from napari_tlreg import metrics  # noqa: E402
from napari_tlreg.core.normalize import normalize_sequence  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
CARDIAC_TEST_SEED0 = 50_000  # training draws from default_rng([1234, rank, step]): disjoint
METHODS = ("tlrn", "voxelmorph")
#: the shipped models (fine-tuned on real cine too) and the synthetic-only ones they started from
VARIANTS = {"tlrn": ("tlrn", {}), "voxelmorph": ("voxelmorph", {}),
            "tlrn synth64": ("tlrn", {"weights": "tlrn_synth64"}), "voxelmorph synth64": ("voxelmorph", {"weights": "voxelmorph_synth64"})}


# ---- ANTs, converted to our conventions -----------------------------------------------------------
def have_ants() -> bool:
    try:
        import ants  # noqa: F401
    except ImportError:
        return False
    return True


def ants_register(frames: np.ndarray, reference: int = 0, labels_ref=None, syn="SyN", return_field: bool = False,
                  field_pad: int = 0, **options):
    """ANTs of the reference onto every frame: warped (T,H,W), labels (T,H,W)|None, jac (T,H,W), seconds.

    ``syn`` is ANTsPy's ``type_of_transform`` ("SyN" = its defaults, "SyNCC" = its SyN preset with the
    CC metric, "SyNOnly", ...); ``options`` go to ``ants.registration`` (e.g. ``syn_metric="CC"``).
    ``return_field=True`` adds a 5th item, the pull displacement (T,2,H,W) in our convention, read
    off by warping row/col coordinate images with the forward transforms (NaN where ANTs samples
    outside the image, which it fills with a constant); it is not part of the timing. ``field_pad`` > 0 reads it
    on coordinate images that reach that many pixels beyond the frame, so the field has a value where ANTs
    samples outside the frame too (NaN only beyond the pad).
    """
    import ants

    ref = ants.from_numpy(np.ascontiguousarray(frames[reference], dtype=np.float32))
    lab = None if labels_ref is None else ants.from_numpy(np.ascontiguousarray(labels_ref, dtype=np.float32))
    T = len(frames)
    warped = np.array(frames, dtype=np.float32, copy=True)
    labs = None if lab is None else np.repeat(np.asarray(labels_ref)[None], T, 0).astype(np.int32)
    jac = np.ones(frames.shape, np.float32)
    field = np.zeros((T, 2, *frames.shape[1:]), np.float32) if return_field else None
    if return_field:
        P = int(field_pad)
        rr, cc = np.meshgrid(np.arange(frames.shape[1], dtype=np.float32), np.arange(frames.shape[2], dtype=np.float32), indexing="ij")
        pr, pc = np.meshgrid(np.arange(-P, frames.shape[1] + P, dtype=np.float32),
                             np.arange(-P, frames.shape[2] + P, dtype=np.float32), indexing="ij")
        # +1 + P: 0 marks "outside" (beyond the pad); the padded images' origin sits P pixels before the frame's
        coords = [ants.from_numpy(np.ascontiguousarray(v + 1.0 + P), origin=(-float(P), -float(P))) for v in (pr, pc)]
    secs = 0.0
    for t in range(T):
        if t == reference:
            continue
        fixed = ants.from_numpy(np.ascontiguousarray(frames[t], dtype=np.float32))
        t0 = time.perf_counter()
        with ants_registration(fixed, ref, syn, **options) as reg:
            warped[t] = reg["warpedmovout"].numpy()
            if lab is not None:
                labs[t] = ants.apply_transforms(fixed, lab, reg["fwdtransforms"], interpolator="nearestNeighbor").numpy().round()
            jac[t] = ants.create_jacobian_determinant_image(fixed, reg["fwdtransforms"][0]).numpy()
            secs += time.perf_counter() - t0
            if return_field:
                for ch, grid in enumerate((rr, cc)):
                    pos = ants.apply_transforms(fixed, coords[ch], reg["fwdtransforms"], interpolator="linear").numpy()
                    field[t, ch] = np.where(pos > 0.5, pos - 1.0 - P - grid, np.nan)
    if return_field:
        return warped, labs, jac, secs, field
    return warped, labs, jac, secs


#: px beyond the frame on which :func:`ants_as_ours` reads ANTs' field
ANTS_FIELD_PAD = 32


def ants_as_ours(frames: np.ndarray, reference: int = 0, labels_ref=None, syn="SyN", **options):
    """:func:`ants_register` with its field read everywhere (coordinate images reaching :data:`ANTS_FIELD_PAD` px
    beyond the frame) and its warped frames made as ours are: the reference resampled through that field, bilinear,
    the border replicated. ANTs' own output fills 0 where it samples outside the frame, which, scored over the
    whole frame, would count against its image match what is only a border convention. Its labels stay ANTs' own
    (nearest neighbour through its transform). Returns ``(warped, labels, jac, seconds, field)``."""
    own, labs, jac, secs, field = ants_register(frames, reference, labels_ref, syn=syn, return_field=True,
                                                field_pad=ANTS_FIELD_PAD, **options)
    others = [t for t in range(len(frames)) if t != reference]
    warped = own.copy()
    read = np.isfinite(field[others]).all(1)  # beyond the pad: ANTs' own value
    warped[others] = np.where(read, tl.warp(frames[reference], np.nan_to_num(field[others])), own[others])
    return warped, labs, jac, secs, field


# ---- evaluations -----------------------------------------------------------------------------------
def evaluate_cardiac(method: str, n_sequences: int = 20, seed0: int = CARDIAC_TEST_SEED0, n_frames: int = 12, size: int = 64, **params) -> dict:
    """Unseen cardiac phantoms: myocardium (label 1) propagated from frame 0; per-frame Dice/HD95, folding, MSE."""
    from napari_tlreg.synth.cardiac import cardiac_phantom

    dice = np.zeros((n_sequences, n_frames))
    hd95 = np.zeros((n_sequences, n_frames))
    fold, mse, secs = [], np.zeros((n_sequences, n_frames)), 0.0
    for i in range(n_sequences):
        seq = cardiac_phantom(n_frames=n_frames, size=size, seed=seed0 + i)
        gt = seq.labels == 1
        if method == "none":
            prop = np.repeat(gt[:1], n_frames, 0)
            warped, f = np.repeat(normalize_sequence(seq.frames)[:1], n_frames, 0), 0.0
            frames_n = normalize_sequence(seq.frames)
        elif method == "ants":
            frames_n = normalize_sequence(seq.frames)
            # scored as ours: its field read everywhere, the reference resampled through it (not ANTs' zero-filled output)
            warped, labs, jac, s, _ = ants_as_ours(frames_n, 0, gt[0].astype(np.int32))
            prop, f, secs = labs == 1, float((jac[1:] <= 0).mean() * 100), secs + s
        else:
            res = tl.register(seq.frames, method=method, **params)
            prop = res.warp_labels(gt.astype(np.int32)[0]) == 1
            warped, frames_n, f, secs = res.warped, res.frames, float(res.folding_pct[1:].mean()), secs + res.runtime_s
        fold.append(f)
        for t in range(n_frames):
            dice[i, t] = metrics.dice(prop[t], gt[t])
            hd95[i, t] = metrics.hausdorff(prop[t], gt[t], percentile=95)
            mse[i, t] = metrics.mse(warped[t], frames_n[t])
    return {
        "method": method, "n_sequences": n_sequences, "n_frames": n_frames,
        "dice_per_frame": dice.mean(0).tolist(), "hd95_per_frame": hd95.mean(0).tolist(),
        "dice_mean": float(dice[:, 1:].mean()), "dice_min_frame": float(dice[:, 1:].mean(0).min()),
        "hd95_mean": float(hd95[:, 1:].mean()), "folding_pct": float(np.mean(fold)),
        "mse_mean": float(mse[:, 1:].mean()), "seconds_per_sequence": secs / n_sequences,
    }


def evaluate_lemniscate(method: str, n_sequences: int = 200, n_frames: int = 12, **params) -> dict:
    """Lemniscate test split: MSE per time step and folding (the paper's Fig. 3 and Table)."""
    from napari_tlreg.synth.lemniscate import lemniscate_split

    mse = np.zeros((n_sequences, n_frames))
    fold = []
    for i in range(n_sequences):
        seq = lemniscate_split("test", i, n_frames=n_frames)
        frames = normalize_sequence(seq.frames)
        if method == "none":
            warped = np.repeat(frames[:1], n_frames, 0)
            f = 0.0
        elif method == "ants":
            warped, _, jac, _, _ = ants_as_ours(frames, 0)  # scored as ours (see evaluate_cardiac)
            f = float((jac[1:] <= 0).mean() * 100)
        else:
            res = tl.register(seq.frames, method=method, **params)
            warped, f = res.warped, float(res.folding_pct[1:].mean())
        mse[i] = ((warped - frames) ** 2).mean(axis=(1, 2))
        fold.append(f)
    return {"method": method, "n_sequences": n_sequences, "mse_per_step": mse.mean(0).tolist(),
            "mse_mean": float(mse[:, 1:].mean()), "folding_pct": float(np.mean(fold)),
            "folding_std": float(np.std(fold))}


def sunnybrook_cases():
    """(name, cine (20,H,W), ed, es, endo_ed, endo_es) for every slice with both contours."""
    for path in sorted(SHARED.glob("sunnybrook/SCD*_crop128.npz")):
        d = np.load(path)
        for s in range(d["cine"].shape[0]):
            idx = np.flatnonzero(d["has_endo"][s])
            if len(idx) != 2:
                continue
            areas = [d["endo"][s, i].sum() for i in idx]
            ed, es = (idx[0], idx[1]) if areas[0] >= areas[1] else (idx[1], idx[0])
            yield f"{path.stem.split('_')[0]}/s{s}", d["cine"][s].astype(np.float32), int(ed), int(es), d["endo"][s, ed], d["endo"][s, es]


def evaluate_sunnybrook(method: str, limit: int | None = None, **params) -> dict:
    dices, names, secs = [], [], 0.0
    for k, (name, cine, ed, es, endo_ed, endo_es) in enumerate(sunnybrook_cases()):
        if limit is not None and k >= limit:
            break
        lab = endo_ed.astype(np.int32)
        if method == "none":
            prop = lab
        elif method == "ants":
            frames = normalize_sequence(cine)
            pair = frames[[ed, es]]
            _, labs, _, s = ants_register(pair, 0, lab)
            prop, secs = labs[1], secs + s
        else:
            res = tl.register(cine, method=method, reference=ed, **params)
            prop, secs = res.warp_labels(lab)[es], secs + res.runtime_s
        dices.append(metrics.dice(prop > 0, endo_es))
        names.append(name)
    by_patient = {p: float(np.mean([d for n, d in zip(names, dices) if n.startswith(p + "/")]))
                  for p in sorted({n.split("/")[0] for n in names})}
    return {"method": method, "params": params, "n_cases": len(dices), "dice_mean": float(np.mean(dices)) if dices else float("nan"),
            "dice_per_case": dict(zip(names, map(float, dices))), "dice_by_patient": by_patient,
            "seconds_per_case": secs / max(len(dices), 1)}


def speed(method: str, shape, repeats: int = 5, device: str = "cpu") -> float:
    """Median wall time (s) of ``tl.register`` on a random-phantom sequence of ``shape`` (after one warm-up)."""
    from napari_tlreg.synth.cardiac import cardiac_phantom

    T, H, W = shape
    frames = cardiac_phantom(n_frames=T, size=H, seed=7).frames
    tl.register(frames, method=method, device=device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        tl.register(frames, method=method, device=device)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def ants_speed(shape, pairs: int = 3) -> float:
    from napari_tlreg.synth.cardiac import cardiac_phantom

    T, H, W = shape
    frames = normalize_sequence(cardiac_phantom(n_frames=T, size=H, seed=7).frames)
    _, _, _, s = ants_register(frames[: pairs + 1], 0)
    return s / pairs  # seconds per pair


# ---- report ----------------------------------------------------------------------------------------
def main(argv=None) -> int:
    import torch

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer sequences (a few minutes)")
    ap.add_argument("--no-ants", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "tlrn"))
    ap.add_argument("--threads", type=int, default=2, help="torch threads (ANTs/ITK get the same)")
    ap.add_argument("--sections", default="lemniscate,cardiac,sunnybrook,speed",
                    help="comma-separated subset; results of other sections already in --out are kept")
    args = ap.parse_args(argv)
    sections = set(args.sections.split(","))
    torch.set_num_threads(args.threads)
    os.environ["ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"] = str(args.threads)
    use_ants = have_ants() and not args.no_ants
    if use_ants:
        import ants.config

        ants.config._random_seed = 1234  # ANTs samples its affine metric at random: make reruns repeatable
    # ANTs runs on the same cardiac phantoms as ours (~0.6 s a sequence); lemniscate: a subset
    n_lem, n_card, ants_lem, ants_card = (40, 8, 5, 8) if args.quick else (200, 30, 20, 30)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    prev = out / "results.json"
    R: dict = json.loads(prev.read_text()) if prev.is_file() else {}
    R.update({"torch": torch.__version__, "threads": torch.get_num_threads(), "ants": use_ants})
    print = functools.partial(builtins.print, flush=True)  # noqa: A001 - progress visible when piped

    if "lemniscate" in sections:
        run_lemniscate(R, n_lem, ants_lem if use_ants else 0, print)
    if "cardiac" in sections:
        run_cardiac(R, n_card, ants_card if use_ants else 0, print)
    if "sunnybrook" in sections and SHARED.is_dir():
        run_sunnybrook(R, use_ants, print)
    if "speed" in sections:
        run_speed(R, use_ants, print)
    if "identity" in sections and SHARED.is_dir():
        run_identity(R, print)
    if "edpairs" in sections and SHARED.is_dir():
        run_edpairs(R, print)
    write_json(out / "results.json", R)
    if "lemniscate" in R and "cardiac" in R:
        plot(R, out / "tlrn_paper.png")
    print(f"\nwrote {out / 'results.json'} and {out / 'tlrn_paper.png'}")
    return 0


def run_lemniscate(R, n_lem, n_ants, print):
    print(f"\n## Lemniscate test split ({n_lem} sequences x 12 frames, 64x64)")
    R["lemniscate"] = {"none": evaluate_lemniscate("none", n_lem)}
    R["lemniscate"].update({k: evaluate_lemniscate(m, n_lem, **p) for k, (m, p) in VARIANTS.items()})
    if n_ants:
        R["lemniscate"]["ants"] = evaluate_lemniscate("ants", n_ants)
    print(f"{'method':18s} {'MSE (x1e-3) per step t=1..11':70s} {'mean':>7s} {'fold %':>7s}")
    for m, r in R["lemniscate"].items():
        steps = " ".join(f"{1e3 * v:5.2f}" for v in r["mse_per_step"][1:])
        print(f"{m:18s} {steps:70s} {1e3 * r['mse_mean']:7.3f} {r['folding_pct']:7.3f}")


def run_cardiac(R, n_card, n_ants, print):
    print(f"\n## Unseen cardiac phantoms ({n_card} sequences x 12 frames, 64x64): propagated myocardium")
    R["cardiac"] = {"none": evaluate_cardiac("none", n_card)}
    R["cardiac"].update({k: evaluate_cardiac(m, n_card, **p) for k, (m, p) in VARIANTS.items()})
    if n_ants:
        R["cardiac"]["ants"] = evaluate_cardiac("ants", n_ants)
    print(f"{'method':18s} {'Dice':>6s} {'worst-frame Dice':>16s} {'HD95 px':>8s} {'fold %':>7s} {'s/seq':>7s}")
    for m, r in R["cardiac"].items():
        print(f"{m:18s} {r['dice_mean']:6.3f} {r['dice_min_frame']:16.3f} {r['hd95_mean']:8.2f} {r['folding_pct']:7.3f} {r['seconds_per_sequence']:7.3f}")


def run_sunnybrook(R, use_ants, print):
    print("\n## Real cine MRI (Sunnybrook, 3 patients): ED endocardium propagated to ES, Dice vs expert")
    R["sunnybrook"] = {"none": evaluate_sunnybrook("none")}
    for k, (m, p) in VARIANTS.items():
        R["sunnybrook"][k] = evaluate_sunnybrook(m, **p)  # auto scale: 128 px -> the 64 px training size
        if not p:
            R["sunnybrook"][f"{k} scale=1"] = evaluate_sunnybrook(m, scale=1.0)
    if use_ants:
        R["sunnybrook"]["ants"] = evaluate_sunnybrook("ants")
    patients = list(R["sunnybrook"]["none"]["dice_by_patient"])
    print(f"{'method':22s} {'cases':>5s} {'Dice':>6s} " + " ".join(f"{p:>11s}" for p in patients) + f" {'s/case':>7s}")
    for m, r in R["sunnybrook"].items():
        per = " ".join(f"{r['dice_by_patient'][p]:11.3f}" for p in patients)
        print(f"{m:22s} {r['n_cases']:5d} {r['dice_mean']:6.3f} {per} {r['seconds_per_case']:7.3f}")


def identity_cases():
    """(name, frame) of three frames to repeat: the bundled cardiac sample's first (synthetic, noisy, 128 px), a real
    short-axis cine's end-diastole (Sunnybrook SCD0000101 slice 6, 128 px) and a real long-axis cine's first (the
    multi-frame DICOM, 256 px: run at 64 px, so a bias at the network's grid is four times as large)."""
    yield "cardiac sample", tl.load_sequence("cardiac").frames[0]
    d = np.load(SHARED / "sunnybrook" / "SCD0000101_crop128.npz")
    yield "Sunnybrook SCD0000101 s6 ED", d["cine"][6, int(np.argmax(d["endo"][6].sum(axis=(1, 2))))].astype(np.float32)
    yield "DICOM long axis (256 px)", tl.load_sequence(SHARED / "dicom" / "heart_cine_multiframe_16x256x256.dcm").frames[0]


def _bias_free_velocities(mode: str):
    """``predict_velocities`` with the networks' bias taken out, two ways: ``antisymmetric``, half the difference of
    the velocities of (reference, frame) and (frame, reference); ``null``, the velocity of (reference, frame) less
    that of (frame, frame). Each is zero on identical frames, and costs a second pass."""
    import torch

    from napari_tlreg.engines import tlrn as T

    def step(net, a, b, state, t0):  # TLRNNet.step with the pair's two images given separately
        bb, k, h, w = b.shape
        z, skips = net.unet.encode(torch.stack([a, b], 2).reshape(bb * k, 2, h, w))
        zs = z.reshape(bb, k, *z.shape[1:])
        if net.residual:
            out = []
            for i in range(k):
                prev = out[-1] if out else state
                out.append(zs[:, i] if t0 + i == 0 else net.units[0](prev, zs[:, i]))
            zs = torch.stack(out, 1)
            z = zs.reshape(bb * k, *z.shape[1:])
        v = net.unet.decode(z, skips)
        return v.reshape(bb, k, *v.shape[1:]), zs[:, -1]

    def predict(net, frames, reference, ctx=None, block=T.PREDICT_BLOCK):
        assert net.shared, "the shipped models share one temporal unit"
        t, h, w = frames.shape
        m = net.unet.multiple
        ph, pw = (-h) % m, (-w) % m
        x = torch.nn.functional.pad(frames[None], (0, pw, 0, ph), mode="replicate")[0] if (ph or pw) else frames
        f = 2**net.unet.flow_level
        v = torch.zeros(t, 2, (h + ph) // f, (w + pw) // f, dtype=frames.dtype, device=frames.device)
        ref = x[reference][None, None]
        for chain in T.time_chains(t, reference):
            fwd = other = None
            for start in range(0, len(chain), block):
                idx = chain[start:start + block]
                fr = x[idx][None]
                out, fwd = step(net, ref.expand_as(fr), fr, fwd, start)
                if mode == "antisymmetric":
                    back, other = step(net, fr, ref.expand_as(fr), other, start)
                    v[idx] = 0.5 * (out[0] - back[0])
                else:
                    same, other = step(net, fr, fr, other, start)
                    v[idx] = out[0] - same[0]
        return v

    return predict


def run_identity(R, print):
    """The field on one frame repeated (the truth: none), and the Dice of the bias-free variants beside the models'."""
    from napari_tlreg.engines import tlrn as T

    print("\n## Identity: one frame repeated 4 times (the true field is 0); mean displacement (row, col) and mean |u|, px")
    R["identity"] = {"cases": {}, "variants": {}}
    for name, frame in identity_cases():
        R["identity"]["cases"][name] = row = {}
        for method in (*METHODS, "nmsr"):  # nmsr: fitted to the frames in front of it, beside the trained models
            res = tl.register(np.stack([frame] * 4), method=method)
            u = res.displacement[1:]
            row[method] = {"mean_row": float(u[:, 0].mean()), "mean_col": float(u[:, 1].mean()),
                           "mean_abs": float(np.abs(u).mean()), "scale": res.params.get("scale")}  # nmsr: none
            scale = "-" if row[method]["scale"] is None else f"{row[method]['scale']:.2f}"
            print(f"{name:28s} {method:10s} scale {scale:4s}  mean ({row[method]['mean_row']:+.3f}, "
                  f"{row[method]['mean_col']:+.3f})  |u| {row[method]['mean_abs']:.3f}")
    print(f"\n{'variant':24s} {'identity |u|':>12s} {'Sunnybrook Dice':>15s} {'phantoms Dice':>13s}")
    frame = next(identity_cases())[1]
    original = T.predict_velocities
    for mode in ("models", "antisymmetric", "null"):
        for method in METHODS:
            T.predict_velocities = original if mode == "models" else _bias_free_velocities(mode)
            try:
                u = tl.register(np.stack([frame] * 4), method=method).displacement[1:]
                sb, card = evaluate_sunnybrook(method), evaluate_cardiac(method, 20)
            finally:
                T.predict_velocities = original
            key = f"{method} {mode}"
            R["identity"]["variants"][key] = {"identity_abs": float(np.abs(u).mean()), "sunnybrook": sb["dice_mean"],
                                              "phantoms": card["dice_mean"]}
            print(f"{key:24s} {np.abs(u).mean():12.3f} {sb['dice_mean']:15.4f} {card['dice_mean']:13.4f}")


def run_edpairs(R, print):
    """Each Sunnybrook slice's ED and ES frames alone, in pixels (no pixel size): the ED endocardium propagated to ES."""
    engines = ("tlrn", "voxelmorph", "hsyn", "multistep", "nmsr")
    dice: dict[str, list[float]] = {m: [] for m in ("none", *engines)}
    for _name, cine, ed, es, endo_ed, endo_es in sunnybrook_cases():
        lab = endo_ed.astype(np.int32)
        dice["none"].append(metrics.dice(lab > 0, endo_es))
        for m in engines:
            res = tl.register(cine[[ed, es]], method=m)
            dice[m].append(metrics.dice(res.warp_labels(lab)[1] > 0, endo_es))
    none = np.array(dice["none"])
    R["edpairs"] = {m: {"dice_mean": float(np.mean(d)), "worse_than_none": int(np.sum(np.array(d) < none)),
                        "n_cases": len(d)} for m, d in dice.items()}
    print("\n## Sunnybrook ED/ES pairs as two frames in pixels: ED endocardium propagated to ES, Dice vs expert")
    for m, r in R["edpairs"].items():
        print(f"{m:12s} {r['dice_mean']:.4f}  below none on {r['worse_than_none']} of {r['n_cases']}")


def run_speed(R, use_ants, print):
    """Median ``tl.register`` time per sequence beside ANTs SyN, both on the same thread count.

    Results go to ``R["speed"]["<n> thread(s)"]`` so runs with ``--threads 1`` and ``--threads 2`` sit side by side.
    """
    import torch

    threads = torch.get_num_threads()
    print(f"\n## Inference speed (median of 5, seconds per sequence, {threads} thread(s) for torch and ITK)")
    rows = {}
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for shape in ((8, 64, 64), (30, 128, 128)):
        key = "x".join(map(str, shape))
        if use_ants:
            ants_speed(shape, pairs=1)  # warm-up: ANTs' first call loads its libraries
        row = {f"{m}_{d}": speed(m, shape, device=d) for m in METHODS for d in devices}
        if use_ants:
            per_pair = ants_speed(shape)
            row["ants_per_pair"] = per_pair
            row["ants_sequence"] = per_pair * (shape[0] - 1)
            for m in METHODS:
                row[f"ratio_ants_over_{m}"] = row["ants_sequence"] / row[f"{m}_cpu"]
        rows[key] = row
        print(key, "  ".join(f"{k}={v:.4f}" for k, v in row.items()))
    speed_r = R.get("speed", {})
    if "threads" in speed_r:  # results of the older layout: one thread count at the top level
        speed_r = {}
    speed_r[f"{threads} thread(s)"] = rows
    R["speed"] = speed_r


def plot(R: dict, path: Path) -> None:
    from benchmarks.peers import pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(1, 3, figsize=(14, 4.2))
    for m, r in R["lemniscate"].items():
        ax[0].plot(range(1, 12), [1e3 * v for v in r["mse_per_step"][1:]], marker="o", label=m, ls="--" if "synth" in m else "-")
    ax[0].set(title="Lemniscate test: MSE per time step", xlabel="t", ylabel="MSE x 1e-3 (log)", yscale="log")
    for m, r in R["cardiac"].items():
        ls = "--" if "synth" in m else "-"
        ax[1].plot(range(len(r["dice_per_frame"])), r["dice_per_frame"], marker="o", label=m, ls=ls)
        ax[2].plot(range(len(r["hd95_per_frame"])), r["hd95_per_frame"], marker="o", label=m, ls=ls)
    ax[1].set(title="Cardiac phantoms: Dice of propagated myocardium", xlabel="t", ylim=(0.5, 1.0))
    ax[2].set(title="Cardiac phantoms: HD95 (px)", xlabel="t")
    for a in ax:
        a.grid(alpha=0.3)
    save_figure(fig, None, path, dpi=110)


if __name__ == "__main__":
    raise SystemExit(main())
