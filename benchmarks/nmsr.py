"""NMSR beside ANTs SyN, in one run: accuracy, folding and wall time on this CPU.

    python benchmarks/nmsr.py [--quick] [--no-ants] [--threads N] [--profile] [--out benchmarks/results/nmsr]

Prints tables and writes ``results.json`` + ``nmsr.png`` into ``--out``:
1. synthetic sequences with ground truth the warm-start weights never saw: the bundled ``echo``
   (24x128x128, seed 0, the sector as mask) and cardiac phantoms with seeds >= 50000 (12x64x64):
   MSE and mean local CC (radius 10) of the warped reference against every frame inside the mask,
   Dice of the propagated labels (mean of the two labels, all frames), endpoint error of the field
   against the ground truth (px, inside the mask), folding %, wall time;
   ("bias px": a shift common to the whole frame, the norm of the mean of field - truth;
   "EPE out": endpoint error on the LV wall's outer boundary; "twist %": the share of the true motion
   around the LV centre that the field has there, where the phantoms' twist shows);
   rows for the default, without ``noise_compensation``, with the paper's one shared network
   (``PAPER_SHARED``: the engine's defaults before 2026-12-01) and with ``smooth=1``;
2. where the similarity is best ("landscape"): global sub-pixel shifts of the true field on the
   phantoms, plain LNCC vs LNCC with ``noise_compensation``;
3. consecutive pairing (the paper's dense tracking) with and without ``noise_compensation``;
4. the paper's variants (plain NMSR, NMSR_V, NMSR_VI, both) and both pairings;
5. cold start on 8x64x64 in a fresh process (import + weights + optimisation);
6. "fresh": 8 more phantoms (seeds 60,000+) that nobody looked at when the defaults were chosen on
   the first 8: the default, without noise compensation, the paper's shared network and SyN-CC;
   "heldout": the defaults, fixed before it was first run, on 8 phantoms (seeds 70,000+) and 2 synthetic
   echoes like the bundled one (seeds 70,000 and 70,001), beside SyN-CC: per case, where NMSR is worse;
7. real sequences: the pydicom apical echo (30x240x320, MSE / local CC in the fan; "realsub": its
   first 6 frames with NMSR's smoothness weight swept beside SyN and SyN-CC, local CC read against
   the field's roughness in space and time, ``roughness``, plotted in ``nmsr_real.png``; "realcc": the
   whole clip again, NMSR's defaults and then SyN-CC in the same process, for their times side by side) and
   Sunnybrook cine MRI (ED endocardium propagated to ES, Dice vs the expert contour; the pair also
   with ``smooth=10``, the noisy frames' λ, where the defaults take λ = 3 on these clean frames);
   "noise": the white-noise share of every case's frames, from which NMSR picks λ (and on the
            phantoms, whose noise is known, the estimate against the truth);
8. "pace": wall time where NMSR and SyN-CC are close (the real echo's first 6 frames, and the phantoms
   60001, 60002 and 60004, whose times were above or level with SyN-CC's in one run), over ``--rounds``
   rounds: each round runs both, one after the other, the first of the pair alternating, so that a busy
   spell of this shared machine slows both; the median of the rounds' time ratios (NMSR / SyN-CC).
   Without ANTs: NMSR's times;
9. "radius": the loss's window radius, the paper's 6 (the default) against ANTs' 4 (its SyN-CC preset),
   NMSR's defaults otherwise, on the bundled echo, the 16 phantoms, the real echo's first 6 frames and the
   Sunnybrook ED,ES pairs; per radius, on how many phantoms and slices NMSR's Dice is at least SyN-CC's
   (SyN-CC's Dice read from the synthetic, fresh and sunnybrook sections of the same results.json);
10. "symmetric": NMSR's defaults beside ``symmetric=True`` (the loss taken both ways) at the finest scale (the
    option's ``symmetric_from=1``) and at every scale (``symmetric_from=0``), one after the other on each case: the
    bundled echo, the 16 phantoms, the 8 held-out phantoms (summed up on their own), the Sunnybrook ED,ES pairs and
    the real echo's first 6 frames (no ground truth: similarity and roughness); per row, on how many phantoms and
    slices the Dice is at least SyN-CC's (from the synthetic, fresh, heldout and sunnybrook sections of the same
    results.json), and each row's time over the defaults';
11. "objective": per phantom (16 + the 8 held out), NMSR's field against the true one on what NMSR optimises:
    the noise-compensated similarity (−LNCC r6, full resolution) of the reference warped by each and the
    smoothness (Grad_l2) of each whole field, beside both methods' Dice: where NMSR's similarity is worse than
    the truth's the smoothness term held it back, where it is better NMSR fits the frames beyond the motion;
12. "seeds": SyN-CC's spread over ANTs' random seeds (``ANTS_SEEDS``; its rigid and affine stages sample
    their metric at random, and the other sections fix the seed at 1234) on the 24 phantoms (8 + 8 fresh +
    8 held out), beside NMSR's Dice from the synthetic, fresh and heldout sections of the same results.json
    (NMSR's defaults start from shipped weights: no seed enters them). Per phantom the Dice of each seed, and on
    how many phantoms NMSR's Dice is at least SyN-CC's highest over the seeds, its median and its lowest
    (``--seed-phantoms``: some of the phantoms only, the others keeping their figures);
13. "edges": NMSR's defaults beside ``edge_weight=1`` (λ lowered at the fixed frame's edges at the finest scale), one
    after the other on each case of the symmetric section (the bundled echo, the 16 phantoms, the 8 held-out ones, the
    Sunnybrook ED,ES pairs and the real echo's first 6 frames), summed up as there;
14. "cubic": NMSR's defaults beside ``interpolation="cubic"`` (the loss resamples the moving frame with a cubic
    kernel at the finest scale), alone and with ``edge_weight=1``, on the cases of the edges section, summed up as there;
15. "cubicpace": the pace section's rounds with the cubic section's ``interpolation="cubic", edge_weight=1`` row timed
    in each round as well, between NMSR's defaults and SyN-CC (its own ratios to SyN-CC);
16. "spread": NMSR's Dice on the 24 phantoms of the seeds section under 6 perturbations of the frames (white noise of
    σ = 1e-4, 1 % of the phantoms' own noise or less), with the defaults and the cubic candidate: per phantom and row
    the min / median / max, beside SyN-CC's over its seeds (from the seeds section); ``--seed-phantoms`` as there;
17. "truth": the true motion scored as a registration beside NMSR's defaults and SyN-CC on every synthetic case of
    sections 1 and 6 (the bundled echo, the 24 phantoms, the 2 held-out echoes), on the frames and on the same
    sequences without their noise (:func:`noise_free`): MSE and local CC against noisy frames reward a field that
    smooths the reference's own noise away, and there the true motion scores worse than NMSR on nearly every phantom
    and worse than SyN-CC on about half of them (the twentieth run: 22 and 23, 12 and 14 of the 24, MSE and LCC10);
    ``--truth-cases``: some of the cases only, by name, merged with the stored ones;
18. "sunnyspread": the sunnybrook section's ED,ES pairs under SyN-CC's 7 ANTs seeds (the seeds section's) and NMSR's
    6 perturbations (the spread section's, σ relative to each pair's intensity range): per slice both methods' min /
    median / max, checked against the sunnybrook section's figures (seed 1234, no perturbation); on how many slices
    NMSR's median is at least SyN-CC's and on which NMSR's highest is below SyN-CC's lowest; ``--sunny-part K/N``:
    every N-th slice from the K-th, the others keeping their figures;
19. "cpucheck": NMSR's defaults and SyN-CC once more on the cases of sections 1 (the bundled echo, 8 phantoms) and
    6 (8 fresh, 8 held-out phantoms, 2 held-out echoes) and on the Sunnybrook ED,ES pairs, on this machine's CPU,
    beside the stored rows of those sections (made on another CPU: ``cpu`` in results.json; this run's is
    ``cpu_of_the_last_partial_run``): per figure, where NMSR is worse than SyN-CC here and there, and the cases whose
    verdict changed (:func:`cpu_verdicts`);
20. "maskscale": NMSR's masked cases (the bundled echo, the 2 held-out echoes, the real echo's first 6 frames and its
    whole clip) since ``tl.register`` scales their intensities from the percentiles inside the mask (2026-12-07;
    before, the whole frame's): NMSR's defaults now, NMSR given the frames scaled the earlier way (the whole frame's
    percentiles; register's scale inside the mask is then the identity on these cases, checked) and SyN-CC given the
    frames as NMSR scales them now; each row scored on the frames it was given (MSE is not comparable between the two
    scales, LCC10, Dice and EPE are), and per figure the cases where NMSR's defaults are worse than SyN-CC
    (:func:`mask_verdicts`); ``--mask-cases synthetic|real``: some of the cases only, merged with the stored ones;
21. ``--profile``: where the time of one echo registration goes (torch.profiler).

``--nmsr KEY=VALUE`` (repeatable) sets an option every NMSR row starts from instead of the engine's default (a row's
own options still win). The engine's defaults have been ``interpolation="cubic"``, ``edge_weight=1`` since the
eighteenth run; sections 9-16 (the option studies: every "defaults" row in them, and the rows that add one option)
ran with the earlier defaults, ``--nmsr interpolation=linear --nmsr edge_weight=0``, which reproduces them.

ANTs (``.venv-bench``: antspyx) runs in the same process with the same thread count
(``ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS``): "SyN" = ANTsPy's defaults (affine + SyN, MI),
"SyNCC" = ANTsPy's CC preset (rigid + affine + SyN[0.15,3,0] with CC radius 4, 2100x1200x1200x20).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import write_json  # noqa: E402
import napari_tlreg as tl  # noqa: E402
from napari_tlreg import metrics  # noqa: E402
from napari_tlreg.api import method_params  # noqa: E402
from napari_tlreg.cli import parse_params  # noqa: E402
from napari_tlreg.core.normalize import normalize_sequence  # noqa: E402
from napari_tlreg.engines import get_engine  # noqa: E402
from napari_tlreg.engines.nmsr import CLEAN_NOISE  # noqa: E402

from benchmarks.tlrn_paper import SHARED, ants_as_ours, ants_register, have_ants, sunnybrook_cases  # noqa: E402

PHANTOM_SEED0 = 50_000
ANTS = {"ants SyN": dict(syn="SyN"), "ants SyNCC": dict(syn="SyNCC")}
#: the options every NMSR row starts from on top of the engine's defaults (``--nmsr``)
NMSR_DEFAULT: dict = {}


# ---- cases ---------------------------------------------------------------------------------------
def labelled_case(name: str, seq, mask, recipe: tuple[str, dict] | None = None) -> dict:
    """A synthetic sequence with labels (LV wall 1, cavity 2) and ground truth as a benchmark case.

    ``recipe``: the generator (``"cardiac"`` or ``"echo"``) and its arguments, from which :func:`noise_free`
    makes the same sequence without its noise."""
    return {"name": name, "frames": seq.frames, "labels": seq.labels.astype(np.int32),
            "gt": seq.metadata["displacement"], "mask": mask, "label_ids": (1, 2), "recipe": recipe}


def echo_case():
    from napari_tlreg.io.bundled import RECIPES

    seq = tl.load_sequence("echo")
    return labelled_case("echo (bundled)", seq, seq.metadata["mask"], ("echo", dict(RECIPES["echo"][1])))


def phantom_case(i: int, n_frames: int = 12, size: int = 64):
    from napari_tlreg.synth.cardiac import cardiac_phantom

    kw = dict(n_frames=n_frames, size=size, seed=PHANTOM_SEED0 + i)
    seq = cardiac_phantom(**kw)
    return {**labelled_case(f"phantom {PHANTOM_SEED0 + i}", seq, None, ("cardiac", kw)),
            "noise_sigma": seq.metadata["params"]["noise"]}


def noise_free(case: dict) -> np.ndarray:
    """``case``'s frames without their noise: its generator and seed again with the noise off (the phantoms' Rician
    noise, the echoes' fresh speckle: both drawn after the geometry and the motion, so nothing else changes; checked
    against the case's true motion, labels and anatomy: a phantom's frames differ from these by noise of the case's
    sigma, an echo's reference frame, whose speckle is not fresh, correlates with this one's). Intensities as
    generated, in [0, 1]."""
    from napari_tlreg.synth.cardiac import cardiac_phantom
    from napari_tlreg.synth.echo import echo_sequence

    kind, kw = case["recipe"]
    seq = cardiac_phantom(**kw, noise=0.0) if kind == "cardiac" else echo_sequence(**kw, decorrelation=0.0)
    n = len(case["frames"])
    # the bundled echo's file holds the motion in float16's precision
    if not np.allclose(seq.metadata["displacement"][:n], case["gt"], atol=1e-2):
        raise RuntimeError(f"{case['name']}: the noise-free sequence does not move as the case does")
    clean, frames = seq.frames[:n], np.asarray(case["frames"], np.float32)
    if kind == "cardiac":  # Rician noise of the case's sigma, and nothing else
        sigma = case.get("noise_sigma") or 0.0
        same = 0.5 * sigma < float((frames - clean).std()) < 2.0 * sigma
    else:  # the same anatomy and speckle in the reference frame (its speckle is the sequence's, not fresh)
        inside = case["mask"] if case.get("mask") is not None else np.ones(frames.shape[1:], bool)
        same = float(np.corrcoef(frames[0][inside], clean[0][inside])[0, 1]) > 0.95
    if not same or (case.get("labels") is not None and not np.array_equal(seq.labels[:n], case["labels"])):
        raise RuntimeError(f"{case['name']}: the noise-free sequence does not show the case's anatomy")
    return clean


#: the figures a case is judged on: higher is better, but for the endpoint error
WORSE_IF = {"dice": np.less, "lncc10": np.less, "mse": np.greater, "epe_px": np.greater}


def worse_cases(per_case: dict[str, dict[str, dict]], ours: str = "nmsr", theirs: str = "ants SyNCC",
                figures: dict | None = None) -> dict[str, list[str]]:
    """Per figure of ``figures`` (default :data:`WORSE_IF`: name -> the comparison that says worse), the cases where
    ``ours`` is worse than ``theirs`` (ties are not worse)."""
    return {k: [n for n, rows in per_case.items() if bool(worse(rows[ours][k], rows[theirs][k]))]
            for k, worse in (WORSE_IF if figures is None else figures).items()}


def echo_case_seed(seed: int, n_frames: int = 24, size: int = 128) -> dict:
    """A synthetic echo like the bundled one (24x128x128), another seed, scored in its sector."""
    from napari_tlreg.synth.echo import echo_sequence

    kw = dict(n_frames=n_frames, size=size, seed=seed)
    seq = echo_sequence(**kw)
    return labelled_case(f"echo {seed}", seq, seq.metadata["mask"], ("echo", kw))


def first_frames(case: dict, n: int = 3) -> dict:
    """The case cut to its first ``n`` frames (``--smoke``)."""
    return {**case, "frames": case["frames"][:n], "labels": case["labels"][:n], "gt": case["gt"][:n]}


def real_echo_mask(frames: np.ndarray, region=None) -> np.ndarray:
    """The ultrasound fan of a real clip: the convex hull of the largest ever-bright region, eroded 2 px
    (:func:`napari_tlreg.core.region.signal_region`, which the DICOM readers give real echo clips)."""
    from napari_tlreg.core.region import signal_region

    return signal_region(frames, region)


def real_echo_clip(n: int | None = None) -> dict:
    """The real echo's first ``n`` frames (``None``: the whole clip), in the fan of those frames (the real and realcc sections)."""
    seq = tl.load_sequence("echo_real")
    frames = seq.frames[:n]
    return {"name": "echo_real", "frames": frames, "mask": real_echo_mask(frames, seq.metadata.get("ultrasound_region_rc")),
            "labels": None, "gt": None}


def real_echo_head(n: int) -> dict:
    """The real echo's first ``n`` frames, in the fan of the whole clip (the realsub, pace and radius sections)."""
    clip = real_echo_clip()
    return {**clip, "name": f"echo_real 0-{n - 1}", "frames": clip["frames"][:n]}


# ---- scoring -------------------------------------------------------------------------------------
def score(frames_n, warped, labels_prop, labels, jac, field, gt, mask, label_ids, reference=0, clean=None) -> dict:
    """The figures of one registration (``clean``: the case's :func:`noise_free` frames, for ``mse_clean`` and
    ``lncc10_clean``: the noise-free reference through the same field against the noise-free frames)."""
    T = len(frames_n)
    others = [t for t in range(T) if t != reference]
    m = np.ones(frames_n.shape[1:], bool) if mask is None else mask
    out = {
        "mse": float(metrics.mse(warped[others], frames_n[others], mask=m)),
        "lncc10": float(metrics.lncc(warped[others], frames_n[others], radius=10, mask=m)),
        "folding_pct": float((jac[others] <= 0).mean() * 100),
    }
    if clean is not None and field is not None:
        w = np.asarray(tl.warp(clean[reference], np.nan_to_num(field[others])))
        out["mse_clean"] = float(metrics.mse(w, clean[others], mask=m))
        out["lncc10_clean"] = float(metrics.lncc(w, clean[others], radius=10, mask=m))
    if field is not None:
        out.update(roughness(field, m, reference))
    if labels is not None and labels_prop is not None:
        out["dice"] = float(np.mean([metrics.dice(labels_prop[t], labels[t], label=k) for t in others for k in label_ids]))
        out["dice_per_label"] = {int(k): float(np.mean([metrics.dice(labels_prop[t], labels[t], label=k) for t in others])) for k in label_ids}
    if gt is not None and field is not None:
        err = np.sqrt(((field[others] - gt[others]) ** 2).sum(1))
        valid = np.isfinite(err) & m[None]
        out["epe_px"] = float(err[valid].mean())
        # a shift common to the whole frame (e.g. a sub-pixel bias of the similarity), px, mean over frames
        diff = np.where(np.isfinite(err)[:, None] & m[None, None], field[others] - gt[others], np.nan)
        out["bias_px"] = float(np.mean(np.hypot(*np.nanmean(diff, axis=(2, 3)).T)))
        out["epe_valid_pct"] = float(valid.sum() / (len(others) * m.sum()) * 100)
        if labels is not None and tuple(label_ids) == (1, 2):
            out.update(wall_errors(field, gt, labels, others))
    return out


def roughness(field: np.ndarray, mask: np.ndarray, reference: int = 0) -> dict:
    """How rough a field is, in the mask, needing no ground truth: ``grad2`` = mean squared spatial
    derivative (sum over both components and both axes; frames other than the reference) and
    ``jitter_px`` = mean norm of the second difference in time, ``|u_{t+1} - 2 u_t + u_{t-1}|`` over
    consecutive frames (``u_ref = 0``). Where the true motion is smooth in space and time (a heart at
    30 frames a second), roughness beyond the truth's is fitted noise; a similarity metric alone (MSE,
    local CC) rewards it, so on data without a ground truth the two go side by side."""
    others = [t for t in range(len(field)) if t != reference]
    d_r, d_c = np.gradient(field[others], axis=(2, 3))
    g2 = (d_r**2 + d_c**2).sum(1)  # (T-1, H, W)
    out = {"grad2": float(np.nanmean(g2[:, mask]))}
    if len(field) >= 3:
        acc = np.sqrt(((field[2:] - 2 * field[1:-1] + field[:-2]) ** 2).sum(1))
        out["jitter_px"] = float(np.nanmean(acc[:, mask]))
    return out


def wall_errors(field, gt, labels, others, wall: int = 1, cavity: int = 2) -> dict:
    """Where on the wall (label ``wall`` around label ``cavity``: LV myocardium / blood pool) the field errs.

    ``epe_inner_px`` / ``epe_outer_px``: endpoint error on the wall's inner (cavity side) and outer
    boundary bands (the pixels on either side of each boundary), mean over frames; ``twist_pct``: the
    share of the true motion *around* the cavity centre (the phantoms' twist) that the field has on
    the outer band, pooled over frames (100 = all of it; None when the truth hardly turns there,
    under 0.2 px on average, as in the bundled echo).
    """
    from scipy import ndimage as ndi

    rr, cc = np.indices(labels.shape[1:])
    inner_e, outer_e, f_tan, g_tan, n = [], [], 0.0, 0.0, 0
    for t in others:
        w, c = labels[t] == wall, labels[t] == cavity
        if not (w.any() and c.any()):
            continue
        rest = ~(w | c)
        inner = (w & ndi.binary_dilation(c)) | (c & ndi.binary_dilation(w))
        outer = (w & ndi.binary_dilation(rest)) | (rest & ndi.binary_dilation(w))
        err = np.sqrt(((field[t] - gt[t]) ** 2).sum(0))
        inner_e.append(np.nanmean(err[inner]))
        outer_e.append(np.nanmean(err[outer]))
        d = np.stack([rr, cc]) - np.argwhere(c).mean(0)[:, None, None]
        tang = np.stack([-d[1], d[0]]) / np.maximum(np.hypot(*d), 1e-6)  # unit vectors around the centre
        band = outer & np.isfinite(err)
        f_tan += float((field[t] * tang).sum(0)[band].sum())
        g_tan += float((gt[t] * tang).sum(0)[band].sum())
        n += int(band.sum())
    if not inner_e:
        return {}
    turns = n > 0 and abs(g_tan) / n >= 0.2
    return {"epe_inner_px": float(np.mean(inner_e)), "epe_outer_px": float(np.mean(outer_e)),
            "twist_pct": float(100.0 * f_tan / g_tan) if turns else None}


def scaled(frames: np.ndarray, mask=None) -> np.ndarray:
    """``frames`` scaled to [0, 1] as ``tl.register`` scales NMSR's: from the percentiles inside ``mask`` where there is
    one (:func:`napari_tlreg.api.scaled_apart`), so that every method is given and scored on the same frames."""
    from napari_tlreg.api import scaled_apart

    region = None if mask is None else np.asarray(mask, bool)
    return normalize_sequence(frames, fill=scaled_apart(None, region, np.shape(frames)))


def run_nmsr(case, **params) -> dict:
    mask = case["mask"]
    kw = dict(NMSR_DEFAULT, **params)
    if mask is not None and "mask" not in kw:
        kw["mask"] = mask
    res = tl.register(case["frames"], method="nmsr", reference=case.get("reference", 0), **kw)
    engine = get_engine("nmsr")
    log, lam, noise = list(engine.last_log), engine.last_smooth, engine.last_noise_ratio
    labels = case.get("labels")
    prop = res.warp_labels(labels[case.get("reference", 0)]) if labels is not None else None
    out = score(res.frames, res.warped, prop, labels, res.jacobian, res.displacement, case.get("gt"), mask,
                case.get("label_ids", (1,)), case.get("reference", 0), case.get("clean"))
    out["seconds"] = res.runtime_s
    out["iterations_per_scale"] = [e["iterations"] for e in log]
    out["smooth_used"], out["noise_pct"] = lam, None if noise is None else 100.0 * noise
    return out


def noise_share(frames: np.ndarray, mask=None) -> float:
    """White noise as a % of the frames' variance, as NMSR computes it to choose λ (normalised, in the mask)."""
    import torch

    from napari_tlreg.engines.nmsr import noise_variance, white_noise_ratio

    x = torch.from_numpy(scaled(frames, mask))
    w = None if mask is None else torch.from_numpy(np.asarray(mask, np.float32))[None, None]
    if w is not None:
        x = x * w[0]
    return 100.0 * white_noise_ratio(x, noise_variance(x[:, None], w), w)


def noise_estimates(frames: np.ndarray, sigma: float) -> dict:
    """White noise of a phantom's frames of known Rician ``sigma`` (on bright tissue ~ Gaussian of that sigma),
    as % of their variance: the truth and Immerkær's mean estimator (NMSR's before it took the median; NMSR's
    own figure is :func:`noise_share`), both on the normalised frames."""
    import math

    import torch
    import torch.nn.functional as F

    from napari_tlreg.engines.nmsr import _LAPLACE_NOISE

    f = np.asarray(frames, np.float32)
    lo, hi = np.percentile(f, [1.0, 99.0])  # normalize_sequence's linear map (before its clip)
    x = torch.from_numpy(normalize_sequence(frames))
    var = float(x.flatten(1).var(1).mean())
    r = F.conv2d(x[:, None], _LAPLACE_NOISE.view(1, 1, 3, 3)).abs()
    mean_abs = float(((math.sqrt(math.pi / 2) / 6.0 * r.mean((1, 2, 3))) ** 2).mean())
    return {"true": 100.0 * (sigma / (hi - lo)) ** 2 / var, "immerkaer_mean": 100.0 * mean_abs / var}


def run_ants(case, syn="SyN", **options) -> dict:
    """ANTs on ``case``, scored as NMSR is (:func:`benchmarks.tlrn_paper.ants_as_ours`: its field read everywhere, so
    its endpoint error covers the pixels it pulls from outside the frame too, and the reference resampled through it
    as NMSR's warped frames are; ANTs' own output, 0 where it samples outside the frame, dominated its MSE and local
    CC on the phantoms, scored over the whole frame). Its labels are ANTs' own."""
    frames_n = scaled(case["frames"], case["mask"])
    ref = case.get("reference", 0)
    labels = case.get("labels")
    warped, labs, jac, secs, field = ants_as_ours(frames_n, ref, None if labels is None else labels[ref], syn=syn,
                                                  **options)
    out = score(frames_n, warped, labs, labels, jac, field, case.get("gt"), case["mask"], case.get("label_ids", (1,)), ref,
                case.get("clean"))
    out["seconds"] = secs
    return out


def run_truth(case) -> dict:
    """The true motion scored as a registration: the reference resampled through it (bilinear, as every method's),
    its labels through it (nearest)."""
    frames_n = scaled(case["frames"], case["mask"])
    ref = case.get("reference", 0)
    gt = np.nan_to_num(case["gt"])
    warped = np.asarray(tl.warp(frames_n[ref], gt))
    labels = case["labels"]
    prop = np.asarray(tl.warp(labels[ref], gt, order=0))
    jac = np.asarray(tl.jacobian_determinant(gt))
    return dict(score(frames_n, warped, prop, labels, jac, gt, case["gt"], case["mask"], case.get("label_ids", (1,)), ref,
                      case.get("clean")), seconds=0.0)


#: the image-match figures, on the noisy frames and on the noise-free ones, and which way is worse
IMAGE_MATCH = {"mse": np.greater, "lncc10": np.less, "mse_clean": np.greater, "lncc10_clean": np.less}


def truth_check(cases: list[dict], use_ants: bool, kept: dict | None = None) -> dict:
    """The ``truth`` section: on each synthetic case, the true motion scored as a registration beside NMSR's defaults
    and SyN-CC, on the frames (as every other section) and on the same sequence without its noise (:func:`noise_free`).

    The noise is independent from frame to frame, so no field can predict it; a field that resamples the reference
    at fractional offsets smooths the reference's own noise away (bilinear weights average neighbours), which lowers
    the MSE and raises the local CC against a noisy frame without matching its anatomy any better. Against the
    noise-free frames that reward is gone. Per case the rows; ``worse_than_syncc``: per figure, the cases where
    NMSR's (and the truth's) is worse than SyN-CC's. ``kept``: earlier runs' cases (``--truth-cases``), kept where
    this run has not run them, and judged with them."""
    per: dict[str, dict] = dict(kept or {})
    print("\n## truth: image match on the frames and without their noise (MSE x1e3 / LCC r10)")
    print(f"{'case':16s} {'row':12s} {'MSE':>8s} {'LCC10':>8s} {'MSE clean':>10s} {'LCC10 clean':>12s} {'Dice':>7s} {'EPE px':>7s}")
    for case in cases:
        case = {**case, "clean": noise_free(case)}
        rows = {"truth": run_truth(case), "nmsr": run_nmsr(case)}
        if use_ants:
            rows["ants SyNCC"] = run_ants(case, **ANTS["ants SyNCC"])
        per[case["name"]] = rows
        for name, r in rows.items():
            print(f"{case['name']:16s} {name:12s} {r['mse'] * 1e3:8.4f} {r['lncc10']:8.4f} {r['mse_clean'] * 1e3:10.4f} "
                  f"{r['lncc10_clean']:12.4f} {r['dice']:7.4f} {r['epe_px']:7.3f}", flush=True)
    out: dict = {"cases": per}
    if use_ants and all("ants SyNCC" in rows for rows in per.values()):
        out["worse_than_syncc"] = {who: worse_cases(per, who, "ants SyNCC", IMAGE_MATCH) for who in ("nmsr", "truth")}
        for who, by in out["worse_than_syncc"].items():
            for k, names in by.items():
                print(f"  {who} worse than SyN-CC on {k}: {len(names)} of {len(per)} {', '.join(names)}")
    return out


def beside_syncc(case, use_ants: bool) -> dict[str, dict]:
    """No registration, NMSR's defaults and (with ANTs) SyN-CC on ``case``, one after the other."""
    rows = {"none": run_none(case), "nmsr": run_nmsr(case)}
    if use_ants:
        rows["ants SyNCC"] = run_ants(case, **ANTS["ants SyNCC"])
    return rows


def run_none(case) -> dict:
    frames_n = scaled(case["frames"], case["mask"])
    ref = case.get("reference", 0)
    T = len(frames_n)
    labels = case.get("labels")
    zero = np.zeros((T, 2, *frames_n.shape[1:]), np.float32)
    return dict(score(frames_n, np.repeat(frames_n[ref][None], T, 0), None if labels is None else np.repeat(labels[ref][None], T, 0),
                      labels, np.ones(frames_n.shape), zero, case.get("gt"), case["mask"], case.get("label_ids", (1,)), ref), seconds=0.0)


COLS = (("mse", "MSE", "{:9.2e}"), ("lncc10", "LCC r10", "{:8.4f}"), ("dice", "Dice", "{:6.3f}"), ("epe_px", "EPE px", "{:7.3f}"),
        ("bias_px", "bias px", "{:7.3f}"), ("epe_outer_px", "EPE out", "{:7.3f}"), ("twist_pct", "twist %", "{:7.1f}"),
        ("grad2", "|∇u|²", "{:7.3f}"), ("jitter_px", "jitter px", "{:7.3f}"), ("folding_pct", "fold %", "{:7.3f}"),
        ("seconds", "s", "{:8.2f}"))


def print_table(title: str, rows: dict[str, dict]) -> None:
    width = max(28, *(len(n) + 1 for n in rows))
    print(f"\n## {title}")
    print(f"{'method':{width}s}" + "".join(f"{h:>10s}" for _, h, _ in COLS))
    for name, r in rows.items():
        cells = "".join(f"{(fmt.format(r[k]) if k in r and r[k] is not None else '-'):>10s}" for k, _, fmt in COLS)
        print(f"{name:{width}s}{cells}")


def mean_rows(per_case: list[dict]) -> dict:
    keys = [k for k in per_case[0] if isinstance(per_case[0][k], (int, float))]
    return {k: float(np.mean([r[k] for r in per_case if r.get(k) is not None])) for k in keys}


def sunnybrook_nmsr(frames: np.ndarray, endo_ed: np.ndarray, endo_es: np.ndarray, **params):
    """NMSR from the first of ``frames`` (ED) to the last (ES), the ED endocardium propagated: its Dice against
    the ES contour, and the result."""
    res = tl.register(frames, method="nmsr", reference=0, **{**NMSR_DEFAULT, **params})
    return metrics.dice(res.warp_labels(endo_ed.astype(np.int32))[-1] > 0, endo_es), res


# ---- pace: wall time side by side -----------------------------------------------------------------
def pace(real: dict, phantoms, rounds: int, use_ants: bool, candidates: dict[str, dict] | None = None) -> dict:
    """NMSR (defaults) and SyN-CC timed in ``rounds`` rounds on ``real`` (the real echo's first frames) and on ``phantoms``.

    Each round runs both methods one after the other, NMSR first in even rounds and SyN-CC first in odd
    ones; a round's ratio is NMSR's time over SyN-CC's. Returns per case the times, the ratios and their
    median (``None`` without ANTs). ``candidates`` (row name -> NMSR options) are timed in the same rounds,
    between the two (the order reversed in odd rounds as well), each with its own times, ratios to SyN-CC
    and median (``row["candidates"]``).
    """
    cases = [real] + [phantom_case(i) for i in phantoms]
    candidates = candidates or {}
    runners = {"nmsr": run_nmsr}
    for name, kw in candidates.items():
        runners[name] = lambda case, kw=kw: run_nmsr(case, **kw)
    if use_ants:
        runners["ants SyNCC"] = lambda case: run_ants(case, **ANTS["ants SyNCC"])
    out = {}
    fmt = lambda v: "-" if v is None else " ".join(f"{x:.1f}" for x in v)  # noqa: E731

    def timed(seconds: list[float], syncc: list[float] | None) -> dict:
        ratios = [n / a for n, a in zip(seconds, syncc)] if syncc else []
        return {"ratios": ratios, "median_ratio": float(np.median(ratios)) if ratios else None}

    names = ["NMSR", *candidates]
    print(f"\n## Pace: {', '.join(names)} and SyN-CC side by side, {rounds} round(s), the first of each pair alternating")
    print(f"{'case':22s} " + " ".join(f"{n + ' s':>24s}" for n in names) + f" {'SyN-CC s':>24s} "
          + " ".join(f"{'median ' + n + '/SyN-CC':>19s}" for n in names))
    for case in cases:
        times: dict[str, list[float]] = {name: [] for name in runners}
        for k in range(rounds):
            for name in (list(runners) if k % 2 == 0 else list(runners)[::-1]):
                times[name].append(runners[name](case)["seconds"])
        syncc = times.get("ants SyNCC")
        row = {"nmsr_s": times["nmsr"], "syncc_s": syncc, **timed(times["nmsr"], syncc)}
        if candidates:
            row["candidates"] = {name: {"s": times[name], **timed(times[name], syncc)} for name in candidates}
        out[case["name"]] = row
        meds = [row["median_ratio"]] + [row["candidates"][n]["median_ratio"] for n in candidates]
        print(f"{case['name']:22s} " + " ".join(f"{fmt(times[n]):>24s}" for n in runners if n != "ants SyNCC")
              + f" {fmt(row['syncc_s']):>24s} " + " ".join(f"{'-' if m is None else f'{m:.2f}x':>19s}" for m in meds), flush=True)
    return out


#: the sections of results.json that hold each phantom's NMSR and SyN-CC rows (the bundled and held-out echoes' too)
PHANTOM_SECTIONS = ("synthetic", "fresh", "heldout")


def section_dice(R: dict, method: str) -> dict[str, float]:
    """``method``'s Dice (e.g. "nmsr", "ants SyNCC") on each case of ``R``'s :data:`PHANTOM_SECTIONS` that has its row."""
    return {name: rows[method]["dice"] for sec in PHANTOM_SECTIONS for name, rows in R.get(sec, {}).items() if method in rows}


# ---- radius: the paper's window against ANTs' -------------------------------------------------------
#: the LNCC window radius of NMSR's loss: the paper's 6 (the engine's default) and ANTs' SyN-CC preset's 4
RADII = (6, 4)


def option_sweep(cases: list[dict], variants: dict[str, dict], sunny_limit: int | None, R: dict, title: str,
                 held_out: tuple[str, ...] = ()) -> dict:
    """NMSR with each of ``variants`` (row name -> options, NMSR's defaults otherwise) on ``cases`` and on the
    Sunnybrook ED,ES pairs (the first ``sunny_limit``; None: all, 0: none), and per row on how many phantoms and
    slices its Dice is at least SyN-CC's (read from the synthetic, fresh, heldout and sunnybrook sections of ``R``;
    None where those lack it). The rows of a case run one after the other, so their times are side by side. The cases
    named in ``held_out`` are summed up on their own (``summary[row]["held_out"]``), apart from the others."""
    keys = list(variants)
    per_case = {c["name"]: {k: run_nmsr(c, **variants[k]) for k in keys} for c in cases}
    sunny: dict[str, dict[str, float]] = {k: {} for k in keys}
    if SHARED.is_dir() and sunny_limit != 0:
        for n, (name, cine, ed, es, endo_ed, endo_es, *_) in enumerate(sunnybrook_cases()):
            if sunny_limit is not None and n >= sunny_limit:
                break
            for k in keys:
                sunny[k][name] = sunnybrook_nmsr(cine[[ed, es]], endo_ed, endo_es, **variants[k])[0]
    syncc = section_dice(R, "ants SyNCC")
    syncc_sb = R.get("sunnybrook", {}).get("ants SyNCC", {}).get("per_case", {})

    def at_least(ours: dict[str, float], theirs: dict[str, float]) -> int | None:
        return sum(ours[n] >= theirs[n] for n in ours) if ours and set(ours) <= set(theirs) else None

    def mean(rows: list[dict], key: str) -> float | None:
        vals = [r[key] for r in rows if r.get(key) is not None]
        return float(np.mean(vals)) if vals else None

    def phantoms(ph: dict[str, dict]) -> dict:
        return {"phantom_dice_mean": mean(list(ph.values()), "dice"), "phantom_epe_mean": mean(list(ph.values()), "epe_px"),
                "phantom_epe_inner_mean": mean(list(ph.values()), "epe_inner_px"),
                "phantoms": len(ph), "phantoms_at_least_syncc": at_least({n: r["dice"] for n, r in ph.items()}, syncc)}

    summary = {}
    for k in keys:
        ph = {n: rows[k] for n, rows in per_case.items() if n.startswith("phantom")}
        summary[k] = {**phantoms({n: r for n, r in ph.items() if n not in held_out}),
                      "held_out": phantoms({n: r for n, r in ph.items() if n in held_out}) if held_out else None,
                      "seconds": float(sum(rows[k]["seconds"] for rows in per_case.values())),
                      "sunnybrook_dice_mean": float(np.mean(list(sunny[k].values()))) if sunny[k] else None,
                      "sunnybrook_slices": len(sunny[k]), "sunnybrook_at_least_syncc": at_least(sunny[k], syncc_sb)}
    print(f"\n## {title}")
    print(f"{'case':22s}" + "".join(f" {k + ' Dice':>22s} {'EPE':>6s} {'LCC10':>6s} {'s':>6s}" for k in keys))
    fmt = lambda r, key, f: "-" if r.get(key) is None else f.format(r[key])  # noqa: E731
    for name, rows in per_case.items():
        print(f"{name:22s}" + "".join(f" {fmt(rows[k], 'dice', '{:.4f}'):>22s} {fmt(rows[k], 'epe_px', '{:.3f}'):>6s} "
                                      f"{rows[k]['lncc10']:6.3f} {rows[k]['seconds']:6.1f}" for k in keys))
    for k, v in summary.items():
        for label, g in (("phantoms", v), ("held-out phantoms", v["held_out"])):
            if g:
                print(f"{k}: {label}' Dice {g['phantom_dice_mean']}, EPE {g['phantom_epe_mean']} (inner band "
                      f"{g['phantom_epe_inner_mean']}), at least SyN-CC's on {g['phantoms_at_least_syncc']} of {g['phantoms']}")
        print(f"{k}: {v['seconds']:.1f} s in all; Sunnybrook Dice {v['sunnybrook_dice_mean']}, at least SyN-CC's on "
              f"{v['sunnybrook_at_least_syncc']} of {v['sunnybrook_slices']}")
    return {"cases": per_case, "sunnybrook": sunny, "summary": summary}


def recount_sunnybrook(R: dict) -> dict[str, dict[str, tuple[int | None, int]]]:
    """Count again, in every option study of ``R`` (:func:`option_sweep`'s sections), the Sunnybrook slices where a
    row's Dice is at least SyN-CC's, against ``R``'s sunnybrook section as it is now (a re-run of that section alone
    leaves the option studies counted against the SyN-CC rows they were run beside). Returns, per section and row,
    (the count stored before, the count now)."""
    theirs = R.get("sunnybrook", {}).get("ants SyNCC", {}).get("per_case", {})
    changed: dict[str, dict[str, tuple[int | None, int]]] = {}
    for name, sec in R.items():
        if not (isinstance(sec, dict) and isinstance(sec.get("sunnybrook"), dict) and isinstance(sec.get("summary"), dict)):
            continue
        for row, ours in sec["sunnybrook"].items():
            if ours and set(ours) <= set(theirs) and row in sec["summary"]:
                now = sum(d >= theirs[n] for n, d in ours.items())
                changed.setdefault(name, {})[row] = (sec["summary"][row].get("sunnybrook_at_least_syncc"), now)
                sec["summary"][row]["sunnybrook_at_least_syncc"] = now
    return changed


def radius_sweep(cases: list[dict], sunny_limit: int | None, R: dict) -> dict:
    """NMSR's defaults at each radius of :data:`RADII` (:func:`option_sweep`)."""
    return option_sweep(cases, {f"radius={r}": {"radius": r} for r in RADII}, sunny_limit, R,
                        f"Loss window radius: the paper's {RADII[0]} against ANTs' {RADII[1]} (NMSR defaults otherwise)")


#: the symmetric section's rows: NMSR's defaults, and with the loss taken both ways (``symmetric``) at the finest
#: scale (the option's default ``symmetric_from=1``) and at every scale (``symmetric_from=0``)
SYMMETRIC = {"defaults": {}, "symmetric": {"symmetric": True}, "symmetric, every scale": {"symmetric": True, "symmetric_from": 0.0}}


def defaults_beside(variants: dict[str, dict], title: str, cases: list[dict], held: list[dict], sunny_limit: int | None,
                    R: dict, real: dict | None = None) -> dict:
    """NMSR's defaults (``variants["defaults"]``) beside the other ``variants`` (:func:`option_sweep`) on ``cases`` and the
    held-out phantoms ``held`` (summed up on their own), with each variant's time over the defaults'; and on ``real`` (the
    real echo's first frames) the same rows, for the similarity and roughness without ground truth (``real`` rows)."""
    out = option_sweep(cases + held, variants, sunny_limit, R, title, held_out=tuple(c["name"] for c in held))
    s = out["summary"]
    out["time_ratio"] = {k: s[k]["seconds"] / max(s["defaults"]["seconds"], 1e-9) for k in variants if k != "defaults"}
    for k, v in out["time_ratio"].items():
        print(f"{k} / defaults, time: {v:.2f}x")
    if real is not None:
        out["real"] = rows = {k: run_nmsr(real, **kw) for k, kw in variants.items()}
        print_table(f"{real['name']}: {title}, in the fan", rows)
    return out


#: the edges section's rows: NMSR's defaults, and λ lowered at the fixed frame's edges at the finest scale
EDGES = {"defaults": {}, "edge_weight=1": {"edge_weight": 1.0}}
#: the cubic section's rows: NMSR's defaults, and the loss's cubic resampling at the finest scale, alone and with edge_weight=1
CUBIC = {"defaults": {}, "interpolation=cubic": {"interpolation": "cubic"},
         "interpolation=cubic, edge_weight=1": {"interpolation": "cubic", "edge_weight": 1.0}}
#: the cubic section's row that the cubicpace section times beside the defaults and SyN-CC
CUBIC_CANDIDATE = "interpolation=cubic, edge_weight=1"
#: the spread section's rows: NMSR's defaults and the cubic candidate
SPREAD_ROWS = {"defaults": {}, CUBIC_CANDIDATE: CUBIC[CUBIC_CANDIDATE]}
#: the sections of NMSR's defaults beside options (:func:`defaults_beside`), in the order they run: their rows and title
BESIDE_DEFAULTS = {
    "symmetric": (SYMMETRIC, "The loss taken both ways (symmetric) beside NMSR's defaults"),
    "edges": (EDGES, "λ lowered at edges (edge_weight) beside NMSR's defaults"),
    "cubic": (CUBIC, "The loss's cubic resampling at the finest scale beside NMSR's defaults"),
}



# ---- seeds: SyN-CC's spread over ANTs' random seeds ---------------------------------------------
#: the seeds of the seeds section: the other sections' 1234 first, then six more
ANTS_SEEDS = (1234, 1, 2, 3, 4, 5, 6)


def syncc_seed_spread(cases: list[dict], R: dict, seeds=ANTS_SEEDS) -> dict:
    """SyN-CC's Dice on each of ``cases`` under each of ``seeds`` (``ants.config._random_seed``), beside NMSR's Dice
    read from ``R``'s phantom sections (None where ``R`` has no NMSR row for the case). Returns per case the Dice per
    seed, their min / median / max, NMSR's, and a summary (:func:`seed_summary`). The cases of ``R``'s last seeds
    section (same seeds) that this run did not redo are kept, so ``--seed-phantoms`` can split the work."""
    previous = R.get("seeds")
    import ants.config

    nmsr_dice = section_dice(R, "nmsr")  # looked up by phantom name only
    out: dict = {"seeds": list(seeds), "cases": {}}
    try:
        for case in cases:
            per = {}
            for seed in seeds:
                ants.config._random_seed = seed
                per[str(seed)] = run_ants(case, **ANTS["ants SyNCC"])["dice"]
            out["cases"][case["name"]] = row = {**dice_spread(per), "nmsr": nmsr_dice.get(case["name"])}
            print(f"{case['name']:16s} SyN-CC over {len(seeds)} seeds: min {row['min']:.4f} median {row['median']:.4f} "
                  f"max {row['max']:.4f}" + ("" if row["nmsr"] is None else f"   NMSR {row['nmsr']:.4f}"), flush=True)
    finally:
        ants.config._random_seed = seeds[0]  # as the other sections expect
    if previous and previous.get("seeds") == out["seeds"]:  # a run on some of the phantoms adds to the last one's
        out["cases"] = {**previous["cases"], **out["cases"]}
        for name, row in out["cases"].items():  # NMSR's figure as the results hold it now
            row["nmsr"] = nmsr_dice.get(name)
    out["summary"] = seed_summary(out["cases"])
    s = out["summary"]
    print(f"NMSR's Dice at least SyN-CC's highest over the seeds on {s['nmsr_at_least_max']} of {s['cases']} phantoms, at least "
          f"its median on {s['nmsr_at_least_median']}, at least its lowest on {s['nmsr_at_least_min']}; below the median: "
          f"{', '.join(s['below_median']) or 'none'}; below the lowest: {', '.join(s['below_min']) or 'none'}")
    return out


def dice_spread(per: dict[str, float]) -> dict:
    """A case's Dice per seed (seed -> Dice) with their min / median / max (the seeds and spread sections' rows)."""
    d = np.array(list(per.values()))
    return {"dice": per, "min": float(d.min()), "median": float(np.median(d)), "max": float(d.max())}


def seed_summary(cases: dict[str, dict]) -> dict:
    """Of :func:`syncc_seed_spread`'s cases: on how many NMSR's Dice is at least SyN-CC's highest, its median and its
    lowest, which are below the median and which below the lowest (cases without an NMSR Dice are left out), and
    SyN-CC's largest spread."""
    scored = {k: v for k, v in cases.items() if v["nmsr"] is not None}
    return {"cases": len(scored),
            "nmsr_at_least_max": sum(v["nmsr"] >= v["max"] for v in scored.values()),
            "nmsr_at_least_median": sum(v["nmsr"] >= v["median"] for v in scored.values()),
            "nmsr_at_least_min": sum(v["nmsr"] >= v["min"] for v in scored.values()),
            "below_median": [k for k, v in scored.items() if v["nmsr"] < v["median"]],
            "below_min": [k for k, v in scored.items() if v["nmsr"] < v["min"]],
            "largest_spread": max((v["max"] - v["min"] for v in cases.values()), default=None)}


# ---- spread: NMSR's Dice under perturbations far below the frames' noise ---------------------------
#: the seeds of the perturbations of the spread section, and their size: white noise of this σ added to the frames
#: (the phantoms' own noise is 0.01-0.03 of their range: this is 1 % of it or less)
PERTURBATIONS = (1, 2, 3, 4, 5, 6)
PERTURBATION_SIGMA = 1e-4


def perturbed(case: dict, seed: int, sigma: float = PERTURBATION_SIGMA) -> dict:
    """``case`` with white noise of ``sigma`` (seeded by ``seed``) added to its frames."""
    frames = np.asarray(case["frames"])
    noise = np.random.default_rng(seed).normal(0.0, sigma, frames.shape).astype(frames.dtype)
    return {**case, "frames": frames + noise}


def nmsr_spread(cases: list[dict], R: dict, rows: dict[str, dict], seeds=PERTURBATIONS, sigma: float = PERTURBATION_SIGMA) -> dict:
    """NMSR's Dice on each of ``cases`` with each of ``rows`` (row name -> options) under each perturbation
    (:func:`perturbed`, ``seeds``): NMSR is deterministic, so this is the spread of its outcome over changes of the
    frames that no scan would notice, the counterpart of SyN-CC's spread over ANTs' seeds (read from ``R``'s seeds
    section: None where it lacks the case). Per case and row the Dice per seed and their min / median / max; a summary
    per row (:func:`spread_summary`). The cases of ``R``'s last spread section (same seeds, σ and rows) that this run
    did not redo are kept, so ``--seed-phantoms`` can split the work."""
    previous = R.get("spread")
    syncc = R.get("seeds", {}).get("cases", {})
    out: dict = {"seeds": list(seeds), "sigma": sigma, "rows": list(rows), "cases": {}}
    for case in cases:
        entry: dict = {}
        for row, kw in rows.items():
            entry[row] = dice_spread({str(seed): run_nmsr(perturbed(case, seed, sigma), **kw)["dice"] for seed in seeds})
        out["cases"][case["name"]] = entry
        print(f"{case['name']:16s} " + "   ".join(f"{row}: {v['min']:.4f} / {v['median']:.4f} / {v['max']:.4f}"
                                                  for row, v in entry.items()), flush=True)
    if previous and all(previous.get(k) == out[k] for k in ("seeds", "sigma", "rows")):  # a partial run adds to the last
        out["cases"] = {**previous["cases"], **out["cases"]}
    for name, entry in out["cases"].items():  # SyN-CC's spread as the results hold it now
        s = syncc.get(name)
        entry["syncc"] = None if s is None else {k: s[k] for k in ("min", "median", "max")}
    out["summary"] = {row: spread_summary(out["cases"], row) for row in rows}
    for row, s in out["summary"].items():
        print(f"{row}: NMSR's median Dice over the perturbations at least SyN-CC's median over its seeds on "
              f"{s['median_at_least_syncc_median']} of {s['cases']} phantoms (below: {', '.join(s['median_below_syncc_median']) or 'none'}); "
              f"NMSR's highest below SyN-CC's lowest on {', '.join(s['max_below_syncc_min']) or 'none'}; "
              f"NMSR's spread (max - min) median {s['median_spread']:.4f}")
    return out


def spread_summary(cases: dict[str, dict], row: str) -> dict:
    """Of :func:`nmsr_spread`'s cases, for ``row``: on how many NMSR's median is at least SyN-CC's median over its
    seeds, which are below it, which have NMSR's highest Dice below SyN-CC's lowest (cases without SyN-CC's spread
    are left out of these), and the median of NMSR's spreads (max - min) over all cases."""
    scored = {k: v for k, v in cases.items() if v["syncc"] is not None}
    spreads = [v[row]["max"] - v[row]["min"] for v in cases.values()]
    return {"cases": len(scored),
            "median_at_least_syncc_median": sum(v[row]["median"] >= v["syncc"]["median"] for v in scored.values()),
            "median_below_syncc_median": [k for k, v in scored.items() if v[row]["median"] < v["syncc"]["median"]],
            "max_below_syncc_min": [k for k, v in scored.items() if v[row]["max"] < v["syncc"]["min"]],
            "median_spread": float(np.median(spreads)) if spreads else None}


# ---- sunnyspread: the Sunnybrook slices under ANTs' seeds and NMSR's perturbations -------------------
def sunnybrook_spread(R: dict, use_ants: bool, limit: int | None = None, part: tuple[int, int] = (0, 1), seeds=ANTS_SEEDS,
                      perturbations=PERTURBATIONS, sigma: float = PERTURBATION_SIGMA) -> dict:
    """Per Sunnybrook slice (ED -> ES endocardium, Dice against the expert's ES contour, as the sunnybrook section):
    SyN-CC's Dice under each of ``seeds`` (on the pair as NMSR normalises it, as there) and NMSR's (its defaults)
    under each of ``perturbations``: white noise of ``sigma`` times the pair's 1-99 % intensity range added to the
    raw frames (the phantoms' perturbation, :func:`perturbed`, relative to their range). Per slice both spreads
    (min / median / max) and whether seed 1234 and the unperturbed run give the sunnybrook section's figures
    (``reproduces_section``; None where the section lacks the slice). ``limit``: the first slices only; ``part``
    ``(k, n)``: every n-th slice from the k-th (two processes side by side), merged with the slices of ``R``'s last
    sunnyspread section (same seeds, perturbations and σ) that this run did not redo. Summary:
    :func:`sunnybrook_spread_summary`."""
    previous = R.get("sunnyspread")
    section = R.get("sunnybrook", {})
    stored = {m: section.get(m, {}).get("per_case", {}) for m in ("nmsr (ED,ES pair)", "ants SyNCC")}
    out: dict = {"seeds": list(seeds) if use_ants else [], "perturbations": list(perturbations), "sigma": sigma, "cases": {}}
    k, n = part
    try:
        for i, (name, cine, ed, es, endo_ed, endo_es) in enumerate(sunnybrook_cases()):
            if limit is not None and i >= limit:
                break
            if i % n != k:
                continue
            raw = cine[[ed, es]]
            lo, hi = np.percentile(raw, [1.0, 99.0])
            nm = {str(p): float(sunnybrook_nmsr(raw + np.random.default_rng(p).normal(0.0, sigma * (hi - lo), raw.shape)
                                                .astype(raw.dtype), endo_ed, endo_es)[0]) for p in perturbations}
            plain = float(sunnybrook_nmsr(raw, endo_ed, endo_es)[0])
            row = {"nmsr": {**dice_spread(nm), "unperturbed": plain}, "syncc": None}
            checks = [plain == stored["nmsr (ED,ES pair)"][name]] if name in stored["nmsr (ED,ES pair)"] else []
            if use_ants:
                import ants.config

                pair, lab = normalize_sequence(raw), endo_ed.astype(np.int32)
                per = {}
                for seed in seeds:
                    ants.config._random_seed = seed
                    per[str(seed)] = float(metrics.dice(ants_register(pair, 0, lab, **ANTS["ants SyNCC"])[1][1] > 0, endo_es))
                row["syncc"] = dice_spread(per)
                if "1234" in per and name in stored["ants SyNCC"]:
                    checks.append(per["1234"] == stored["ants SyNCC"][name])
            row["reproduces_section"] = all(checks) if checks else None
            out["cases"][name] = row
            s = row["syncc"]
            print(f"{name:16s} NMSR over {len(nm)} perturbations: {row['nmsr']['min']:.4f} / {row['nmsr']['median']:.4f} / "
                  f"{row['nmsr']['max']:.4f}" + ("" if s is None else f"   SyN-CC over {len(seeds)} seeds: "
                                                  f"{s['min']:.4f} / {s['median']:.4f} / {s['max']:.4f}")
                  + ("" if row["reproduces_section"] in (None, True) else "   (NOT the sunnybrook section's figures)"), flush=True)
    finally:
        if use_ants:
            import ants.config

            ants.config._random_seed = ANTS_SEEDS[0]  # as the other sections expect
    if previous and all(previous.get(key) == out[key] for key in ("seeds", "perturbations", "sigma")):
        out["cases"] = {**previous["cases"], **out["cases"]}
    out["summary"] = sunnybrook_spread_summary(out["cases"])
    s = out["summary"]
    print(f"Sunnybrook, {s['slices']} slices: NMSR's median over the perturbations at least SyN-CC's median over its seeds on "
          f"{s['median_at_least_syncc_median']} (below: {', '.join(s['median_below_syncc_median']) or 'none'}); NMSR's highest "
          f"below SyN-CC's lowest on {', '.join(s['max_below_syncc_min']) or 'none'}; NMSR's lowest above SyN-CC's highest on "
          f"{s['min_above_syncc_max']}; spreads (median): NMSR {s['nmsr_median_spread']}, SyN-CC {s['syncc_median_spread']}")
    return out


def sunnybrook_spread_summary(cases: dict[str, dict]) -> dict:
    """Of :func:`sunnybrook_spread`'s slices with both spreads: on how many NMSR's median is at least SyN-CC's median
    (and which are below), which have NMSR's highest below SyN-CC's lowest (short whatever the draw), on how many NMSR's
    lowest is above SyN-CC's highest, and the median spread (max - min) of each method."""
    both = {k: v for k, v in cases.items() if v["syncc"] is not None}

    def median_spread(rows) -> float | None:
        return float(np.median([r["max"] - r["min"] for r in rows])) if rows else None

    return {"slices": len(both),
            "median_at_least_syncc_median": sum(v["nmsr"]["median"] >= v["syncc"]["median"] for v in both.values()),
            "median_below_syncc_median": [k for k, v in both.items() if v["nmsr"]["median"] < v["syncc"]["median"]],
            "max_below_syncc_min": [k for k, v in both.items() if v["nmsr"]["max"] < v["syncc"]["min"]],
            "min_above_syncc_max": sum(v["nmsr"]["min"] > v["syncc"]["max"] for v in both.values()),
            "nmsr_median_spread": median_spread([v["nmsr"] for v in cases.values()]),
            "syncc_median_spread": median_spread([v["syncc"] for v in both.values()])}


# ---- cold start ----------------------------------------------------------------------------------
COLD = r"""
import time, json, sys
t0 = time.perf_counter()
import torch
torch.set_num_threads({threads})
import napari_tlreg as tl
from napari_tlreg.synth.cardiac import cardiac_phantom
frames = cardiac_phantom(n_frames=8, size=64, seed={seed}).frames
t1 = time.perf_counter()
res = tl.register(frames, method="nmsr", **{params})
t2 = time.perf_counter()
res2 = tl.register(frames, method="nmsr", **{params})
t3 = time.perf_counter()
print(json.dumps({{"import_s": t1 - t0, "first_register_s": t2 - t1, "process_s": t2 - t0, "second_register_s": t3 - t2}}))
"""


#: the same for ANTs SyN-CC, also in a fresh process (its ITK threads from the environment, as main sets them)
COLD_ANTS = r"""
import time, json, sys
t0 = time.perf_counter()
import ants
from benchmarks.tlrn_paper import ants_register
from napari_tlreg.core.normalize import normalize_sequence
from napari_tlreg.synth.cardiac import cardiac_phantom
frames = normalize_sequence(cardiac_phantom(n_frames=8, size=64, seed={seed}).frames)
t1 = time.perf_counter()
ants_register(frames, 0, syn="SyNCC")
t2 = time.perf_counter()
ants_register(frames, 0, syn="SyNCC")
t3 = time.perf_counter()
print(json.dumps({{"import_s": t1 - t0, "first_register_s": t2 - t1, "process_s": t2 - t0, "second_register_s": t3 - t2}}))
"""


def cold_start(threads: int, seed: int = PHANTOM_SEED0 + 999, script: str = COLD) -> dict:
    """``script`` (NMSR's :data:`COLD`, or :data:`COLD_ANTS`) in a fresh process: import, first and second register, s."""
    code = script.format(threads=threads, seed=seed, params=repr(dict(NMSR_DEFAULT)))  # NMSR: the rows' options (--nmsr)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---- loss landscape ------------------------------------------------------------------------------
LANDSCAPE_SHIFTS = (-0.5, -0.375, -0.25, -0.125, 0.0, 0.125, 0.25, 0.375, 0.5)


def loss_landscape(cases) -> dict:
    """The NMSR similarity (LNCC, radius 6, full resolution) of ``warp(I_0, u_true + d)`` against ``I_t``
    for global column shifts ``d`` of the true field, plain and with ``noise_compensation``: where is the optimum?"""
    import torch

    from napari_tlreg.core import fields
    from napari_tlreg.engines.nmsr import interpolation_noise, lncc_loss, noise_variance

    out = {"shifts": list(LANDSCAPE_SHIFTS), "plain": [], "compensated": []}
    for case in cases:
        x = torch.from_numpy(normalize_sequence(case["frames"])).float()[:, None]
        gt = torch.from_numpy(case["gt"]).float()
        var = noise_variance(x[:1])
        for t in range(1, len(x)):
            curves = {"plain": [], "compensated": []}
            for d in LANDSCAPE_SHIFTS:
                u = gt[t : t + 1].clone()
                u[:, 1] += d
                warped = fields.warp(x[:1], u)
                curves["plain"].append(float(lncc_loss(warped, x[t : t + 1], 6)))
                curves["compensated"].append(float(lncc_loss(warped, x[t : t + 1], 6, extra_var_a=interpolation_noise(u, var))))
            for k, c in curves.items():
                out[k].append(LANDSCAPE_SHIFTS[int(np.argmin(c))])
    for k in ("plain", "compensated"):
        best = np.abs(out[k])
        out[f"{k}_summary"] = {"frames": len(best), "optimum_at_true_pct": float((best == 0).mean() * 100),
                               "mean_abs_optimum_px": float(best.mean())}
    print(f"\n## Where the similarity is best: global column shifts of the true field, {len(out['plain'])} frames of "
          f"{len(cases)} unseen phantoms (LNCC r6, full resolution)")
    for k in ("plain", "compensated"):
        r = out[f"{k}_summary"]
        print(f"{'LNCC ' + k:28s} optimum at the true field in {r['optimum_at_true_pct']:5.1f} % of frames, "
              f"mean |optimum| {r['mean_abs_optimum_px']:.3f} px")
    return out


def objective_check(cases, R: dict) -> dict:
    """How NMSR's field stands against the true one on what it optimises: the similarity (−LNCC r6 with the
    noise compensation, full resolution, mean over frames) of the reference warped by each, and the
    smoothness of each whole field (Grad_l2, px²), per phantom, beside the Dice of NMSR and SyN-CC (read
    from the synthetic, fresh and heldout sections of ``R``).

    Where NMSR's similarity is *worse* than the truth's, the smoothness term held it back (a weaker one
    could help); where it is *better*, NMSR already fits the frames beyond the true motion (noise): a
    weaker smoothness term would harm. The NMSR runs are the defaults (deterministic: the other sections'
    fields)."""
    import torch

    from napari_tlreg.core import fields
    from napari_tlreg.engines.nets import grad_l2_per_item
    from napari_tlreg.engines.nmsr import interpolation_noise, lncc_loss_per_pair, noise_variance

    syncc = section_dice(R, "ants SyNCC")
    per_case = {}
    for case in cases:
        res = tl.register(case["frames"], method="nmsr", reference=0, **NMSR_DEFAULT)
        x = torch.from_numpy(normalize_sequence(case["frames"])).float()[:, None]
        moving, fixed = x[:1].expand(len(x) - 1, -1, -1, -1), x[1:]
        noise = noise_variance(x[:1]).expand(len(fixed), -1, -1, -1)
        row = {}
        for name, u in (("truth", case["gt"]), ("nmsr", res.displacement)):
            u = torch.from_numpy(np.asarray(u[1:], np.float32))
            sim = lncc_loss_per_pair(fields.warp(moving, u), fixed, 6, None, interpolation_noise(u, noise))
            row[f"similarity_{name}"] = float(sim.mean())
            row[f"grad_l2_{name}"] = float(grad_l2_per_item(u).mean())
        labels, prop = case["labels"], res.warp_labels(case["labels"][0])
        row["dice_nmsr"] = float(np.mean([metrics.dice(prop[t], labels[t], label=k)  # as score() counts it
                                          for t in range(1, len(labels)) for k in case.get("label_ids", (1,))]))
        row["dice_syncc"] = syncc.get(case["name"])
        row["nmsr_matches_better_than_truth"] = row["similarity_nmsr"] < row["similarity_truth"]
        per_case[case["name"]] = row
    below = [k for k, r in per_case.items() if r["dice_syncc"] is not None and r["dice_nmsr"] < r["dice_syncc"]]
    summary = {"phantoms": len(per_case),
               "nmsr_matches_better_than_truth": sum(r["nmsr_matches_better_than_truth"] for r in per_case.values()),
               "below_syncc": below,
               "below_syncc_matching_better_than_truth": [k for k in below if per_case[k]["nmsr_matches_better_than_truth"]]}
    print(f"\n## NMSR's field against the true one on its own objective ({len(per_case)} phantoms; −LNCC r6, noise-compensated)")
    print("| phantom | similarity truth | similarity nmsr | Grad_l2 truth | Grad_l2 nmsr | Dice nmsr | Dice SyN-CC |")
    print("|---|---|---|---|---|---|---|")
    for k, r in per_case.items():
        dsy = "–" if r["dice_syncc"] is None else f"{r['dice_syncc']:.4f}"
        print(f"| {k} | {r['similarity_truth']:.4f} | {r['similarity_nmsr']:.4f} | {r['grad_l2_truth']:.4f} | "
              f"{r['grad_l2_nmsr']:.4f} | {r['dice_nmsr']:.4f} | {dsy} |")
    print(f"NMSR matches the frames better than the true field on {summary['nmsr_matches_better_than_truth']} of "
          f"{len(per_case)}; below SyN-CC's Dice: {below} (of which matching better than the truth: "
          f"{summary['below_syncc_matching_better_than_truth']})")
    return {"cases": per_case, "summary": summary}


# ---- profile -------------------------------------------------------------------------------------
def profile_echo(case) -> dict:
    import torch
    from torch.profiler import ProfilerActivity, profile

    tl.register(case["frames"][:3], method="nmsr", iterations=2)  # warm-up
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t0 = time.perf_counter()
        run_nmsr(case)
        wall = time.perf_counter() - t0
    scales = [{"scale": e["scale"], "size": e["size"], "iterations": e["iterations"], "seconds": e["seconds"]}
              for e in get_engine("nmsr").last_log]
    rows = []
    averages = prof.key_averages()  # minutes on a whole registration's trace: once
    total = sum(e.self_cpu_time_total for e in averages)
    for e in sorted(averages, key=lambda e: -e.self_cpu_time_total)[:15]:
        rows.append({"op": e.key, "self_pct": 100.0 * e.self_cpu_time_total / total, "calls": e.count})
    print(f"\n## Profile: one registration of the bundled echo ({wall:.1f} s wall, torch.profiler, self CPU time)")
    for e in scales:
        print(f"scale {e['scale']:<6g} {e['size'][0]:4d}x{e['size'][1]:<4d} {e['iterations']:4d} iterations {e['seconds']:7.2f} s "
              f"({1000 * e['seconds'] / max(e['iterations'], 1):.0f} ms/iteration)")
    for r in rows:
        print(f"{r['op']:45s} {r['self_pct']:6.1f} %  {r['calls']:7d} calls")
    return {"wall_s": wall, "scales": scales, "top_ops": rows, "threads": torch.get_num_threads()}


#: phantom_case index of the second, untouched set of phantoms (seeds 60,000+)
FRESH_OFFSET = 10_000
#: the phantoms of the pace section: 60001 (NMSR slower than SyN-CC in the fresh section) and 60004 (level)
PACE_PHANTOMS = (FRESH_OFFSET + 1, FRESH_OFFSET + 2, FRESH_OFFSET + 4)
#: the sections, in the order they run (``--skip``, ``--only``)
SECTIONS = ("synthetic", "landscape", "consecutive", "variants", "cold", "fresh", "heldout", "real", "realcc", "realsub",
            "sunnybrook", "noise", "pace", "radius", "symmetric", "objective", "seeds", "edges", "cubic", "cubicpace",
            "spread", "truth", "sunnyspread", "cpucheck", "maskscale")
#: the held-out set (``heldout`` section), fixed on 2026-12-03 before any of it was run: seeds nobody
#: had registered while the defaults were chosen: 8 phantoms, seeds 70,000+, and 2 synthetic echoes
#: like the bundled one (its seed is 0; the warm start saw 10,000-13,999)
HELDOUT_OFFSET = 20_000
HELDOUT_ECHO_SEEDS = (70_000, 70_001)
#: NMSR's smoothness weights on the real echo's first frames (the engine's two defaults, 10 on noisy
#: frames and 3 on clean ones such as these, among them)
REAL_SMOOTH_SWEEP = (10.0, 3.0, 1.0, 0.2)


def sweep_name(lam: float) -> str:
    """The row of smoothness weight ``lam`` in the real-echo sweep (the row "nmsr" is the engine's default)."""
    return f"nmsr smooth={lam:g}"


#: ... and λ = 3 run longer (400 iterations at every scale, patience 40 instead of 10): how far the caps stop it
REAL_LONG = dict(iterations=400, final_iterations=400, patience=40, iterations_side=0)  # as given, at every scale
#: the engine's settings before one network per pair, the finer loss and noise compensation became
#: its defaults (the paper's one network for all pairs, the loss at the field's own scale, bilinear
#: resampling and one λ everywhere)
PAPER_SHARED = dict(pair_networks_from=2.0, loss_octaves=0, final_iterations=-1, noise_compensation=False,
                    interpolation="linear", edge_weight=0.0)
#: the engine's defaults until the eighteenth run (bilinear resampling in the loss, one λ everywhere):
#: ``--nmsr interpolation=linear --nmsr edge_weight=0`` re-runs the sections measured with them
EARLIER_DEFAULTS = {"interpolation": "linear", "edge_weight": 0.0}
#: NMSR's runs on each Sunnybrook slice (beside "none" and ANTs): the ED,ES pair with the defaults
#: (λ = 3 on these clean frames) and with the noisy frames' λ = 10 everywhere, and the consecutive
#: chain through every phase from ED to ES
SUNNYBROOK_NMSR = {"nmsr (ED,ES pair)": {}, "nmsr smooth=10 (ED,ES pair)": {"smooth": 10.0},
                   "nmsr consecutive (ED..ES)": {"pairing": "consecutive"}}


#: the maskscale section's rows: NMSR's defaults, NMSR on the frames scaled the earlier way, SyN-CC
MASK_ROWS = ("nmsr", "nmsr, whole-frame scale (before)", "ants SyNCC")


def mask_cases(which: str, smoke: bool = False) -> list[dict]:
    """The maskscale section's cases: ``"synthetic"`` (the bundled echo, the 2 held-out echoes), ``"real"`` (the real
    echo's first 6 frames, in the whole clip's fan, and the whole clip) or ``"all"``."""
    if smoke:
        return [first_frames(echo_case())]
    out = [echo_case()] + [echo_case_seed(seed) for seed in HELDOUT_ECHO_SEEDS] if which in ("synthetic", "all") else []
    return out + ([real_echo_head(6), real_echo_clip()] if which in ("real", "all") else [])


def mask_scale(cases: list[dict], use_ants: bool, kept: dict | None = None) -> dict:
    """"maskscale" (module docstring, 20): per case the :data:`MASK_ROWS`, and per figure whether NMSR is worse than
    SyN-CC (:data:`WORSE_IF`, the figures the case has), now and with the earlier scale. ``kept``: the stored
    section, whose other cases stay."""
    out = {"cpu": cpu_info(), "cases": dict((kept or {}).get("cases", {}))}
    for case in cases:
        earlier = normalize_sequence(case["frames"])
        if not np.array_equal(scaled(earlier, case["mask"]), earlier):  # else the row would not be the earlier scale's
            raise RuntimeError(f"{case['name']}: the frames scaled on the whole frame are scaled again in the mask")
        rows = {"nmsr": run_nmsr(case), "nmsr, whole-frame scale (before)": run_nmsr({**case, "frames": earlier})}
        if use_ants:
            rows["ants SyNCC"] = run_ants(case, **ANTS["ants SyNCC"])
        print_table(f"maskscale: {case['name']} (intensities scaled in the mask)", rows)
        out["cases"][case["name"]] = rows
    if use_ants:
        out["worse_than_syncc"] = mask_verdicts(out["cases"])
    return out


def mask_verdicts(cases: dict[str, dict]) -> dict[str, list[str]]:
    """Per figure of :data:`WORSE_IF` the maskscale cases where NMSR's defaults are worse than SyN-CC, both given the
    frames scaled in the mask (the earlier scale's row is not judged here: its MSE is on other frames; its verdicts
    are the cpucheck section's, whose NMSR rows it equals on the same CPU)."""
    return {k: [n for n, rows in cases.items() if k in rows["nmsr"] and bool(worse(rows["nmsr"][k], rows["ants SyNCC"][k]))]
            for k, worse in WORSE_IF.items()}


def cpu_check(cases: dict[str, list[dict]], R: dict, use_ants: bool, sunny_limit: int | None) -> dict:
    """"cpucheck": NMSR's defaults and SyN-CC once more on the synthetic, fresh and held-out sections' cases and on the
    Sunnybrook ED,ES pairs, on this machine's CPU, beside those sections' stored rows (an optimisation does not give
    the same bits on another CPU, and ANTs' affine stage may choose otherwise): per case the figures, and where the
    verdict "NMSR worse than SyN-CC" (:data:`WORSE_IF`; Sunnybrook: Dice) differs from the stored one's."""
    out: dict = {"cpu": cpu_info(), "stored_cpu": R.get("cpu"), "cases": {}, "sunnybrook": {}}
    if not use_ants:
        print("\ncpucheck: needs ANTs (the bench extra); skipped")
        return out
    for sec, cs in cases.items():
        for case in cs:
            rows = {"nmsr": run_nmsr(case), "ants SyNCC": run_ants(case, **ANTS["ants SyNCC"])}
            out["cases"][f"{sec}: {case['name']}"] = rows
            print_table(f"cpucheck, {sec}: {case['name']}", rows)
    if SHARED.is_dir():
        for k, (name, cine, ed, es, endo_ed, endo_es) in enumerate(sunnybrook_cases()):
            if sunny_limit is not None and k >= sunny_limit:
                break
            dice, res = sunnybrook_nmsr(cine[[ed, es]], endo_ed, endo_es)
            _, labs, _, _ = ants_register(res.frames, 0, endo_ed.astype(np.int32), **ANTS["ants SyNCC"])
            out["sunnybrook"][name] = {"nmsr": float(dice), "ants SyNCC": float(metrics.dice(labs[1] > 0, endo_es))}
    out["verdicts"] = cpu_verdicts(out, R)
    for k, v in out["verdicts"].items():
        print(f"  cpucheck {k}: NMSR worse here on {v['here']}, stored on {v['stored']}; changed: {', '.join(v['changed']) or 'none'}")
    return out


def cpu_verdicts(check: dict, R: dict) -> dict[str, dict]:
    """Per figure, the cases where NMSR is worse than SyN-CC in ``check`` (this CPU's rows) and in ``R``'s stored
    sections, and those whose verdict changed (a case missing from ``R`` is left out)."""
    worse: dict[str, dict] = {k: {"here": [], "stored": [], "changed": []} for k in [*WORSE_IF, "sunnybrook dice"]}

    def add(figure, name, here, stored):
        v = worse[figure]
        v["here"] += [name] if here else []
        v["stored"] += [name] if stored else []
        v["changed"] += [name] if here != stored else []

    for key, rows in check.get("cases", {}).items():
        sec, name = key.split(": ", 1)
        stored = R.get(sec, {}).get(name)
        if not stored or "ants SyNCC" not in stored:
            continue
        for figure, is_worse in WORSE_IF.items():
            add(figure, key, bool(is_worse(rows["nmsr"][figure], rows["ants SyNCC"][figure])),
                bool(is_worse(stored["nmsr"][figure], stored["ants SyNCC"][figure])))
    sunny = R.get("sunnybrook", {})
    for name, d in check.get("sunnybrook", {}).items():
        n_old = sunny.get("nmsr (ED,ES pair)", {}).get("per_case", {}).get(name)
        a_old = sunny.get("ants SyNCC", {}).get("per_case", {}).get(name)
        if n_old is not None and a_old is not None:
            add("sunnybrook dice", name, d["nmsr"] < d["ants SyNCC"], n_old < a_old)
    return worse


# ---- main ----------------------------------------------------------------------------------------
def cpu_info() -> dict:
    """The CPU the run had (model name and the instruction set torch's kernels use): the arithmetic of large frames
    can differ between CPUs (the 240x320 real echo did, by 0.0007 LCC10; 64² phantoms did not)."""
    import platform

    import torch

    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        model = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                      if ln.startswith("model name")), model)
    return {"model": model, "torch_capability": torch.backends.cpu.get_cpu_capability(), "cores": os.cpu_count()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer phantoms and real cases")
    ap.add_argument("--smoke", action="store_true", help="tiny everything, 3 iterations: checks the script runs (numbers meaningless)")
    ap.add_argument("--no-ants", action="store_true")
    ap.add_argument("--threads", type=int, default=2, help="torch and ITK threads (the same for both)")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--skip", default="", help="comma list of sections to skip: " + ",".join(SECTIONS))
    ap.add_argument("--only", default="", help="comma list of the sections to run (every other one skipped), e.g. "
                    "--only pace,cold --out benchmarks/results/nmsr/xeon: the time goal on another CPU")
    ap.add_argument("--rounds", type=int, default=3, help="pace section: rounds of NMSR and SyN-CC timed side by side")
    ap.add_argument("--seed-phantoms", default="", help="seeds and spread sections: only these phantoms (comma list of their seeds, "
                    "e.g. 70000,70001); the others keep the results.json's figures")
    ap.add_argument("--sunny-part", default="0/1", metavar="K/N", help="sunnyspread section: every N-th Sunnybrook slice "
                    "from the K-th (e.g. 0/2 and 1/2 in two processes); the others keep the results.json's figures")
    ap.add_argument("--truth-cases", default="", help="truth section: only these cases (comma list of names, e.g. "
                    "'phantom 50004,echo 70000,echo (bundled)')")
    ap.add_argument("--mask-cases", default="all", choices=("all", "synthetic", "real"),
                    help="maskscale section: the synthetic echoes, the real echo's, or all; the others keep their figures")
    ap.add_argument("--nmsr", action="append", default=[], metavar="KEY=VALUE",
                    help="an NMSR option every NMSR row starts from instead of the engine's default (repeatable; "
                         "e.g. --nmsr interpolation=linear --nmsr edge_weight=0: the defaults before the eighteenth run)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "nmsr"))
    ap.add_argument("--recount", action="store_true", help="run nothing: count the option studies' Sunnybrook slices "
                    "again against the sunnybrook section of --out's results.json and write it back")
    args = ap.parse_args(argv)
    if args.only:
        only = set(filter(None, args.only.split(",")))
        if only - set(SECTIONS):
            ap.error(f"--only: no section(s) {', '.join(sorted(only - set(SECTIONS)))}; they are {', '.join(SECTIONS)}")
        args.skip = ",".join([*filter(None, args.skip.split(",")), *(x for x in SECTIONS if x not in only)])
    if args.recount:
        path = Path(args.out) / "results.json"
        R = json.loads(path.read_text())
        for section, rows in recount_sunnybrook(R).items():
            for row, (before, now) in rows.items():
                print(f"{section:10s} {row:42s} slices >= SyN-CC's: {before} -> {now}")
        write_json(path, R, default=float)
        return 0
    NMSR_DEFAULT.update(parse_params(args.nmsr))  # this run's; gone when it returns (main may run again in a process)
    try:
        return run_sections(args)
    finally:
        NMSR_DEFAULT.clear()


def run_sections(args) -> int:
    """The run :func:`main` parsed: every section not skipped, with :data:`NMSR_DEFAULT` set for it."""
    os.environ["ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"] = str(args.threads)
    import torch

    torch.set_num_threads(args.threads)
    skip = set(filter(None, args.skip.split(",")))
    use_ants = have_ants() and not args.no_ants
    if use_ants:
        import ants.config

        ants.config._random_seed = 1234  # ANTs samples its affine metric at random: make reruns repeatable
    n_phantoms = 3 if args.quick else 8
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    prev = out / "results.json"
    # sections skipped in this run keep their results from the last one (e.g. --skip ... --profile)
    R: dict = json.loads(prev.read_text()) if skip and prev.is_file() else {}
    R.pop("cpu_of_the_last_partial_run", None)
    if R.get("cpu") not in (None, cpu_info()):  # the kept sections' CPU stays said; this run's is said beside it
        R["cpu_of_the_last_partial_run"] = cpu_info()
    R.update({"torch": torch.__version__, "cpu": R.get("cpu") or cpu_info(), "threads": args.threads, "ants": use_ants, "quick": args.quick,
              "load_avg_start": os.getloadavg(), "nmsr_defaults": method_params("nmsr")})
    R["nmsr_defaults"] = {k: v["default"] for k, v in R["nmsr_defaults"].items()}
    R["nmsr_defaults"].update(NMSR_DEFAULT)  # what this run's NMSR rows start from

    cases = [echo_case()] + [phantom_case(i) for i in range(n_phantoms)]
    if args.smoke:
        NMSR_DEFAULT.update(iterations=3)
        cases = [first_frames(c) for c in cases[:2]]
        args.quick = True
    fresh_ids = range(FRESH_OFFSET, FRESH_OFFSET + (1 if args.smoke else 3 if args.quick else 8))  # the fresh phantoms
    # ... built once, for the sections that run on them
    fresh_cases = [first_frames(phantom_case(i)) if args.smoke else phantom_case(i) for i in fresh_ids] \
        if {"fresh", "radius", "objective", *BESIDE_DEFAULTS} - skip else []
    # the real echo's first frames (5 pairs), for the sections that run on them
    real_frames = None if not args.quick else 3 if args.smoke else 10  # the real and realcc sections' clip: whole, or its first frames
    real_head = real_echo_head(3 if args.smoke else 6) if {"realsub", "pace", "cubicpace", "radius", *BESIDE_DEFAULTS} - skip else None
    sunny_limit = 1 if args.smoke else 6 if args.quick else None  # the Sunnybrook slices of the sections that run them
    if "synthetic" not in skip:
        R["synthetic"] = {}
        for case in cases:
            rows = {"none": run_none(case), "nmsr": run_nmsr(case),
                    "nmsr noise_compensation=False": run_nmsr(case, noise_compensation=False),
                    "nmsr shared network": run_nmsr(case, **PAPER_SHARED),
                    "nmsr smooth=1": run_nmsr(case, smooth=1.0)}
            if use_ants:
                for name, kw in ANTS.items():
                    rows[name] = run_ants(case, **kw)
            R["synthetic"][case["name"]] = rows
            print_table(f"{case['name']}: {case['frames'].shape[0]}x{case['frames'].shape[1]}x{case['frames'].shape[2]}", rows)
        ph = [v for k, v in R["synthetic"].items() if k.startswith("phantom")]
        R["phantom_mean"] = {m: mean_rows([c[m] for c in ph]) for m in ph[0]}
        print_table(f"mean over {len(ph)} unseen phantoms", R["phantom_mean"])
        if use_ants:
            verdict = {}
            for cname, rows in R["synthetic"].items():
                a, n = rows["ants SyNCC"], rows["nmsr"]
                verdict[cname] = {k: (n[k] >= a[k]) if k in ("lncc10", "dice") else (n[k] <= a[k])
                                  for k in ("mse", "lncc10", "dice", "epe_px", "seconds")}
            R["nmsr_vs_syncc"] = verdict
            print("\nNMSR at least as good as ANTs SyNCC (True per metric):")
            for cname, v in verdict.items():
                print(f"  {cname:20s} " + "  ".join(f"{k}={'yes' if ok else 'NO'}" for k, ok in v.items()))

    if "landscape" not in skip:
        R["landscape"] = loss_landscape([c for c in cases if c["name"].startswith("phantom")])

    if "consecutive" not in skip:
        # the paper's dense tracking: fields of consecutive pairs chained to the reference, where a
        # similarity bias of each pair adds up along the chain
        R["consecutive"] = {}
        for case in cases:
            R["consecutive"][case["name"]] = {
                "nmsr consecutive": run_nmsr(case, pairing="consecutive"),
                "nmsr consecutive noise_compensation=False": run_nmsr(case, pairing="consecutive", noise_compensation=False)}
        ph = [v for k, v in R["consecutive"].items() if k.startswith("phantom")]
        R["consecutive_phantom_mean"] = {m: mean_rows([c[m] for c in ph]) for m in ph[0]}
        print_table("consecutive pairing, bundled echo", R["consecutive"][cases[0]["name"]])
        print_table(f"consecutive pairing, mean over {len(ph)} unseen phantoms", R["consecutive_phantom_mean"])

    if "variants" not in skip:
        variants = {
            "NMSR (plain, random init)": dict(init="random"),
            "NMSR_VI (previous scale)": dict(init="previous"),
            "NMSR_V (pretrained)": dict(init="pretrained"),
            "NMSR_V+VI (default)": {},
            "warm start only (0 it)": dict(iterations=0),
            "single scale, pretrained": dict(levels=1),
        }
        R["variants"] = {}
        vcases = cases[: 1 + (1 if args.smoke else 2 if args.quick else 4)]
        for vname, kw in variants.items():
            per = [run_nmsr(c, **kw) for c in vcases]
            R["variants"][vname] = {"echo": per[0], "phantoms": mean_rows(per[1:])}
        for part in ("echo", "phantoms"):
            print_table(f"variants on {'the bundled echo' if part == 'echo' else f'{len(vcases) - 1} phantoms (mean)'}",
                        {k: v[part] for k, v in R["variants"].items()})

    if "noise" not in skip:
        # the white-noise share that sets NMSR's λ (smooth at >= CLEAN_NOISE, smooth_clean below), per case
        seq = tl.load_sequence("echo_real")
        real = seq.frames if not args.quick else seq.frames[:10]
        fan = real_echo_mask(seq.frames, seq.metadata.get("ultrasound_region_rc"))  # the realsub section's mask
        named = [(c["name"], c["frames"], c["mask"]) for c in cases]
        fresh_whole = [phantom_case(i) for i in fresh_ids]  # whole, also in --smoke (fresh_cases are cut there)
        named += [(c["name"], c["frames"], None) for c in fresh_whole]
        named += [("cold-start phantom (8 frames)", phantom_case(999, n_frames=8)["frames"], None),
                  ("echo_real 0-5", real[:6], fan),  # the real section's mask is from the frames it runs on
                  ("echo_real", real, fan if not args.quick else real_echo_mask(real, seq.metadata.get("ultrasound_region_rc")))]
        if SHARED.is_dir():
            named += [(f"sunnybrook {name} ED,ES", cine[[ed, es]], None) for k, (name, cine, ed, es, *_) in
                      enumerate(sunnybrook_cases()) if not (args.smoke and k) and not (args.quick and k >= 6)]
        R["noise"] = {name: noise_share(frames, mask) for name, frames, mask in named}
        print(f"\n## White noise, % of the frames' variance (NMSR: λ = smooth at >= {100 * CLEAN_NOISE:g} %, smooth_clean below)")
        for name, pct in R["noise"].items():
            print(f"{name:40s} {pct:7.3f} %")
        # the estimator against the truth, where it is known (the phantoms' Rician sigma)
        phantoms = [c for c in cases if "noise_sigma" in c] + fresh_whole
        R["noise_truth"] = truth = {c["name"]: {**noise_estimates(c["frames"], c["noise_sigma"]), "nmsr": R["noise"][c["name"]]}
                                    for c in phantoms}
        print("\n## Phantoms: white noise % of the variance, true vs NMSR's estimate (median) vs Immerkær's mean")
        for name, e in truth.items():
            print(f"{name:40s} true {e['true']:6.3f}  nmsr {e['nmsr']:6.3f} ({e['nmsr'] / e['true']:.2f}x)  "
                  f"mean {e['immerkaer_mean']:6.3f} ({e['immerkaer_mean'] / e['true']:.2f}x)")

    if "cold" not in skip:
        R["cold_start_8x64x64"] = cold_start(args.threads)
        c = R["cold_start_8x64x64"]
        print(f"\n## Cold start, 8x64x64 in a fresh process: import {c['import_s']:.1f} s, first register {c['first_register_s']:.1f} s "
              f"(process total {c['process_s']:.1f} s); second register {c['second_register_s']:.1f} s")
        if use_ants:
            case = phantom_case(999, n_frames=3 if args.smoke else 8)
            R["cold_start_ants"] = {name: run_ants(case, **kw)["seconds"] for name, kw in ANTS.items()}
            print("   ANTs on the same sequence (in this process): " + ", ".join(f"{k} {v:.1f} s" for k, v in R["cold_start_ants"].items()))
            R["cold_start_syncc_process"] = c = cold_start(args.threads, script=COLD_ANTS)
            print(f"   ANTs SyN-CC in a fresh process: import {c['import_s']:.1f} s, first register {c['first_register_s']:.1f} s "
                  f"(process total {c['process_s']:.1f} s); second register {c['second_register_s']:.1f} s")

    if "real" not in skip:
        case = real_echo_clip(real_frames)
        frames = case["frames"]
        rows = {"none": run_none(case), "nmsr": run_nmsr(case), "nmsr smooth=1": run_nmsr(case, smooth=1.0),
                "nmsr consecutive": run_nmsr(case, pairing="consecutive")}
        if use_ants:
            rows["ants SyN"] = run_ants(case, syn="SyN")
        R["echo_real"] = rows
        print_table(f"real echo (pydicom ybr_color), {frames.shape[0]}x{frames.shape[1]}x{frames.shape[2]}, in the fan", rows)

    if "realcc" not in skip:
        # SyN-CC on the whole clip (~17 s a pair here), with NMSR's defaults just before it in the same
        # process: the issue's speed figure is against SyN-CC; run this section alone for the times
        case = real_echo_clip(real_frames)
        frames = case["frames"]
        rows = beside_syncc(case, use_ants)
        R["echo_real_syncc"] = rows
        if use_ants:  # beside heldout_time_ratio: NMSR's time over SyN-CC's (the rows hold each method's own figures)
            R["echo_real_syncc_time_ratio"] = rows["nmsr"]["seconds"] / rows["ants SyNCC"]["seconds"]
        print_table(f"real echo, whole clip {frames.shape[0]}x{frames.shape[1]}x{frames.shape[2]}: NMSR then SyN-CC, one process", rows)

    if "realsub" not in skip:
        # SyN-CC costs 25-40 s a pair at 240x320: the first 6 frames (5 pairs), with NMSR's smoothness
        # weight swept, so that the similarity each method reaches is read against how rough its
        # field is (no ground truth here: local CC alone rewards a field that follows the speckle)
        sub = real_head
        frames = sub["frames"]
        rows = {"none": run_none(sub), "nmsr": run_nmsr(sub)}
        for lam in REAL_SMOOTH_SWEEP:
            rows[sweep_name(lam)] = run_nmsr(sub, smooth=lam)
        rows["nmsr smooth=0.2 diffeomorphic"] = run_nmsr(sub, smooth=0.2, diffeomorphic=True)
        # the same λ with the iteration caps and the early stop's patience raised: how much of the gap is convergence
        rows["nmsr smooth=3, 400 iterations"] = run_nmsr(sub, smooth=3.0, **({"iterations": 3} if args.smoke else REAL_LONG))
        if use_ants:
            for name, kw in ANTS.items():
                rows[name] = run_ants(sub, **kw)
        R["echo_real_0_5"] = rows
        print_table(f"real echo, frames 0-{len(frames) - 1}, in the fan: similarity against roughness", rows)

    if "fresh" not in skip:
        # the engine's settings were chosen by looking at the synthetic section's 8 phantoms: a second
        # set nobody looked at before (seeds 60,000+) says how much of that carries over
        R["fresh"] = {}
        for case in fresh_cases:
            rows = {"nmsr": run_nmsr(case), "nmsr noise_compensation=False": run_nmsr(case, noise_compensation=False),
                    "nmsr shared network": run_nmsr(case, **PAPER_SHARED)}
            if use_ants:
                rows["ants SyNCC"] = run_ants(case, **ANTS["ants SyNCC"])
            R["fresh"][case["name"]] = rows
        names = list(R["fresh"])
        R["fresh_mean"] = {m: mean_rows([R["fresh"][n][m] for n in names]) for m in R["fresh"][names[0]]}
        print_table(f"mean over {len(names)} fresh phantoms (seeds {names[0].split()[-1]}+)", R["fresh_mean"])
        if use_ants:
            below = [n for n in names if R["fresh"][n]["nmsr"]["dice"] < R["fresh"][n]["ants SyNCC"]["dice"]]
            print(f"  NMSR's Dice below SyN-CC's on {len(below)} of {len(names)}: {', '.join(below) or 'none'}")

    if "heldout" not in skip:
        # the defaults once more, on sequences nobody had run them on (HELDOUT_*), beside SyN-CC
        if args.smoke:
            held = [first_frames(phantom_case(HELDOUT_OFFSET)), first_frames(echo_case_seed(HELDOUT_ECHO_SEEDS[0], size=64))]
        else:
            held = [phantom_case(i) for i in range(HELDOUT_OFFSET, HELDOUT_OFFSET + (3 if args.quick else 8))]
            held += [echo_case_seed(seed) for seed in HELDOUT_ECHO_SEEDS[: 1 if args.quick else None]]
        R["heldout"] = {}
        for case in held:
            R["heldout"][case["name"]] = rows = beside_syncc(case, use_ants)
            print_table(f"held out: {case['name']}", rows)
        if use_ants:
            R["heldout_below_syncc"] = worse_cases(R["heldout"])
            R["heldout_time_ratio"] = {n: r["nmsr"]["seconds"] / r["ants SyNCC"]["seconds"] for n, r in R["heldout"].items()}
            for k, v in R["heldout_below_syncc"].items():
                print(f"  held out, NMSR worse than SyN-CC on {k}: {len(v)} of {len(held)} {', '.join(v)}")

    if "truth" not in skip:
        # every synthetic case of the synthetic, fresh and heldout sections, with its noise-free frames
        if args.smoke:
            truth_cases = [first_frames(phantom_case(0)), first_frames(echo_case_seed(HELDOUT_ECHO_SEEDS[0], size=64))]
        else:
            k = 3 if args.quick else 8
            truth_cases = [echo_case(), *(phantom_case(base + i) for base in (0, FRESH_OFFSET, HELDOUT_OFFSET) for i in range(k)),
                           *(echo_case_seed(seed) for seed in HELDOUT_ECHO_SEEDS[: 1 if args.quick else None])]
        kept = {}
        if args.truth_cases:  # some cases only, by name (the others keep their figures)
            keep = set(args.truth_cases.split(","))
            truth_cases = [c for c in truth_cases if c["name"] in keep]
            kept = R.get("truth", {}).get("cases", {})
        R["truth"] = truth_check(truth_cases, use_ants, kept)

    if "sunnybrook" not in skip and SHARED.is_dir():
        per: dict[str, list] = {"none": [], **{m: [] for m in SUNNYBROOK_NMSR}}
        if use_ants:
            per.update({k: [] for k in ANTS})
        secs: dict[str, float] = {k: 0.0 for k in per}
        lam_used: dict[str, list] = {}  # the λ NMSR used on each slice (it follows the frames' noise)
        names = []
        for k, (name, cine, ed, es, endo_ed, endo_es) in enumerate(sunnybrook_cases()):
            if sunny_limit is not None and k >= sunny_limit:
                break
            names.append(name)
            lab = endo_ed.astype(np.int32)
            per["none"].append(metrics.dice(lab > 0, endo_es))
            path = list(range(ed, es - 1, -1)) if ed > es else list(range(ed, es + 1))
            pair = None  # the ED,ES frames as NMSR's defaults registered them (normalised over the pair)
            for m, kw in SUNNYBROOK_NMSR.items():
                # ED -> ES as a pair, or along every phase between them; the label propagated to the last frame
                dice, res = sunnybrook_nmsr(cine[path if kw.get("pairing") == "consecutive" else [ed, es]], endo_ed, endo_es, **kw)
                per[m].append(dice)
                secs[m] += res.runtime_s
                lam_used.setdefault(m, []).append(get_engine("nmsr").last_smooth)
                if pair is None and not kw:
                    pair = res.frames
            if use_ants:
                # ANTs registers the very frames NMSR's pair did (until the twenty-first run: the whole cine normalised
                # and the pair taken from it, `earlier_sunnybrook_ants` in results.json; SyN-CC's Dice moved by up to
                # 0.006 on a slice between the two)
                for aname, kw in ANTS.items():
                    _, labs, _, s = ants_register(pair, 0, lab, **kw)
                    per[aname].append(metrics.dice(labs[1] > 0, endo_es))
                    secs[aname] += s
        R["sunnybrook"] = {m: {"dice_mean": float(np.mean(v)), "dice_std": float(np.std(v)), "seconds_per_case": secs[m] / len(v),
                               "per_case": dict(zip(names, map(float, v))),
                               **({"smooth_used": dict(zip(names, lam_used[m]))} if m in lam_used else {})} for m, v in per.items()}
        print(f"\n## Sunnybrook cine MRI ({len(names)} slices of 3 patients): ED endocardium -> ES, Dice vs expert")
        print(f"{'method':28s} {'Dice':>6s} {'std':>6s} {'s/case':>7s}")
        for m, r in R["sunnybrook"].items():
            print(f"{m:28s} {r['dice_mean']:6.3f} {r['dice_std']:6.3f} {r['seconds_per_case']:7.2f}")

    pace_args = (real_head, PACE_PHANTOMS[:1] if args.quick else PACE_PHANTOMS, 1 if args.smoke else args.rounds, use_ants)
    if "pace" not in skip:
        R["pace"] = pace(*pace_args)
    if "cubicpace" not in skip:  # the pace section's protocol, the cubic section's last row timed in the same rounds
        R["cubicpace"] = pace(*pace_args, candidates={CUBIC_CANDIDATE: CUBIC[CUBIC_CANDIDATE]})

    if "radius" not in skip:
        R["radius"] = radius_sweep(cases + fresh_cases + [real_head], sunny_limit, R)

    held = [first_frames(phantom_case(HELDOUT_OFFSET)) if args.smoke else phantom_case(i)
            for i in range(HELDOUT_OFFSET, HELDOUT_OFFSET + (1 if args.smoke else 3 if args.quick else 8))] \
        if {"objective", *BESIDE_DEFAULTS} - skip else []
    if "objective" not in skip:
        R["objective"] = objective_check(cases[1:] + fresh_cases + held, R)

    for section, (variants, title) in BESIDE_DEFAULTS.items():
        if section not in skip:
            R[section] = defaults_beside(variants, title, cases + fresh_cases, held, sunny_limit, R, real_head)

    if {"seeds", "spread"} - skip:
        if args.smoke:
            spread_cases = [first_frames(phantom_case(FRESH_OFFSET + 1))]
        else:
            ids = [i for base in (0, FRESH_OFFSET, HELDOUT_OFFSET) for i in range(base, base + n_phantoms)]
            if args.seed_phantoms:  # phantom seeds, e.g. 70000,70001 (the others keep their last results)
                ids = [int(v) - PHANTOM_SEED0 for v in args.seed_phantoms.split(",")]
            spread_cases = [phantom_case(i) for i in ids]
        if "seeds" not in skip and use_ants:
            R["seeds"] = syncc_seed_spread(spread_cases, R, ANTS_SEEDS[:2] if args.smoke else ANTS_SEEDS)
        if "spread" not in skip:
            R["spread"] = nmsr_spread(spread_cases, R, SPREAD_ROWS, PERTURBATIONS[:2] if args.smoke else PERTURBATIONS)

    if "sunnyspread" not in skip and SHARED.is_dir():
        k, n = (int(v) for v in args.sunny_part.split("/"))
        R["sunnyspread"] = sunnybrook_spread(R, use_ants, sunny_limit, (k, n), ANTS_SEEDS[:2] if args.smoke else ANTS_SEEDS,
                                             PERTURBATIONS[:2] if args.smoke else PERTURBATIONS)

    if "cpucheck" not in skip:
        if args.smoke:
            check_cases = {"synthetic": [first_frames(phantom_case(0))]}
        else:
            n = 3 if args.quick else 8
            check_cases = {"synthetic": [echo_case()] + [phantom_case(i) for i in range(n)],
                           "fresh": [phantom_case(i) for i in range(FRESH_OFFSET, FRESH_OFFSET + n)],
                           "heldout": [phantom_case(i) for i in range(HELDOUT_OFFSET, HELDOUT_OFFSET + n)]
                           + [echo_case_seed(seed) for seed in HELDOUT_ECHO_SEEDS[: 1 if args.quick else None]]}
        R["cpucheck"] = cpu_check(check_cases, R, use_ants, sunny_limit)

    if "maskscale" not in skip:
        R["maskscale"] = mask_scale(mask_cases(args.mask_cases, args.smoke), use_ants, R.get("maskscale"))

    if args.profile:
        R["profile"] = profile_echo(cases[0])

    R["load_avg_end"] = os.getloadavg()
    recount_sunnybrook(R)  # the option studies counted against the sunnybrook section as it is now
    write_json(out / "results.json", R, default=float)
    if "synthetic" in R:
        plot(R, out / "nmsr.png")
    if "echo_real_0_5" in R:
        plot_real(R["echo_real_0_5"], out / "nmsr_real.png")
    print(f"\nwrote {out / 'results.json'}" + ("" if "synthetic" not in R else f" and {out / 'nmsr.png'}"))
    return 0


def plot_real(rows: dict, path: Path) -> None:
    """Local CC against field roughness on the real echo's first frames: NMSR's smoothness sweep as a line, the peers as points."""
    from benchmarks.peers import pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(1, 2, figsize=(10, 4.2))
    sweep = [(n, rows[n]) for n in map(sweep_name, REAL_SMOOTH_SWEEP) if n in rows]
    for a, key, label in zip(ax, ("grad2", "jitter_px"), ("mean |∇u|² in the fan (roughness in space)",
                                                          "mean |u(t+1) − 2u(t) + u(t−1)| in the fan, px (in time)")):
        a.plot([r[key] for _, r in sweep], [r["lncc10"] for _, r in sweep], "o-", color="C0", label="nmsr, smooth swept")
        for n, r in sweep:
            a.annotate(n.replace("nmsr smooth=", "λ="), (r[key], r["lncc10"]),
                       textcoords="offset points", xytext=(5, -10), fontsize=8)
        for i, (n, r) in enumerate((n, r) for n, r in rows.items() if (n, r) not in sweep):
            name = f"nmsr, defaults (λ = {r['smooth_used']:g} here)" if n == "nmsr" and r.get("smooth_used") else n
            a.plot([r[key]], [r["lncc10"]], "sDP^v"[i % 5], color=f"C{i + 1}", ms=8, label=name)
        a.set_xlabel(label, fontsize=9)
        a.set_ylabel("mean local CC (r=10, fan)", fontsize=9)
        a.grid(alpha=0.3)
    save_figure(fig, None, path, dpi=110)


def plot(R: dict, path: Path) -> None:
    from benchmarks.peers import pyplot, save_figure

    plt = pyplot()
    cases = list(R["synthetic"])
    methods = list(R["synthetic"][cases[0]])
    fig, ax = plt.subplots(1, 4, figsize=(17, 4.2))
    width = 0.8 / len(methods)
    x = np.arange(len(cases))
    for i, m in enumerate(methods):
        for a, key in zip(ax, ("dice", "lncc10", "epe_px", "seconds")):
            vals = [R["synthetic"][c][m].get(key, np.nan) for c in cases]
            a.bar(x + i * width, vals, width, label=m)
    for a, title in zip(ax, ("Dice of propagated labels", "mean local CC (r=10, mask)", "endpoint error vs truth (px)", "wall time (s)")):
        a.set_title(title, fontsize=10)
        a.set_xticks(x + 0.4 - width / 2)
        a.set_xticklabels([c.replace("phantom ", "ph") for c in cases], rotation=45, fontsize=7)
        a.grid(alpha=0.3, axis="y")
    ax[0].set_ylim(0.5, 1.0)
    ax[1].set_ylim(0.5, 1.0)
    ax[3].set_yscale("log")
    save_figure(fig, None, path, dpi=110)


if __name__ == "__main__":
    raise SystemExit(main())
