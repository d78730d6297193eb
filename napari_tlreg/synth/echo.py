"""An apical four-chamber-like echocardiography sequence with exact ground-truth motion.

Geometry (reference = end-diastole, frame 0): a 75° sector (probe at the top centre) with a
bullet-shaped left ventricle (apex near the probe, bright myocardial wall around a dark
cavity, open at the mitral annulus), the left atrium below it, the right ventricle and atrium
beside it, a bright pericardium, and textured tissue. Echogenicity is multiplied by speckle:
the magnitude of a correlated complex Gaussian field laid out on the beam grid (depth x angle,
so speckle cells widen with depth) and attached to the tissue (it moves with it), plus a small
per-frame decorrelation; then log compression to a 45 dB display range. Outside the sector the
image is 0 (``metadata["mask"]``).

Motion: ``x + u_t(x) = x + a_t v(x)`` with a_t the ED -> ES -> ED activation and ``v`` a
contraction about the LV apex: longitudinal ``e_long · s`` along the long axis and radial
``e_rad · l`` across it (more at the base than at the apex), faded out by a smooth window
around the heart. The window is meant to keep the sector's edges still, but it does not reach zero at
them everywhere: near end-systole a part of the sector (about a tenth of the bundled sample's) is pulled
from outside the fan, so the frames show there tissue that lay outside the reference's fan, where the reference
is black (the fan itself, a fixed mask, does not move; a known flaw, left as it is because the bundled sample and
every echo figure of the benchmarks were made with it; frames and true field agree, so the methods are compared
fairly, but no field can match those pixels from the reference). Frames are the continuous reference
evaluated at ``x + u_t(x)``; labels (1 = LV wall, 2 = LV cavity) are drawn on the reference and
carried to every frame with nearest sampling.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..io.sequence import Sequence
from ._common import as_rng, cycle_activation, cycle_sequence, pixel_grid, sample_bilinear, smooth_noise, smoothstep, soft_inside

__all__ = ["echo_sequence", "sector_mask", "DEPTH_MM"]

DEPTH_MM = 150.0  # imaging depth of the sector; spacing = DEPTH_MM / sector depth in pixels
_HALF_ANGLE = np.deg2rad(37.5)
_DR_DB = 45.0
LV_WALL, LV_CAVITY = 1, 2


def _geometry(size: int) -> dict:
    apex = np.array([1.0, (size - 1) / 2.0])  # probe position (row, col)
    depth = size - 3.0
    return {"apex": apex, "depth": depth, "near": 0.03 * size}


def sector_mask(size: int) -> np.ndarray:
    """The ``(H, W)`` bool fan of an ``size x size`` echo frame."""
    gm = _geometry(size)
    rr, cc = pixel_grid(size, size, np.float64)
    dy, dx = rr - gm["apex"][0], cc - gm["apex"][1]
    rad = np.hypot(dy, dx)
    ang = np.arctan2(dx, dy)
    return (rad <= gm["depth"]) & (rad >= gm["near"]) & (np.abs(ang) <= _HALF_ANGLE)


def _ellipse_sd(s, l, cs, cl, a, b):
    """Approximate signed distance (pixels, negative inside) to an axis-aligned ellipse in (s, l)."""
    ds, dl = (s - cs) / a, (l - cl) / b
    f = np.sqrt(ds * ds + dl * dl)
    grad = np.sqrt((ds / a) ** 2 + (dl / b) ** 2) / np.maximum(f, 1e-6)
    return (f - 1) / np.maximum(grad, 1e-6)


def _draw(rng: np.random.Generator, size: int, noise: float | None) -> dict:
    s = float(size)
    gm = _geometry(size)
    p: dict = dict(gm)
    tilt = np.deg2rad(rng.uniform(-8, 8))
    p["axis"] = np.array([np.cos(tilt), np.sin(tilt)])  # long axis (row, col), apex -> base
    p["lat"] = np.array([-np.sin(tilt), np.cos(tilt)])  # lateral unit vector (towards the LV's free wall)
    p["lv_apex"] = gm["apex"] + np.array([rng.uniform(0.12, 0.18) * s, rng.uniform(0.0, 0.06) * s])
    p["th"] = rng.uniform(0.055, 0.075) * s  # wall thickness
    p["Lc"] = rng.uniform(0.24, 0.28) * s  # cavity half-length
    p["Wc"] = rng.uniform(0.11, 0.14) * s  # cavity half-width
    p["La"] = rng.uniform(0.1, 0.13) * s
    p["Wa"] = rng.uniform(0.1, 0.13) * s
    p["rv_len"] = rng.uniform(0.8, 0.95)
    p["rv_w"] = rng.uniform(0.08, 0.11) * s
    p["e_long"] = rng.uniform(0.10, 0.18)
    p["e_rad"] = rng.uniform(0.18, 0.30)
    p["systole"] = rng.uniform(0.33, 0.42)
    p["E"] = {
        "cavity": rng.uniform(0.006, 0.015),
        "tissue": rng.uniform(0.07, 0.11),
        "myo": rng.uniform(0.18, 0.28),
        "peri": rng.uniform(0.5, 0.8),
    }
    p["texture"] = smooth_noise(rng, (size, size), 3.0 * s / 128)
    # speckle on the beam grid: depth samples every 0.6 px, angle such that the cell is ~1 px
    # wide at 30 % depth; a complex field smoothed to the resolution cell
    nr = int(np.ceil(p["depth"] / 0.6)) + 2
    na = int(np.ceil(2 * _HALF_ANGLE * 0.3 * p["depth"] / 0.8)) + 2
    p["sp_grid"] = (nr, na)
    p["speckle"] = [ndimage.gaussian_filter(rng.standard_normal((nr, na)), (0.9, 0.9), mode="nearest") for _ in range(2)]
    norm = np.sqrt(np.mean(p["speckle"][0] ** 2 + p["speckle"][1] ** 2))
    p["speckle"] = [(z / norm).astype(np.float32) for z in p["speckle"]]
    p["decorrelation"] = 0.15 if noise is None else float(noise)
    return p


def _beam_coords(p: dict, pr, pc):
    """(depth, angle) grid indices of positions (for the speckle grid)."""
    dy, dx = pr - p["apex"][0], pc - p["apex"][1]
    rad = np.hypot(dy, dx)
    ang = np.arctan2(dx, dy)
    nr, na = p["sp_grid"]
    ir = rad / p["depth"] * (nr - 2)
    ia = (ang + _HALF_ANGLE) / (2 * _HALF_ANGLE) * (na - 2)
    return ir, ia


def _local(p: dict, pr, pc):
    d0, d1 = pr - p["lv_apex"][0], pc - p["lv_apex"][1]
    s = d0 * p["axis"][0] + d1 * p["axis"][1]
    l = d0 * p["lat"][0] + d1 * p["lat"][1]
    return s, l


def _anatomy(p: dict, pr, pc):
    """Echogenicity (no speckle) and the label masks at reference positions."""
    s, l = _local(p, pr, pc)
    th, Lc, Wc = p["th"], p["Lc"], p["Wc"]
    cs = th + Lc  # cavity centre along the axis
    base = th + 1.8 * Lc  # mitral annulus
    cav = soft_inside(_ellipse_sd(s, l, cs, 0.0, Lc, Wc))
    epi = soft_inside(_ellipse_sd(s, l, cs, 0.0, Lc + th, Wc + th))
    above = soft_inside(s - base)  # LV side of the annulus
    lv_cav = cav * above
    lv_wall = np.clip(epi - cav, 0, 1) * above
    # left atrium below the annulus
    la_c = base + p["La"] * 0.9
    la_cav = soft_inside(_ellipse_sd(s, l, la_c, 0.0, p["La"], p["Wa"])) * (1 - above)
    la_wall = soft_inside(_ellipse_sd(s, l, la_c, 0.0, p["La"] + 0.3 * th, p["Wa"] + 0.3 * th)) * (1 - above)
    # right ventricle and atrium on the septal side (negative lateral)
    rv_l = -(Wc + th + p["rv_w"])
    rv_s = th + (2 - p["rv_len"]) * Lc * 0.95
    rv_cav = soft_inside(_ellipse_sd(s, l, rv_s, rv_l, p["rv_len"] * Lc, p["rv_w"])) * above
    rv_wall = soft_inside(_ellipse_sd(s, l, rv_s, rv_l, p["rv_len"] * Lc + 0.5 * th, p["rv_w"] + 0.5 * th)) * above
    ra_cav = soft_inside(_ellipse_sd(s, l, la_c, rv_l, 0.9 * p["La"], p["rv_w"])) * (1 - above)
    # bright pericardium hugging the LV free wall and apex
    peri = soft_inside(_ellipse_sd(s, l, cs, 0.0, Lc + 1.5 * th, Wc + 1.5 * th)) * (1 - epi) * above
    peri = peri * smoothstep((l + 0.2 * Wc) / (0.5 * Wc))
    E = p["E"]
    tex = sample_bilinear(p["texture"], pr, pc)
    img = E["tissue"] * (1 + 0.5 * tex)
    img = img + (E["peri"] - img) * peri
    for wall in (rv_wall, la_wall):
        img = img + (E["myo"] * 0.8 - img) * wall
    img = img + (E["myo"] * (1 + 0.15 * tex) - img) * np.maximum(epi * above, 0)
    for cavm in (rv_cav, la_cav, ra_cav, lv_cav):
        img = img + (E["cavity"] - img) * cavm
    return img, lv_wall, lv_cav


def _pull(p: dict, act: np.ndarray, size: int) -> np.ndarray:
    """Pull fields ``(T, 2, H, W)``: ``a_t v(x)``, v a contraction about the LV apex.

    Longitudinal ``v_s = e_long · S(s)`` with ``S(s) = s`` from the apex to the mitral annulus,
    then fading (cosine over half the image) below it; lateral ``v_l = e_rad · h(s) · L(l)`` with
    ``L(l) = l`` across the LV and fading (cosine over 2.5 cavity half-widths) outside it, ``h``
    growing from 0 at the apex to 1 at mid-ventricle. Gentle fades keep ``det(I + ∇u)`` well above 0.
    """
    from ._common import cosine_taper

    rr, cc = pixel_grid(size, size, np.float64)
    s, l = _local(p, rr, cc)
    th, Lc, Wc = p["th"], p["Lc"], p["Wc"]
    base = th + 1.8 * Lc
    # longitudinal: linear in s down to the annulus, then fading; above the apex fading too
    below = cosine_taper(s, base, base + 0.5 * size)
    probe_gap = float(np.hypot(*(p["lv_apex"] - p["apex"])))  # the chest wall above the apex is static
    above = cosine_taper(-s, 0.0, 0.8 * probe_gap)
    S = np.where(s < 0, s * above, np.minimum(s, base) * below)
    # lateral: linear across the LV, fading outside it; growing from the apex towards the base
    l0 = Wc + th
    al = np.abs(l)
    L = np.sign(l) * np.minimum(al, l0) * cosine_taper(al, l0, l0 + 2.5 * Wc)
    h = smoothstep((s + 0.1 * Lc) / (1.0 * Lc)) * below
    vs = p["e_long"] * S * cosine_taper(al, l0 + 0.5 * Wc, l0 + 3.5 * Wc)
    vl = p["e_rad"] * h * L
    v_r = vs * p["axis"][0] + vl * p["lat"][0]
    v_c = vs * p["axis"][1] + vl * p["lat"][1]
    u = np.zeros((len(act), 2, size, size), np.float32)
    u[:, 0] = act[:, None, None] * v_r
    u[:, 1] = act[:, None, None] * v_c
    return u


def _render(p: dict, u: np.ndarray, rng: np.random.Generator, size: int, mask: np.ndarray) -> np.ndarray:
    rr, cc = pixel_grid(size, size, np.float64)
    rho = float(np.clip(p["decorrelation"], 0, 1))
    frames = np.zeros((u.shape[0], size, size), np.float32)
    fr_ir, fr_ia = _beam_coords(p, rr, cc)
    for t in range(u.shape[0]):
        pr = np.clip(rr + u[t, 0], 0, size - 1)
        pc = np.clip(cc + u[t, 1], 0, size - 1)
        E, _, _ = _anatomy(p, pr, pc)
        ir, ia = _beam_coords(p, pr, pc)
        z = [sample_bilinear(p["speckle"][k], ir, ia) for k in range(2)]
        if rho > 0:
            nr, na = p["sp_grid"]
            fresh = [ndimage.gaussian_filter(rng.standard_normal((nr, na)), 0.9, mode="nearest") for _ in range(2)]
            fnorm = np.sqrt(np.mean(fresh[0] ** 2 + fresh[1] ** 2))
            z = [np.sqrt(1 - rho**2) * z[k] + rho * sample_bilinear(fresh[k] / fnorm, fr_ir, fr_ia) for k in range(2)]
        amp = E * np.hypot(z[0], z[1])
        db = 20 * np.log10(np.maximum(amp, 1e-6))
        img = np.clip(1 + db / _DR_DB, 0, 1)
        frames[t] = np.where(mask, img, 0)
    return frames


def echo_sequence(
    n_frames: int = 24,
    size: int = 128,
    seed=0,
    with_labels: bool = True,
    cycle: str = "full",
    decorrelation: float | None = None,
    rng: np.random.Generator | None = None,
) -> Sequence:
    """An apical echo-like sequence, frame 0 at end-diastole (the reference).

    decorrelation: weight of fresh (untracked) speckle per frame, default 0.15. Labels: 1 = LV
    wall, 2 = LV cavity, on every frame. ``metadata["mask"]``: the sector ``(H, W)`` bool;
    ``metadata["displacement"]``: ``(T, 2, H, W)`` float32 pull field; ``metadata["matchable"]``: ``(T, H, W)`` bool,
    the sector's pixels whose source ``x + u_t(x)`` lies in the sector too. The others (about a tenth of the sector
    near end-systole: the module's docstring) show tissue that lay outside the reference's fan, which no field can
    bring from the reference: ``frame_t ≈ warp(frame_0, u_t)`` holds on the matchable pixels only.
    """
    if n_frames < 1 or size < 64:
        raise ValueError(f"need n_frames >= 1 and size >= 64, got {n_frames}, {size}")
    if decorrelation is not None and not 0 <= decorrelation <= 1:  # it was clipped, and recorded as given
        raise ValueError(f"decorrelation must be in [0, 1], got {decorrelation}")
    g = as_rng(seed, rng)
    p = _draw(g, size, decorrelation)
    act = cycle_activation(n_frames, p["systole"], cycle)
    u = _pull(p, act, size)
    mask = sector_mask(size)
    frames = _render(p, u, g, size, mask)
    labels = None
    if with_labels:
        from ._common import warp_nearest

        rr, cc = pixel_grid(size, size, np.float64)
        _, wall, cav = _anatomy(p, rr, cc)
        lab0 = np.zeros((size, size), np.uint8)
        lab0[wall >= 0.5] = LV_WALL
        lab0[cav >= 0.5] = LV_CAVITY
        labels = warp_nearest(lab0, u)
    params = {"e_long": float(p["e_long"]), "e_rad": float(p["e_rad"]), "systole": float(p["systole"]),
              "wall_px": float(p["th"]), "decorrelation": float(p["decorrelation"])}
    seq = cycle_sequence(frames, labels, u, act, mm=DEPTH_MM / p["depth"], name="echo",
                         label_names={LV_WALL: "LV wall", LV_CAVITY: "LV cavity"}, n_frames=n_frames, cycle=cycle,
                         half_cycle_ms=320.0, seed=seed, rng=rng, params=params, mask=mask)
    from ._common import warp_nearest

    seq.metadata["matchable"] = mask[None] & warp_nearest(mask.astype(np.uint8), u).astype(bool)
    return seq
