"""A cine short-axis MRI phantom of the left ventricle with exact ground-truth motion.

Anatomy (all in the end-diastolic reference frame, lengths relative to ``size``):
a bright LV blood pool with two papillary muscles, a medium-grey myocardial ring (slightly
irregular endocardium, wall thickness varying around the ring), a bright right-ventricular
crescent with a thin free wall, patches of epicardial fat, dark lung and a medium liver region
towards the image edges, smooth tissue texture and mild Rician noise (independent per frame).

Motion: a pull map that is radial about the LV centre, ``x + u_t(x) = c + (g_t(r) / r) R(τ_t(r)) (x - c)``:
inside the blood pool ``g = r / k_t`` (the pool shrinks to ``k_t`` of its radius; ``1 - k`` is the
contraction, 15-35 % at end-systole), outside it ``g = sqrt(r² + Δ)`` with
``Δ = R_endo² (1 - k_t²)`` (the myocardium keeps its area, so the wall thickens), blended over
about a pixel at the endocardium; twist ``τ`` rotates the ventricle about its centre; both
fade to zero with a cosine taper beyond about 1.3x the epicardial radius. ``k_t`` follows a smooth
ED -> ES -> ED cycle (or ED -> ES only with ``cycle="systole"``). Frames are the continuous
reference image evaluated at ``x + u_t(x)``; labels (1 = LV myocardium, 2 = LV blood pool incl.
papillary muscles) are drawn on the reference and carried to every frame with nearest sampling,
``labels_t = warp(labels_0, u_t)``.
"""
from __future__ import annotations

import numpy as np

from ..io.sequence import Sequence
from ._common import (
    as_rng,
    cosine_taper,
    cycle_activation,
    cycle_sequence,
    pixel_grid,
    sample_bilinear,
    smooth_noise,
    smoothstep,
    soft_inside,
    warp_nearest,
)

__all__ = ["cardiac_phantom", "cardiac_batch", "FOV_MM"]

FOV_MM = 130.0  # field of view of the crop: spacing = FOV_MM / size (mm)
MYOCARDIUM, BLOOD_POOL = 1, 2


def _draw(rng: np.random.Generator, size: int, noise: float | None) -> dict:
    """One phantom's parameters (a fixed order of rng calls)."""
    s = float(size)
    p: dict = {}
    p["centre"] = (s - 1) / 2 + rng.uniform(-0.06, 0.06, 2) * s
    p["r_endo"] = rng.uniform(0.14, 0.19) * s
    p["wall"] = rng.uniform(0.055, 0.085) * s
    p["endo_wobble"] = rng.uniform(0.0, 0.05, 2)  # amplitudes of cos 2θ, cos 3θ
    p["endo_phase"] = rng.uniform(0, 2 * np.pi, 2)
    p["wall_var"] = rng.uniform(0.05, 0.2)
    p["wall_phase"] = rng.uniform(0, 2 * np.pi)
    p["rv_angle"] = rng.uniform(0, 2 * np.pi)
    p["rv_halfwidth"] = np.deg2rad(rng.uniform(55, 80))
    p["rv_depth"] = rng.uniform(0.5, 0.9) * p["r_endo"]
    p["rv_wall"] = max(1.2, 0.18 * p["wall"])
    p["pap_angles"] = p["rv_angle"] + np.pi + rng.uniform(-0.3, 0.3, 2) + np.array([-0.9, 0.9])
    p["pap_radius"] = rng.uniform(0.13, 0.2) * p["r_endo"]
    p["fat_width"] = rng.uniform(0.5, 2.0) * s / 64
    p["fat_phase"] = rng.uniform(0, 2 * np.pi)
    p["lung_angle"] = p["rv_angle"] + rng.uniform(2.0, 2.8) * rng.choice([-1.0, 1.0])
    p["lung_dist"] = p["r_endo"] + p["wall"] + rng.uniform(0.1, 0.22) * s
    p["liver_angle"] = p["rv_angle"] + np.pi + rng.uniform(-0.6, 0.6)
    p["liver_dist"] = p["r_endo"] + p["wall"] + rng.uniform(0.15, 0.3) * s
    p["blood"] = rng.uniform(0.78, 0.95)
    p["rv_blood"] = p["blood"] * rng.uniform(0.85, 1.0)
    p["myo"] = rng.uniform(0.22, 0.35)
    p["tissue"] = rng.uniform(0.3, 0.45)
    p["fat"] = rng.uniform(0.65, 0.85)
    p["lung"] = rng.uniform(0.03, 0.1)
    p["liver"] = rng.uniform(0.4, 0.55)
    p["texture_amp"] = rng.uniform(0.08, 0.2)
    p["texture"] = smooth_noise(rng, (size, size), 2.2 * s / 64)
    p["contraction"] = rng.uniform(0.15, 0.35)
    p["twist"] = np.deg2rad(rng.uniform(3.0, 10.0)) * rng.choice([-1.0, 1.0])
    p["systole"] = rng.uniform(0.33, 0.45)
    p["noise"] = rng.uniform(0.01, 0.03) if noise is None else float(noise)
    return p


def _image(p: dict, pr: np.ndarray, pc: np.ndarray, labels: bool = False):
    """The continuous reference image at reference coordinates ``(pr, pc)`` (any shape)."""
    f32 = np.float32
    hi = f32(p["texture"].shape[0] - 1)
    pr = np.clip(pr, f32(0), hi)  # border replication
    pc = np.clip(pc, f32(0), hi)
    dy = pr - f32(p["centre"][0])
    dx = pc - f32(p["centre"][1])
    r = np.sqrt(dy * dy + dx * dx)
    th = np.arctan2(dy, dx)
    w2, w3 = p["endo_wobble"]
    ph2, ph3 = p["endo_phase"]
    r_endo = f32(p["r_endo"]) * (1 + f32(w2) * np.cos(2 * th - f32(ph2)) + f32(w3) * np.cos(3 * th - f32(ph3)))
    wall = f32(p["wall"]) * (1 + f32(p["wall_var"]) * np.cos(th - f32(p["wall_phase"])))
    r_epi = r_endo + wall
    pool = soft_inside(r - r_endo)
    epi = soft_inside(r - r_epi)
    # papillary muscles: small discs inside the pool, near the wall
    pap = np.zeros_like(r)
    for ang in p["pap_angles"]:
        cy = p["centre"][0] + 0.68 * p["r_endo"] * np.sin(ang)
        cx = p["centre"][1] + 0.68 * p["r_endo"] * np.cos(ang)
        d = np.sqrt((pr - f32(cy)) ** 2 + (pc - f32(cx)) ** 2) - f32(p["pap_radius"])
        pap = np.maximum(pap, soft_inside(d))
    # right ventricle: a crescent outside the septal wall
    dth = np.angle(np.exp(1j * (th.astype(np.float64) - p["rv_angle"]))).astype(f32)
    prof = np.cos(np.clip(dth / f32(p["rv_halfwidth"]), -1, 1) * f32(np.pi / 2))
    depth = f32(p["rv_depth"]) * prof
    fade = smoothstep(depth / f32(1.5))
    rv_out = r_epi + depth
    rv_blood = (1 - epi) * soft_inside(r - rv_out) * fade
    rv_wall = (1 - soft_inside(r - rv_out)) * soft_inside(r - rv_out - f32(p["rv_wall"])) * fade
    # epicardial fat where there is no RV
    fat_w = f32(p["fat_width"]) * (0.5 + 0.5 * np.cos(th - f32(p["fat_phase"]))) * (1 - fade)
    fat = (1 - epi) * soft_inside(r - r_epi - fat_w) * smoothstep(fat_w / f32(0.7))
    # lung and liver: half-planes beyond some distance from the heart
    lung_s = dx * f32(np.cos(p["lung_angle"])) + dy * f32(np.sin(p["lung_angle"])) - f32(p["lung_dist"])
    liver_s = dx * f32(np.cos(p["liver_angle"])) + dy * f32(np.sin(p["liver_angle"])) - f32(p["liver_dist"])
    lung = soft_inside(-lung_s, 1.5)
    liver = soft_inside(-liver_s, 1.0) * (1 - lung)
    tex = sample_bilinear(p["texture"], pr, pc)
    img = f32(p["tissue"]) * (1 + f32(p["texture_amp"]) * tex)
    img = img + (f32(p["lung"]) - img) * lung
    img = img + (f32(p["liver"]) * (1 + f32(0.1) * tex) - img) * liver
    img = img + (f32(p["fat"]) - img) * fat
    img = img + (f32(p["myo"]) - img) * rv_wall
    img = img + (f32(p["rv_blood"]) - img) * rv_blood
    img = img + (f32(p["myo"]) * (1 + f32(0.06) * tex) - img) * epi
    img = img + (f32(p["blood"]) * (1 + f32(0.03) * tex) - img) * pool * (1 - pap)
    img = np.clip(img, 0, 1).astype(f32)
    if not labels:
        return img
    lab = np.zeros(r.shape, np.uint8)
    lab[epi >= 0.5] = MYOCARDIUM
    lab[pool >= 0.5] = BLOOD_POOL
    return img, lab


def _pull(p: dict, act: np.ndarray, size: int) -> np.ndarray:
    """Pull fields ``(T, 2, H, W)`` float32 for contraction levels ``act`` (0 = ED)."""
    rr, cc = pixel_grid(size, size, np.float64)
    dy = rr - p["centre"][0]
    dx = cc - p["centre"][1]
    r = np.sqrt(dy * dy + dx * dx)
    r_safe = np.maximum(r, 1e-9)
    r_endo, r_epi = p["r_endo"], p["r_endo"] + p["wall"]
    taper = cosine_taper(r, 1.3 * r_epi, 2.3 * r_epi)
    blend_w = max(1.0, 0.08 * r_endo)
    u = np.zeros((len(act), 2, size, size), np.float32)
    for t, a in enumerate(act):
        if a <= 0:
            continue
        k = 1.0 - p["contraction"] * a
        delta = r_endo**2 * (1 - k * k)
        g_pool = r / k
        g_wall = np.sqrt(r * r + delta)
        s = smoothstep((r - (k * r_endo - blend_w)) / (2 * blend_w))
        g = (1 - s) * g_pool + s * g_wall
        g = r + taper * (g - r)
        tau = p["twist"] * a * taper
        scale = g / r_safe
        cos, sin = np.cos(tau), np.sin(tau)
        # rotate (dx, dy) by tau, then scale radially
        px = scale * (cos * dx - sin * dy)
        py = scale * (sin * dx + cos * dy)
        u[t, 0] = py - dy
        u[t, 1] = px - dx
    return u


def _frames(p: dict, u: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    rr, cc = pixel_grid(size, size)
    img = _image(p, rr[None] + u[:, 0], cc[None] + u[:, 1])
    if p["noise"] > 0:
        n1 = rng.standard_normal(img.shape, dtype=np.float32)
        n2 = rng.standard_normal(img.shape, dtype=np.float32)
        sig = np.float32(p["noise"])
        img = np.sqrt((img + sig * n1) ** 2 + (sig * n2) ** 2)  # Rician magnitude noise
    return np.clip(img, 0, 1).astype(np.float32)


def _summary(p: dict) -> dict:
    keys = ("r_endo", "wall", "contraction", "systole", "noise", "blood", "myo", "tissue")
    d = {k: float(p[k]) for k in keys}
    d["centre"] = [float(v) for v in p["centre"]]
    d["twist_deg"] = float(np.rad2deg(p["twist"]))
    d["rv_angle_deg"] = float(np.rad2deg(p["rv_angle"]))
    return d


def cardiac_phantom(
    n_frames: int = 20,
    size: int = 64,
    seed=0,
    with_labels: bool = True,
    cycle: str = "full",
    noise: float | None = None,
    blood_pool_label: bool = True,
    rng: np.random.Generator | None = None,
) -> Sequence:
    """A cine short-axis phantom, frame 0 at end-diastole (the reference).

    cycle: ``"full"`` (ED -> ES -> ED over the frames) or ``"systole"`` (ED -> ES, the last frame
    at end-systole, as the TLRN paper's 7-frame half cycles). noise: Rician sigma; ``None`` draws
    U(0.01, 0.03). Labels (``with_labels``): 1 = myocardium, 2 = LV blood pool (0 if
    ``blood_pool_label`` is False), on every frame. ``metadata["displacement"]`` ``(T, 2, H, W)``
    float32 pull field; ``metadata["activation"]`` the contraction level per frame (0 = ED, 1 = ES).
    """
    if n_frames < 1 or size < 32:
        raise ValueError(f"need n_frames >= 1 and size >= 32, got {n_frames}, {size}")
    if noise is not None and not noise >= 0:  # a negative one added none, and was recorded as given
        raise ValueError(f"noise must be >= 0, got {noise}")
    g = as_rng(seed, rng)
    p = _draw(g, size, noise)
    act = cycle_activation(n_frames, p["systole"], cycle)
    u = _pull(p, act, size)
    frames = _frames(p, u, g, size)
    labels = None
    if with_labels:
        rr, cc = pixel_grid(size, size)
        _, lab0 = _image(p, rr, cc, labels=True)
        if not blood_pool_label:
            lab0[lab0 == BLOOD_POOL] = 0
        labels = warp_nearest(lab0, u)
    return cycle_sequence(frames, labels, u, act, mm=FOV_MM / size, name="cardiac",
                          label_names={MYOCARDIUM: "myocardium", BLOOD_POOL: "LV blood pool"}, n_frames=n_frames,
                          cycle=cycle, half_cycle_ms=350.0, seed=seed, rng=rng, params=_summary(p))


def cardiac_batch(
    n: int,
    rng: np.random.Generator | None = None,
    n_frames: int = 8,
    size: int = 64,
    cycle: str = "full",
    with_labels: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``n`` random phantoms for on-the-fly training.

    Returns ``frames (n, T, H, W)`` float32, pull fields ``u (n, T, 2, H, W)`` float32 (zero at
    frame 0) and ``labels (n, T, H, W)`` uint8 (1 myocardium, 2 blood pool) or ``None``.
    """
    g = as_rng(None, rng)
    frames = np.empty((n, n_frames, size, size), np.float32)
    fields = np.empty((n, n_frames, 2, size, size), np.float32)
    labels = np.empty((n, n_frames, size, size), np.uint8) if with_labels else None
    rr, cc = pixel_grid(size, size)
    for i in range(n):
        p = _draw(g, size, None)
        act = cycle_activation(n_frames, p["systole"], cycle)
        u = _pull(p, act, size)
        fields[i] = u
        frames[i] = _frames(p, u, g, size)
        if labels is not None:
            _, lab0 = _image(p, rr, cc, labels=True)
            labels[i] = warp_nearest(lab0, u)
    return frames, fields, labels
