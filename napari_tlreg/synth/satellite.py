"""A bi-temporal very-high-resolution satellite pair with exact ground truth and landmarks.

Scene (rendered once on a 2x oversampled canvas with a margin around the image, then
anti-aliased with a small Gaussian): a rotated road grid (asphalt with lane markings and
bright kerbs) around city blocks; in each block 1-3 rectangular buildings aligned with the
grid, random roof brightness, with cast shadows along a common sun direction; some blocks are
parks / fields instead (striped crop rows or grass texture, a few trees); fine texture and
sensor noise everywhere.

Frame 0 is the reference. Frame 1 is the scene pulled through
``x + u_1(x) = c + s R(θ) (x - c) + b + n(x)``: translation ``|b|`` 2-12 px, rotation 3-4°,
scale within ±2 %, and a smooth non-rigid ``n`` (two low-frequency sine modes, ≤ ~1.2 px), then
a radiometric change (gain 0.8-1.2, offset ±0.06, independent noise). Landmarks are building
roof corners and road crossings: ``(id, 0, p)`` in the reference and ``(id, 1, q)`` in frame 1 with
``q + u_1(q) = p`` (bilinear sampling of ``u_1``), found by fixed-point iteration.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..io.sequence import Sequence
from ._common import as_rng, farthest_points, pixel_grid, sample_bilinear, sample_field

__all__ = ["satellite_pair", "satellite_batch", "random_motion", "radiometric_change", "solve_landmark"]

_OVERSAMPLE = 2
_MARGIN = 24  # pixels of scene rendered around the image on every side
SPACING_M = 1.0


def _scene(rng: np.random.Generator, size: int) -> tuple[np.ndarray, list]:
    """The oversampled scene raster and its candidate landmarks (world coords in image pixels)."""
    f = _OVERSAMPLE
    n = (size + 2 * _MARGIN) * f
    k = np.arange(n, dtype=np.float64) / f - _MARGIN  # world coordinate of each canvas sample
    wr, wc = np.meshgrid(k, k, indexing="ij")
    beta = np.deg2rad(rng.uniform(-25, 25))
    cb, sb = np.cos(beta), np.sin(beta)
    origin = rng.uniform(0, 60, 2)
    # grid-local coordinates (a along rotated rows, b along rotated cols)
    ga = cb * (wr - origin[0]) - sb * (wc - origin[1])
    gb = sb * (wr - origin[0]) + cb * (wc - origin[1])
    sp_a = rng.uniform(44, 64)
    sp_b = rng.uniform(48, 72)
    road_w = rng.uniform(4.0, 6.0)
    ia = np.floor(ga / sp_a).astype(np.int64)
    ib = np.floor(gb / sp_b).astype(np.int64)
    fa = ga - ia * sp_a  # position inside the cell
    fb = gb - ib * sp_b
    ia_min, ib_min = ia.min(), ib.min()
    na, nb = ia.max() - ia_min + 1, ib.max() - ib_min + 1
    ja, jb = ia - ia_min, ib - ib_min

    base = 0.30 + 0.08 * ndimage.gaussian_filter(rng.standard_normal((n, n)), 6 * f)
    img = base + 0.03 * rng.standard_normal((n, n))  # fine ground texture
    # ---------------- blocks: buildings or fields
    kind = rng.choice(3, size=(na, nb), p=[0.62, 0.2, 0.18])  # 0 buildings, 1 crop field, 2 park
    inner_a0 = road_w / 2 + 1.5
    inner_b0 = road_w / 2 + 1.5
    blk_a = sp_a - road_w - 3.0
    blk_b = sp_b - road_w - 3.0
    # field stripes
    stripe_ang = rng.uniform(0, np.pi, (na, nb))
    stripe_per = rng.uniform(3.0, 6.0, (na, nb))
    field_lvl = rng.uniform(0.25, 0.55, (na, nb))
    fld = (kind == 1)[ja, jb]
    ang = stripe_ang[ja, jb]
    phase = (np.cos(ang) * ga + np.sin(ang) * gb) / stripe_per[ja, jb]
    stripes = field_lvl[ja, jb] * (1 + 0.25 * np.sin(2 * np.pi * phase))
    in_block = (fa > inner_a0) & (fa < inner_a0 + blk_a) & (fb > inner_b0) & (fb < inner_b0 + blk_b)
    img = np.where(fld & in_block, stripes, img)
    park = (kind == 2)[ja, jb] & in_block
    grass = 0.22 + 0.05 * ndimage.gaussian_filter(rng.standard_normal((n, n)), 1.5 * f)
    img = np.where(park, grass, img)
    # buildings: up to 3 per block, rectangles in block coordinates
    nbld = rng.integers(1, 4, (na, nb))
    shadow_vec = np.array([rng.uniform(2.0, 4.0), rng.uniform(2.0, 4.0)]) * rng.choice([-1.0, 1.0], 2)
    rects = np.zeros((na, nb, 3, 4))  # a0, a1, b0, b1 in cell coords
    roof = rng.uniform(0.45, 0.95, (na, nb, 3))
    for s in range(3):
        # split the block into 3 strips along b; building s lives in strip s
        w = blk_b / 3
        a0 = inner_a0 + rng.uniform(0.5, 0.3 * blk_a, (na, nb))
        a1 = inner_a0 + blk_a - rng.uniform(0.5, 0.3 * blk_a, (na, nb))
        b0 = inner_b0 + s * w + rng.uniform(0.8, 0.3 * w, (na, nb))
        b1 = inner_b0 + (s + 1) * w - rng.uniform(0.8, 0.3 * w, (na, nb))
        rects[:, :, s] = np.stack([a0, a1, b0, b1], axis=-1)
    active = (kind == 0)[..., None] & (np.arange(3)[None, None, :] < nbld[..., None])
    # local coordinates of the shadow-caster: the point displaced against the sun
    sa = cb * shadow_vec[0] - sb * shadow_vec[1]
    sbv = sb * shadow_vec[0] + cb * shadow_vec[1]

    def inside_building(fa_, fb_, ja_, jb_):
        out = np.zeros(fa_.shape, bool)
        val = (ja_ >= 0) & (ja_ < na) & (jb_ >= 0) & (jb_ < nb)
        ja_c, jb_c = np.clip(ja_, 0, na - 1), np.clip(jb_, 0, nb - 1)
        for s in range(3):
            r = rects[ja_c, jb_c, s]
            hit = (fa_ > r[..., 0]) & (fa_ < r[..., 1]) & (fb_ > r[..., 2]) & (fb_ < r[..., 3])
            out |= hit & active[ja_c, jb_c, s] & val
        return out

    def building_id(fa_, fb_, ja_, jb_):
        out = np.full(fa_.shape, -1)
        for s in range(3):
            r = rects[ja_, jb_, s]
            hit = (fa_ > r[..., 0]) & (fa_ < r[..., 1]) & (fb_ > r[..., 2]) & (fb_ < r[..., 3])
            out = np.where(hit & active[ja_, jb_, s], s, out)
        return out

    bid = building_id(fa, fb, ja, jb)
    ga_s, gb_s = ga - sa, gb - sbv
    ia_s = np.floor(ga_s / sp_a).astype(np.int64) - ia_min
    ib_s = np.floor(gb_s / sp_b).astype(np.int64) - ib_min
    shadow = inside_building(ga_s - (ia_s + ia_min) * sp_a, gb_s - (ib_s + ib_min) * sp_b, ia_s, ib_s) & (bid < 0)
    img = np.where(shadow, img * 0.45, img)
    roof_val = np.take_along_axis(roof[ja, jb], np.maximum(bid, 0)[..., None], axis=-1)[..., 0]
    roof_tex = 1 + 0.04 * rng.standard_normal((n, n))
    img = np.where(bid >= 0, roof_val * roof_tex, img)
    # ---------------- roads (on top), with a centre line and kerbs
    da = np.minimum(fa, sp_a - fa)  # distance to the nearest road centre line (a-direction roads)
    db = np.minimum(fb, sp_b - fb)
    road = (da < road_w / 2) | (db < road_w / 2)
    asphalt = 0.16 + 0.02 * rng.standard_normal((n, n))
    img = np.where(road, asphalt, img)
    kerb = ((np.abs(da - road_w / 2) < 0.5) & (db > road_w / 2)) | ((np.abs(db - road_w / 2) < 0.5) & (da > road_w / 2))
    img = np.where(kerb, 0.55, img)
    crossing = (da < road_w / 2) & (db < road_w / 2)
    mark = ((da < 0.35) | (db < 0.35)) & ~crossing & road
    img = np.where(mark, 0.7, img)
    # trees in parks: dark round crowns
    n_trees = int(rng.integers(20, 40))
    tr = rng.uniform(-_MARGIN, size + _MARGIN, (n_trees, 2))
    for (r0, c0), rad in zip(tr, rng.uniform(1.5, 3.0, n_trees)):
        i0 = int(np.clip(np.floor(((r0 - 4) + _MARGIN) * f), 0, n))
        i1 = int(np.clip(np.ceil(((r0 + 4) + _MARGIN) * f), 0, n))
        j0 = int(np.clip(np.floor(((c0 - 4) + _MARGIN) * f), 0, n))
        j1 = int(np.clip(np.ceil(((c0 + 4) + _MARGIN) * f), 0, n))
        sub = (wr[i0:i1, j0:j1] - r0) ** 2 + (wc[i0:i1, j0:j1] - c0) ** 2 < rad**2
        sub &= park[i0:i1, j0:j1]
        img[i0:i1, j0:j1] = np.where(sub, 0.1, img[i0:i1, j0:j1])
    # anti-aliasing before point sampling at (at least) the image resolution
    img = ndimage.gaussian_filter(img, 0.5 * f)
    img = np.clip(img, 0, 1).astype(np.float32)

    # ---------------- candidate landmarks (world coordinates)
    def to_world(a, b):
        a = a + 0.0
        r = cb * a + sb * b + origin[0]
        c = -sb * a + cb * b + origin[1]
        return r, c

    cands = []
    for i in range(na):
        for j in range(nb):
            # road crossing at the cell corner
            cands.append((*to_world((i + ia_min) * sp_a, (j + ib_min) * sp_b), "crossing"))
            if kind[i, j] != 0:
                continue
            for s in range(nbld[i, j]):
                a0, a1, b0, b1 = rects[i, j, s]
                # the corner facing away from the sun is not covered by a shadow: any corner is a
                # roof corner (shadows are drawn only off the roof)
                for a_, b_ in ((a0, b0), (a0, b1), (a1, b0), (a1, b1)):
                    cands.append((*to_world((i + ia_min) * sp_a + a_, (j + ib_min) * sp_b + b_), "building corner"))
    return img, cands


def _sample_scene(scene: np.ndarray, rows, cols) -> np.ndarray:
    f = _OVERSAMPLE
    return sample_bilinear(scene, (np.asarray(rows) + _MARGIN) * f, (np.asarray(cols) + _MARGIN) * f)


def solve_landmark(u: np.ndarray, p, iterations: int = 100, tol: float = 1e-6) -> np.ndarray:
    """Points ``q`` with ``q + u(q) = p`` (bilinear sampling of the field ``u (2, H, W)``); p ``(N, 2)``."""
    p = np.asarray(p, np.float64).reshape(-1, 2)
    q = p - sample_field(u, p)
    for _ in range(iterations):
        q_new = p - sample_field(u, q)
        if np.max(np.abs(q_new - q)) < tol:
            return q_new
        q = q_new
    return q


def satellite_pair(size: int = 256, seed=0, n_landmarks: int = 15, rng: np.random.Generator | None = None) -> Sequence:
    """A bi-temporal pair ``(2, size, size)``, frame 0 the reference, with ground truth.

    ``metadata["displacement"]`` ``(2, 2, H, W)`` float32 pull field (zero for frame 0); below 192 px some seeds
    find fewer than ``n_landmarks`` landmarks and raise ``RuntimeError`` (at 128 px about 1 in 3);
    ``landmarks`` ``(2 N, 4)`` rows ``(id, t, row, col)``; ``metadata["landmark_kind"]`` says
    which are building corners and which road crossings; spacing 1 m (VHR-like).
    """
    if size < 96:
        raise ValueError(f"size must be >= 96, got {size}")
    if n_landmarks < 0:
        raise ValueError(f"n_landmarks must be >= 0, got {n_landmarks}")
    g = as_rng(seed, rng)
    scene, cands = _scene(g, size)
    # ---- motion: similarity about the centre + translation + smooth non-rigid part
    theta = np.deg2rad(g.uniform(3.0, 4.0)) * g.choice([-1.0, 1.0])
    scale = g.uniform(0.98, 1.02)
    tmag = g.uniform(2.0, 12.0)
    tang = g.uniform(0, 2 * np.pi)
    b = tmag * np.array([np.sin(tang), np.cos(tang)])
    modes = []
    for _ in range(2):
        kv = g.uniform(0.5, 1.5, 2) * 2 * np.pi / size * g.choice([-1.0, 1.0], 2)
        modes.append((kv, g.uniform(0, 2 * np.pi), g.uniform(0.4, 0.6, 2) * g.choice([-1.0, 1.0], 2)))
    gain = g.uniform(0.8, 1.2)
    offset = g.uniform(-0.06, 0.06)
    c = np.array([(size - 1) / 2.0] * 2)
    rr, cc = pixel_grid(size, size, np.float64)
    cos, sin = np.cos(theta), np.sin(theta)
    dr, dc = rr - c[0], cc - c[1]
    pr = c[0] + scale * (cos * dr - sin * dc) + b[0]
    pc = c[1] + scale * (sin * dr + cos * dc) + b[1]
    for kv, ph, amp in modes:
        w = np.sin(kv[0] * rr + kv[1] * cc + ph)
        pr = pr + amp[0] * w
        pc = pc + amp[1] * w
    u = np.zeros((2, 2, size, size), np.float32)
    u[1, 0] = pr - rr
    u[1, 1] = pc - cc
    # ---- frames (the pull positions may leave the image: the scene has a margin there)
    f0 = _sample_scene(scene, rr, cc)
    f1 = _sample_scene(scene, rr + u[1, 0].astype(np.float64), cc + u[1, 1].astype(np.float64))
    f0 = f0 + g.normal(0, 0.012, f0.shape)
    f1 = gain * f1 + offset + g.normal(0, 0.015, f1.shape)
    frames = np.clip(np.stack([f0, f1]), 0, 1).astype(np.float32)
    # ---- landmarks: spread-out corners away from the borders, visible in both frames
    border = 0.12 * size
    pts = np.array([(r, c_) for r, c_, _ in cands])
    kinds = np.array([k for _, _, k in cands])
    ok = np.all((pts > border) & (pts < size - 1 - border), axis=1)
    pts, kinds = pts[ok], kinds[ok]
    q = solve_landmark(u[1], pts)
    ok = np.all((q > border) & (q < size - 1 - border), axis=1)
    pts, kinds, q = pts[ok], kinds[ok], q[ok]
    if len(pts) < n_landmarks:  # the motion (up to 12 px, 4 degrees) leaves few corners inside the border of a small image
        raise RuntimeError(f"only {len(pts)} landmark candidates for {n_landmarks} at {size} px; try another seed or "
                           f"fewer landmarks (15 are found for every seed 0-39 at 192 px, for about 2 in 3 at 128 px, "
                           f"few at 96 px)")
    # farthest-point sampling, starting from a random building corner / crossing
    chosen = farthest_points(pts, n_landmarks, g)
    rows = []
    for i, j in enumerate(chosen):
        rows.append((i, 0, pts[j, 0], pts[j, 1]))
    for i, j in enumerate(chosen):
        rows.append((i, 1, q[j, 0], q[j, 1]))
    landmarks = np.array(rows, np.float64).reshape(-1, 4)
    return Sequence(
        frames=frames,
        spacing=(SPACING_M, SPACING_M),
        unit="m",
        landmarks=landmarks,
        name="satellite",
        metadata={
            "displacement": u,
            "reference": 0,
            "landmark_kind": [str(kinds[j]) for j in chosen],
            "generator": "napari_tlreg.synth.satellite",
            "seed": seed if rng is None else None,
            "params": {
                "rotation_deg": float(np.rad2deg(theta)),
                "scale": float(scale),
                "translation_rc": [float(v) for v in b],
                "gain": float(gain),
                "offset": float(offset),
            },
        },
    )


def random_motion(size: int, rng: np.random.Generator, translation=(2.0, 12.0), rotation_deg=(3.0, 4.0),
                  scale=(0.97, 1.03), nonrigid: float = 0.6) -> np.ndarray:
    """A pull field ``(2, size, size)`` of the pairs' motion model, drawn from ``rng``.

    Similarity about the centre + translation (``|b|`` in ``translation`` px, any direction) + rotation
    (``|θ|`` in ``rotation_deg``, either sign) + isotropic scale in ``scale`` + two low-frequency sine modes
    of amplitude up to ``nonrigid`` px per axis (the multistep paper's extra translation 2-12 px,
    rotation 3-4° and scale; its "scale factor 2 or 3" is read as 2-3 %).
    """
    theta = np.deg2rad(rng.uniform(*rotation_deg)) * rng.choice([-1.0, 1.0])
    s = rng.uniform(*scale)
    tmag, tang = rng.uniform(*translation), rng.uniform(0, 2 * np.pi)
    b = tmag * np.array([np.sin(tang), np.cos(tang)])
    c = (size - 1) / 2.0
    rr, cc = pixel_grid(size, size, np.float64)
    cos, sin = np.cos(theta), np.sin(theta)
    dr, dc = rr - c, cc - c
    pr = c + s * (cos * dr - sin * dc) + b[0]
    pc = c + s * (sin * dr + cos * dc) + b[1]
    for _ in range(2):
        kv = rng.uniform(0.5, 1.5, 2) * 2 * np.pi / size * rng.choice([-1.0, 1.0], 2)
        ph = rng.uniform(0, 2 * np.pi)
        amp = rng.uniform(0.0, 1.0, 2) * nonrigid * rng.choice([-1.0, 1.0], 2)
        wv = np.sin(kv[0] * rr + kv[1] * cc + ph)
        pr, pc = pr + amp[0] * wv, pc + amp[1] * wv
    return np.stack([pr - rr, pc - cc]).astype(np.float32)


def radiometric_change(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Local land-cover / illumination change without motion: 6-20 Voronoi patches, each with its own
    gain (0.6-1.4) and offset (±0.08), softened over ~1 px, plus a linear haze ramp (up to 0.1)."""
    h, w = img.shape
    k = int(rng.integers(6, 21))
    seeds = rng.uniform(0, [h, w], (k, 2))
    rr, cc = pixel_grid(h, w, np.float32)
    lab = np.argmin((rr[..., None] - seeds[:, 0]) ** 2 + (cc[..., None] - seeds[:, 1]) ** 2, axis=-1)
    gain = ndimage.gaussian_filter(rng.uniform(0.6, 1.4, k)[lab], 1.0)
    off = ndimage.gaussian_filter(rng.uniform(-0.08, 0.08, k)[lab], 1.0)
    ang = rng.uniform(0, 2 * np.pi)
    haze = rng.uniform(0.0, 0.1) * (rr * np.cos(ang) + cc * np.sin(ang)) / max(h, w)
    return gain * img + off + haze


def satellite_batch(n: int, rng: np.random.Generator, size: int = 128, return_fields: bool = False, change: float = 0.0, **motion):
    """``n`` training pairs ``(n, 2, size, size)`` float32 in [0, 1] (no landmarks: fast), frame 0 the reference.

    Each pair: a fresh scene (as :func:`satellite_pair`), frame 1 = the scene pulled through
    :func:`random_motion` (keywords go there), radiometric change (gain 0.8-1.2, offset ±0.06) and
    independent sensor noise. With probability ``change`` frame 1 also gets a local
    :func:`radiometric_change` (what real bi-temporal imagery has: fields that changed, haze).
    With ``return_fields`` also the pull fields ``(n, 2, size, size)``.
    """
    if size < 32:
        raise ValueError(f"size must be >= 32, got {size}")
    g = as_rng(None, rng)
    out = np.empty((n, 2, size, size), np.float32)
    us = np.empty((n, 2, size, size), np.float32)
    rr, cc = pixel_grid(size, size, np.float64)
    for i in range(n):
        scene, _ = _scene(g, size)
        u = random_motion(size, g, **motion)
        f0 = _sample_scene(scene, rr, cc) + g.normal(0, 0.012, (size, size))
        f1 = _sample_scene(scene, rr + u[0], cc + u[1])
        if change > 0 and g.random() < change:
            f1 = radiometric_change(f1, g)
        f1 = g.uniform(0.8, 1.2) * f1 + g.uniform(-0.06, 0.06) + g.normal(0, 0.015, (size, size))
        out[i] = np.clip(np.stack([f0, f1]), 0, 1)
        us[i] = u
    return (out, us) if return_fields else out
