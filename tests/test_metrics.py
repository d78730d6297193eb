"""tl.metrics against hand-computed cases (the arithmetic is written out beside each number)."""
from __future__ import annotations

import math
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from napari_tlreg import metrics as M
import napari_tlreg as tl


# --------------------------------------------------------------------------- dice
def _box(shape, r0, r1, c0, c1, value=1, out=None):
    """Fill rows r0..r1, cols c0..c1 (inclusive) with value."""
    a = np.zeros(shape, dtype=np.int32) if out is None else out
    a[r0 : r1 + 1, c0 : c1 + 1] = value
    return a


def test_dice_two_squares():
    # 4x4 squares at (0..3, 0..3) and (2..5, 2..5): overlap (2..3, 2..3) = 4 px
    a = _box((10, 10), 0, 3, 0, 3)
    b = _box((10, 10), 2, 5, 2, 5)
    assert M.dice(a, b) == pytest.approx(2 * 4 / (16 + 16))  # 0.25
    assert M.dice(a, a) == 1.0
    assert M.dice(a, np.zeros_like(a)) == 0.0


def test_dice_labels_and_per_label():
    a = _box((10, 10), 0, 3, 0, 3, 1)  # label 1: 16 px
    _box((10, 10), 6, 7, 6, 8, 2, out=a)  # label 2: 2x3 = 6 px
    b = _box((10, 10), 2, 5, 2, 5, 1)  # label 1: 16 px, overlap with a's label 1: 4 px
    _box((10, 10), 6, 7, 7, 9, 2, out=b)  # label 2: 6 px, overlap rows 6..7 cols 7..8 = 4 px
    b[9, 0] = b[9, 1] = 3  # label 3 only in b
    assert M.dice(a, b, label=1) == pytest.approx(8 / 32)
    assert M.dice(a, b, label=2) == pytest.approx(8 / 12)
    assert M.dice(a, b, label=3) == 0.0
    assert M.dice(a, b, label=7) == 1.0  # absent from both: both empty -> 1.0
    # foreground: |A| = 22, |B| = 24, overlap 4 + 4 = 8
    assert M.dice(a, b) == pytest.approx(16 / 46)
    per = M.dice_per_label(a, b)
    assert set(per) == {1, 2, 3}
    assert per[1] == pytest.approx(0.25) and per[2] == pytest.approx(2 / 3) and per[3] == 0.0


def test_dice_empty_and_shape_mismatch():
    z = np.zeros((5, 5), int)
    assert M.dice(z, z) == 1.0
    assert M.dice_per_label(z, z) == {}
    with pytest.raises(ValueError):
        M.dice(z, np.zeros((5, 6), int))
    with pytest.raises(ValueError):
        M.dice_per_label(z, np.zeros((6, 5), int))


# --------------------------------------------------------------------------- hausdorff
def test_hausdorff_translated_squares():
    a = _box((20, 20), 5, 9, 5, 9)
    # shifted 3 cols: left side of a (col 5) is 3 px from b's left side (col 8); nothing farther
    assert M.hausdorff(a, _box((20, 20), 5, 9, 8, 12)) == pytest.approx(3.0)
    # shifted (3, 4): the corner (5,5) of a is sqrt(3²+4²) = 5 from b's nearest boundary pixel (8,9)
    assert M.hausdorff(a, _box((20, 20), 8, 12, 9, 13)) == pytest.approx(5.0)
    assert M.hausdorff(a, a) == 0.0
    assert M.hausdorff(a, a, percentile=95) == 0.0


def test_hausdorff_anisotropic_spacing():
    sp = (2.0, 0.5)  # (row, col) mm per pixel
    a = _box((16, 24), 4, 8, 4, 13)  # 5 x 10 rectangle
    # shifted +2 rows: a's top row (4, c) -> nearest b boundary (6, c): 2 px = 4 mm; everything
    # else is closer (e.g. a's bottom row lies inside b, <= 4 cols = 2 mm from b's side columns).
    b = _box((16, 24), 6, 10, 4, 13)
    assert M.hausdorff(a, b) == pytest.approx(2.0)
    assert M.hausdorff(a, b, spacing=sp) == pytest.approx(4.0)
    # shifted +4 cols: a's left column (r, 4) -> (r, 8): 4 px = 2 mm; a's right column is inside b,
    # 4 cols (2 mm) from b's right side; so HD is 4 px but 2 mm.
    b = _box((16, 24), 4, 8, 8, 17)
    assert M.hausdorff(a, b) == pytest.approx(4.0)
    assert M.hausdorff(a, b, spacing=sp) == pytest.approx(2.0)
    with pytest.raises(ValueError):
        M.hausdorff(a, b, spacing=(1.0, 2.0, 3.0))


def test_hd95_differs_from_max():
    # a: 5x5 square (16 boundary px); b: the same square plus an isolated pixel 6 px below (15, 9),
    # whose nearest boundary pixel of a is (9, 9). Pooled distances: 16 zeros (a->b) and 16 zeros
    # plus one 6 (b->a): n = 33 values, sorted [0]*32 + [6].
    a = _box((20, 20), 5, 9, 5, 9)
    b = a.copy()
    b[15, 9] = 1
    assert M.hausdorff(a, b) == pytest.approx(6.0)
    # 95th percentile: position 0.95*32 = 30.4, between sorted[30] = 0 and sorted[31] = 0
    assert M.hausdorff(a, b, percentile=95) == pytest.approx(0.0)
    # 99th: position 0.99*32 = 31.68 -> 0 + 0.68*(6 - 0) = 4.08
    assert M.hausdorff(a, b, percentile=99) == pytest.approx(4.08)
    assert M.hausdorff(b, a, percentile=99) == pytest.approx(4.08)  # symmetric
    with pytest.raises(ValueError):
        M.hausdorff(a, b, percentile=101)


def test_hausdorff_empty_and_labels():
    z = np.zeros((10, 10), int)
    a = _box((10, 10), 2, 4, 2, 4)
    assert M.hausdorff(z, z) == 0.0
    assert M.hausdorff(a, z) == math.inf
    assert M.hausdorff(z, a, percentile=95) == math.inf
    # label selection: label 2 squares offset by 2 rows, label 1 identical
    x = _box((12, 12), 0, 2, 0, 2, 1)
    y = x.copy()
    _box((12, 12), 6, 8, 6, 8, 2, out=x)
    _box((12, 12), 8, 10, 6, 8, 2, out=y)
    assert M.hausdorff(x, y, label=1) == 0.0
    assert M.hausdorff(x, y, label=2) == pytest.approx(2.0)
    # bool masks accepted
    assert M.hausdorff(x == 2, y == 2) == pytest.approx(2.0)


def test_hausdorff_matches_brute_force():
    """Random masks: the EDT result equals pairwise distances between the boundary pixel sets."""
    from scipy import ndimage as ndi

    rng = np.random.default_rng(3)
    sp = np.array([1.5, 0.7])
    for _ in range(5):
        a = ndi.binary_opening(rng.random((15, 17)) > 0.55)
        b = ndi.binary_opening(rng.random((15, 17)) > 0.55)
        if not a.any() or not b.any():
            continue
        cross = ndi.generate_binary_structure(2, 1)
        ba = np.argwhere(a & ~ndi.binary_erosion(a, cross)) * sp
        bb = np.argwhere(b & ~ndi.binary_erosion(b, cross)) * sp
        d = np.sqrt(((ba[:, None] - bb[None]) ** 2).sum(-1))
        pooled = np.concatenate([d.min(axis=1), d.min(axis=0)])
        assert M.hausdorff(a, b, spacing=tuple(sp)) == pytest.approx(pooled.max())
        assert M.hausdorff(a, b, percentile=95, spacing=tuple(sp)) == pytest.approx(np.percentile(pooled, 95))


# --------------------------------------------------------------------------- TRE
def test_tre_three_points():
    target = np.array([[0.0, 0.0], [10.0, 10.0], [5.0, 5.0]])
    moved = np.array([[3.0, 4.0], [10.0, 10.0], [5.0, -1.0]])
    # d = moved - target = (3,4), (0,0), (0,-6); |d| = 5, 0, 6
    r = M.tre(moved, target)
    assert r["n"] == 3
    assert r["mean"] == pytest.approx(11 / 3)  # (5+0+6)/3 = 3.667
    assert r["ds"] == pytest.approx(11 / 3)
    # std (ddof=0) = sqrt(mean(|d|²) - mean²) = sqrt(61/3 - 121/9) = sqrt(62)/3 = 2.6247
    assert r["std"] == pytest.approx(math.sqrt(62) / 3)
    assert r["max"] == pytest.approx(6.0)
    assert r["dx"] == pytest.approx((4 + 0 + 6) / 3)  # mean |Δcol|
    assert r["dy"] == pytest.approx((3 + 0 + 0) / 3)  # mean |Δrow|
    assert not any(k.endswith("_px") for k in r)


def test_tre_physical_units():
    target = np.array([[0.0, 0.0], [10.0, 10.0], [5.0, 5.0]])
    moved = np.array([[3.0, 4.0], [10.0, 10.0], [5.0, -1.0]])
    r = M.tre(moved, target, spacing=(2.0, 0.5))
    # d in mm = (6, 2), (0, 0), (0, -3); |d| = sqrt(40), 0, 3
    assert r["mean"] == pytest.approx((math.sqrt(40) + 3) / 3)
    assert r["max"] == pytest.approx(math.sqrt(40))
    assert r["dx"] == pytest.approx((2 + 0 + 3) / 3)
    assert r["dy"] == pytest.approx((6 + 0 + 0) / 3)
    assert r["ds"] == pytest.approx(r["mean"])
    # pixel values kept under *_px
    assert r["mean_px"] == pytest.approx(11 / 3)
    assert r["dx_px"] == pytest.approx(10 / 3) and r["dy_px"] == pytest.approx(1.0)
    assert r["n"] == 3


def test_tre_errors_and_empty():
    with pytest.raises(ValueError):
        M.tre(np.zeros((3, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError):
        M.tre(np.zeros((3, 3)), np.zeros((3, 3)))
    r = M.tre(np.zeros((0, 2)), np.zeros((0, 2)))
    assert r["n"] == 0 and math.isnan(r["mean"])


# --------------------------------------------------------------------------- intensities
def test_mse_hand():
    a = np.zeros((2, 2))
    b = np.array([[1.0, 2.0], [3.0, 0.0]])
    assert M.mse(a, b) == pytest.approx((1 + 4 + 9 + 0) / 4)  # 3.5
    assert M.mse(a, b, mask=np.array([[1, 1], [0, 0]])) == pytest.approx((1 + 4) / 2)
    stack_a = np.stack([a, a])
    stack_b = np.stack([b, a])
    assert np.allclose(M.mse(stack_a, stack_b, per_frame=True), [3.5, 0.0])
    assert M.mse(stack_a, stack_b) == pytest.approx(1.75)
    assert math.isnan(M.mse(a, b, mask=np.zeros((2, 2))))
    with pytest.raises(ValueError):
        M.mse(a, np.zeros((3, 2)))


def test_image_metrics_take_a_frame_at_a_time():
    """``mse`` and ``lncc`` made float64 copies of both stacks at once (and ``evaluate``'s ``mse_before`` of the
    reference broadcast to every frame): 16 bytes a pixel of the sequence, 160 MiB of a 40x512² float32 pair."""
    import tracemalloc

    rng = np.random.default_rng(0)
    a = rng.random((40, 128, 128), dtype=np.float32)
    b = rng.random((40, 128, 128), dtype=np.float32)
    mask = np.zeros((128, 128), bool)
    mask[20:90, 10:100] = True
    whole = a.size * 8  # one float64 stack
    want = {"mse": [float(((a[i].astype(np.float64) - b[i]) ** 2).mean()) for i in range(40)],
            "mse_mask": [float(((a[i].astype(np.float64) - b[i])[mask] ** 2).mean()) for i in range(40)]}
    for name, call in {"mse": lambda: M.mse(a, b, per_frame=True),
                       "mse_mask": lambda: M.mse(np.broadcast_to(a[0], a.shape), b, mask=mask, per_frame=True),
                       "lncc": lambda: M.lncc(a, b, mask=mask, per_frame=True)}.items():
        call()  # scipy's imports
        tracemalloc.start()
        got = call()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < whole / 2, (name, peak, whole)
        if name == "mse_mask":
            want[name] = [float(((a[0].astype(np.float64) - b[i])[mask] ** 2).mean()) for i in range(40)]
        if name in want:
            np.testing.assert_allclose(got, want[name], rtol=1e-12)


def test_lncc_properties():
    rng = np.random.default_rng(0)
    a = rng.random((32, 32))
    assert M.lncc(a, a) == pytest.approx(1.0, abs=1e-6)
    assert M.lncc(a, 2.0 * a + 0.3) == pytest.approx(1.0, abs=1e-6)  # affine, positive gain
    assert M.lncc(a, -a) == pytest.approx(-1.0, abs=1e-6)
    assert M.lncc(a, -a, squared=True) == pytest.approx(1.0, abs=1e-6)
    noise = rng.random((32, 32))
    assert abs(M.lncc(a, noise)) < 0.2
    assert M.lncc(a, noise) < M.lncc(a, a + 0.1 * noise) < 1.0
    assert M.lncc(a, noise) == M.lncc(a, noise, radius=4)  # default: 9x9 window
    # constant image: zero variance in every window -> 0
    assert M.lncc(a, np.ones_like(a)) == pytest.approx(0.0, abs=1e-9)


def test_lncc_mask_and_stack():
    rng = np.random.default_rng(1)
    a = rng.random((24, 24))
    b = a.copy()
    b[:, 12:] = rng.random((24, 12))  # right half unrelated
    mask = np.zeros((24, 24), bool)
    mask[:, :6] = True  # windows (radius 2) there only see the identical left part
    # 5x5 windows: window variance sums ~2, so eps = 1e-5 costs ~eps/(2 v²) ~ 1e-6
    assert M.lncc(a, b, radius=2, mask=mask) == pytest.approx(1.0, abs=1e-5)
    assert M.lncc(a, b, radius=2) < 0.9  # unmasked, the unrelated half pulls it down
    per = M.lncc(np.stack([a, a]), np.stack([a, b]), per_frame=True)
    assert per.shape == (2,) and per[0] == pytest.approx(1.0, abs=1e-6) and per[1] < 0.9
    assert M.lncc(np.stack([a, a]), np.stack([a, b])) == pytest.approx(per.mean())



def test_lncc_after_before_gives_lncc_figures_exactly():
    # evaluate's shared-terms path: the same numbers, bit for bit, as lncc(warped, frames) and lncc(frames[ref], frames)
    rng = np.random.default_rng(3)
    frames = rng.random((4, 30, 26)).astype(np.float32)
    warped = (frames + 0.2 * rng.random(frames.shape)).astype(np.float32)
    masks = [None, rng.random((30, 26)) > 0.4, np.zeros((4, 30, 26), bool)]
    masks[2][1:, 5:20, 3:9] = True  # frame 0's mask empty: NaN
    for radius in (2, 10):
        for mask in masks:
            after, before = M.lncc_after_before(warped, frames, 1, radius=radius, mask=mask)
            np.testing.assert_array_equal(after, M.lncc(warped, frames, radius=radius, mask=mask, per_frame=True))
            unwarped = np.broadcast_to(frames[1], frames.shape)
            np.testing.assert_array_equal(before, M.lncc(unwarped, frames, radius=radius, mask=mask, per_frame=True))
    assert np.isnan(after[0]) and np.isnan(before[0]) and not np.isnan(after[1:]).any()
    assert before[1] == pytest.approx(1.0, abs=1e-4) and after[1] < before[1]  # the reference against itself

# --------------------------------------------------------------------------- folding
def _band_field(h=10, w=8, rows=(2, 5)):
    u = np.zeros((2, h, w))
    c = np.arange(w, dtype=float)
    u[1, rows[0] : rows[1]] = -2.0 * c  # u_c = -2c on rows 2..4: du_c/dc = -2, du_r/d* = 0
    return u


def test_negative_jacobian_fraction_band():
    u = _band_field()
    det = M.jacobian_determinant_np(u)
    # det = (1 + 0)(1 - 2) - 0 * du_c/dr = -1 on the 3 band rows, 1 elsewhere
    assert np.allclose(det[2:5], -1.0) and np.allclose(det[:2], 1.0) and np.allclose(det[5:], 1.0)
    assert M.negative_jacobian_fraction(u) == pytest.approx(100 * 3 / 10)  # 30 %
    assert M.negative_jacobian_fraction(np.zeros((2, 10, 8))) == 0.0
    # u_c = -c: det = 0 everywhere, which counts as folding (det <= 0)
    u0 = np.zeros((2, 6, 6))
    u0[1] = -np.arange(6.0)[None, :]
    assert M.negative_jacobian_fraction(u0) == pytest.approx(100.0)
    stack = np.stack([u, np.zeros_like(u)])
    assert M.negative_jacobian_fraction(stack) == pytest.approx(15.0)
    assert np.allclose(M.negative_jacobian_fraction(stack, per_frame=True), [30.0, 0.0])


def test_jacobian_matches_core_ops():
    pytest.importorskip("torch")
    from napari_tlreg.core.ops import jacobian_determinant

    rng = np.random.default_rng(2)
    u = (rng.standard_normal((3, 2, 12, 10)) * 0.8).astype(np.float32)
    assert np.allclose(M.jacobian_determinant_np(u), jacobian_determinant(u), atol=1e-5)


# --------------------------------------------------------------------------- map_points
def test_map_points_constant_field():
    u = np.zeros((2, 2, 8, 8))
    u[1, 0], u[1, 1] = 1.5, -2.0
    pts = np.array([[1, 3.0, 4.0], [0, 3.0, 4.0], [1, 0.25, 7.0]])
    out = M.map_points(u, pts)
    assert np.allclose(out, [[4.5, 2.0], [3.0, 4.0], [1.75, 5.0]])


def test_map_points_linear_field():
    h, w = 8, 9
    r, c = np.mgrid[0:h, 0:w].astype(float)
    u = np.stack([0.1 * r + 0.2 * c + 1.0, -0.3 * r + 0.05 * c])
    # bilinear interpolation reproduces a linear field exactly inside the grid:
    # q = (2.5, 3.25): u_r = 0.25 + 0.65 + 1 = 1.9, u_c = -0.75 + 0.1625 = -0.5875
    out = M.map_points(u, np.array([[2.5, 3.25]]))  # single field: (N, 2) accepted
    assert np.allclose(out, [[2.5 + 1.9, 3.25 - 0.5875]])
    # outside the image the field is border-replicated: q = (-3, 4) samples u at (0, 4):
    # u_r = 0 + 0.8 + 1 = 1.8, u_c = 0 + 0.2 = 0.2
    out = M.map_points(u[None], np.array([[0, -3.0, 4.0]]))
    assert np.allclose(out, [[-1.2, 4.2]])
    with pytest.raises(ValueError):
        M.map_points(u[None], np.array([[1, 0.0, 0.0]]))  # t out of range
    with pytest.raises(ValueError):
        M.map_points(u[None], np.array([[0.5, 0.0, 0.0]]))  # non-integer t


# --------------------------------------------------------------------------- evaluate
def _shift(img, ur, uc):
    """warp(img, constant u)(x) = img(x + u), integer u, border replication."""
    h, w = img.shape
    ri = np.clip(np.arange(h) + ur, 0, h - 1)
    ci = np.clip(np.arange(w) + uc, 0, w - 1)
    return img[np.ix_(ri, ci)]


def _fake_result(shifts, registered=True, spacing=None, size=24, seed=0):
    rng = np.random.default_rng(seed)
    ref = rng.random((size, size)).astype(np.float32)
    frames = np.stack([_shift(ref, *s) for s in shifts])
    T = len(shifts)
    disp = np.zeros((T, 2, size, size), np.float32)
    if registered:
        for t, (ur, uc) in enumerate(shifts):
            disp[t, 0], disp[t, 1] = ur, uc
    used = shifts if registered else [(0, 0)] * T
    warped = np.stack([_shift(ref, *s) for s in used])

    def warp_labels(lab):
        return np.stack([_shift(lab, *s) for s in used])

    return SimpleNamespace(
        frames=frames, warped=warped, displacement=disp, jacobian=np.ones((T, size, size)),
        reference=0, spacing=spacing, method="fake", warp_labels=warp_labels,
    )


SHIFTS = [(0, 0), (2, -3), (0, 2)]  # pull displacement u_t of each frame (row, col)


def _labels_and_landmarks():
    ref_lab = _box((24, 24), 6, 11, 6, 11, 1)  # 36 px
    _box((24, 24), 14, 17, 12, 16, 2, out=ref_lab)  # 20 px
    labels = np.zeros((3, 24, 24), np.int32)
    labels[0] = ref_lab
    labels[1] = _shift(ref_lab, 2, -3)  # content moves by -u = (-2, +3)
    # frame 2 has no manual labels
    p = np.array([[5.0, 5.0], [10.0, 12.0], [15.0, 8.0]])  # reference landmarks
    rows = [[i, 0, *p[i]] for i in range(3)]
    rows += [[i, 1, *(p[i] - np.array(SHIFTS[1]))] for i in range(3)]  # q = p - u
    rows += [[i, 2, *(p[i] - np.array(SHIFTS[2]))] for i in range(2)]
    rows += [[9, 2, 1.0, 1.0]]  # id 9 has no reference partner: ignored
    return labels, np.array(rows, dtype=float)


def test_evaluate_constant_translation():
    labels, landmarks = _labels_and_landmarks()
    res = _fake_result(SHIFTS)
    rows = M.evaluate(res, labels=labels, landmarks=landmarks)
    assert [r["t"] for r in rows] == [0, 1, 2]
    assert [r["is_reference"] for r in rows] == [True, False, False]
    for r in rows:
        assert r["mse"] == pytest.approx(0.0)
        assert r["lncc"] > 0.999
        assert r["folding_pct"] == 0.0
    r1, r2 = rows[1], rows[2]
    # labels propagated by the right field coincide with the manual ones
    assert r1["dice"] == pytest.approx(1.0) and r1["hd"] == 0.0 and r1["hd95"] == 0.0
    assert r1["dice_1"] == pytest.approx(1.0) and r1["dice_2"] == pytest.approx(1.0)
    # unregistered overlap: label 1 rows 6..9 x cols 9..11 = 12 px, label 2 rows 14..15 x cols
    # 15..16 = 4 px; |A| = |B| = 56 -> 2*16/112 = 2/7
    assert r1["dice_before"] == pytest.approx(2 / 7)
    assert all(math.isnan(r2[k]) for k in ("dice", "hd", "hd95", "dice_1", "dice_2"))  # unlabelled
    assert all(math.isnan(rows[0][k]) for k in ("dice", "tre"))  # the reference itself
    # landmarks: q + u(q) = p exactly; before = |u|
    assert r1["tre"] == pytest.approx(0.0, abs=1e-9) and r1["tre_max"] == pytest.approx(0.0, abs=1e-9)
    assert r1["tre_before"] == pytest.approx(math.sqrt(2**2 + 3**2))
    assert r1["tre_n"] == 3 and r2["tre_n"] == 2
    assert r2["tre"] == pytest.approx(0.0, abs=1e-9) and r2["tre_before"] == pytest.approx(2.0)
    assert "tre_mm" not in r1 and "hd_mm" not in r1
    s = M.summarize(rows)
    assert s["n_frames"] == 2
    assert s["tre_before"] == pytest.approx((3 * math.sqrt(13) + 2 * 2.0) / 5)  # pooled over the 5 pairs
    assert s["dice"] == pytest.approx(1.0)  # NaN of the unlabelled frame ignored
    assert s["mse"] == pytest.approx(0.0)
    assert "t" not in s and "is_reference" not in s


def test_evaluate_unregistered_and_physical_units():
    labels, landmarks = _labels_and_landmarks()
    res = _fake_result(SHIFTS, registered=False, spacing=(0.5, 2.0))
    r1 = M.evaluate(res, labels=labels, landmarks=landmarks)[1]
    # zero displacement: after == before
    assert r1["tre"] == pytest.approx(math.sqrt(13))
    assert r1["tre_dx"] == pytest.approx(3.0) and r1["tre_dy"] == pytest.approx(2.0)
    assert r1["tre_std"] == pytest.approx(0.0, abs=1e-9)
    # mm: (2 rows * 0.5, 3 cols * 2.0) = (1, 6) -> sqrt(37)
    assert r1["tre_mm"] == pytest.approx(math.sqrt(37)) and r1["tre_before_mm"] == pytest.approx(math.sqrt(37))
    assert r1["tre_dx_mm"] == pytest.approx(6.0) and r1["tre_dy_mm"] == pytest.approx(1.0)
    assert r1["dice"] == pytest.approx(2 / 7)
    assert r1["hd_mm"] > 0 and r1["hd"] > 0


def test_evaluate_minimal_and_errors():
    res = _fake_result(SHIFTS)
    rows = M.evaluate(res)
    assert set(rows[1]) == {"t", "is_reference", "mse", "mse_before", "lncc", "lncc_before", "lncc10", "lncc10_before",
                            "folding_pct"}
    with pytest.raises(ValueError):
        M.evaluate(res, labels=np.zeros((2, 24, 24), int))
    with pytest.raises(ValueError):
        M.evaluate(res, landmarks=np.zeros((3, 3)))
    with pytest.raises(ValueError):
        M.evaluate(res, landmarks=np.array([[0, 5, 1.0, 1.0]]))  # t out of range


def test_import_is_light():
    code = (
        "import sys, napari_tlreg.metrics as m; "
        "bad = [k for k in ('torch', 'napari', 'qtpy', 'PyQt5', 'scipy.ndimage') if k in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_folding_of_a_masked_run_is_taken_inside_its_region():
    """A run restricted to a region fits no field outside it: its folding (``RegistrationResult.folding_pct``,
    ``evaluate``'s ``folding_pct``, and so the viewer's legend and status) counts the region's pixels only,
    as its MSE and local CC do; ``mask=None`` gives the whole frame."""
    from napari_tlreg import RegistrationResult, jacobian_determinant
    from napari_tlreg.core.region import encode_mask

    T, H, W = 3, 24, 32
    frames = np.random.default_rng(0).random((T, H, W)).astype(np.float32)
    u = np.zeros((T, 2, H, W), np.float32)
    u[1:, 1, :, W // 2:] = -2.0 * np.arange(W - W // 2, dtype=np.float32)  # det = 1 - 2 < 0 in the right half only
    region = np.zeros((H, W), bool)
    region[:, : W // 2 - 2] = True
    jac = np.asarray(jacobian_determinant(u))
    plain = RegistrationResult(frames=frames, warped=frames.copy(), displacement=u, jacobian=jac, method="nmsr")
    masked = RegistrationResult(frames=frames, warped=frames.copy(), displacement=u, jacobian=jac, method="nmsr",
                                params={"mask": encode_mask(region)})
    whole = M.negative_jacobian_fraction(u, per_frame=True)
    assert whole[0] == 0 and np.all(whole[1:] > 40)
    assert np.allclose(plain.folding_pct, whole) and np.all(masked.folding_pct == 0)
    assert [r["folding_pct"] for r in M.evaluate(masked)] == [0.0, 0.0, 0.0]
    assert np.allclose([r["folding_pct"] for r in M.evaluate(masked, mask=None)], whole)
    assert np.allclose(M.negative_jacobian_fraction(u, per_frame=True, mask=~region), 100 * (jac[:, ~region] <= 0).mean(axis=1))
    assert M.negative_jacobian_fraction(u[1], mask=~region) > 50
    assert np.isnan(M.negative_jacobian_fraction(u, mask=np.zeros((H, W), bool)))
    with pytest.raises(ValueError, match="mask must be"):
        M.negative_jacobian_fraction(u, mask=region[:, 1:])


def test_evaluate_counts_negative_label_ids_as_foreground():
    """Labels with negative ids only were frames counted as labelled whose foregrounds (> 0) were both empty: Dice 1,
    HD 0 for regions that did not overlap at all. The foreground is every nonzero id, as "labelled" is."""
    from napari_tlreg.result import RegistrationResult

    u = np.zeros((2, 2, 16, 16), np.float32)
    u[1, 0] = 1
    fr = np.random.default_rng(0).random((2, 16, 16)).astype(np.float32)
    res = RegistrationResult(fr, fr, u, tl.jacobian_determinant(u), "x", spacing=(0.5, 0.5))
    lab = np.zeros((2, 16, 16), np.int32)
    lab[0, 4:10, 4:10] = -1
    lab[1, 5:11, 4:10] = -1
    row, same = M.evaluate(res, labels=lab)[1], M.evaluate(res, labels=-lab)[1]  # the same regions with id 1
    assert row["dice"] < 0.9 and row["hd"] > 0 and row["dice"] == same["dice"] and row["hd"] == same["hd"]


@pytest.mark.parametrize("reference", [0, 1])
def test_a_label_drawn_on_one_of_two_frames_is_left_out_whichever_is_the_reference(reference):
    """(2026-12-05, metrics review) Sunnybrook draws the myocardium at end-diastole only. With ED as the reference it
    was left out at ES; with ES as the reference it was kept at ED, where nothing could be carried to it: the
    foreground Dice read 0.70 for 0.88, its own Dice 0 and HD inf (NaN: not annotated on both frames)."""
    from napari_tlreg.result import RegistrationResult

    u = np.zeros((2, 2, 24, 24), np.float32)  # the identity: every label drawn on both frames matches exactly
    fr = np.random.default_rng(0).random((2, 24, 24)).astype(np.float32)
    res = RegistrationResult(fr, fr, u, tl.jacobian_determinant(u), "x", reference=reference)
    lab = np.zeros((2, 24, 24), np.int32)
    lab[:, 8:16, 8:16] = 1
    lab[0, 2:5, 2:20] = 2  # on frame 0 only
    row = M.evaluate(res, labels=lab)[1 - reference]
    assert row["dice"] == 1.0 and row["hd"] == 0.0 and row["dice_1"] == 1.0
    assert all(math.isnan(row[k]) for k in ("dice_2", "hd_2", "hd95_2")), row


def test_result_save_takes_numpy_scalars(tmp_path):
    from napari_tlreg.result import RegistrationResult

    u = np.zeros((2, 2, 16, 16), np.float32)
    fr = np.zeros((2, 16, 16), np.float32)
    res = RegistrationResult(fr, fr, u, tl.jacobian_determinant(u), "x", params={"lam": np.float32(0.5),
                             "k": np.int64(3), "v": np.arange(2)}, reference=np.int64(1), runtime_s=np.float32(1.5))
    back = RegistrationResult.load(res.save(tmp_path / "r"))
    assert back.params == {"lam": 0.5, "k": 3, "v": [0, 1]} and back.reference == 1 and back.runtime_s == 1.5


def test_evaluate_reports_the_local_cc_of_nmsrs_paper_in_the_mask():
    """``lncc10``: the mean local CC with 21x21 windows (radius 10, as NMSR's paper and the NMSR benchmark report
    it) beside the 9x9 ``lncc``, both over the registration's mask."""
    from types import SimpleNamespace

    rng = np.random.default_rng(3)
    frames = rng.random((3, 40, 40)).astype(np.float32)
    warped = (frames + 0.3 * rng.random((3, 40, 40))).astype(np.float32)
    mask = np.zeros((40, 40), bool)
    mask[5:30, 8:36] = True
    res = SimpleNamespace(frames=frames, warped=warped, displacement=np.zeros((3, 2, 40, 40), np.float32),
                          reference=0, spacing=None, mask=mask)
    rows = M.evaluate(res)
    for t in (1, 2):
        assert rows[t]["lncc10"] == pytest.approx(M.lncc(warped[t], frames[t], radius=10, mask=mask))
        assert rows[t]["lncc"] == pytest.approx(M.lncc(warped[t], frames[t], radius=4, mask=mask))
        assert rows[t]["lncc10"] != pytest.approx(rows[t]["lncc"])
        assert rows[t]["lncc10"] != pytest.approx(M.lncc(warped[t], frames[t], radius=10))  # in the mask
        # ... each beside the reference unwarped (a cohort's summary gave the local CC beside nothing; review)
        assert rows[t]["lncc_before"] == pytest.approx(M.lncc(frames[0], frames[t], radius=4, mask=mask))
        assert rows[t]["lncc10_before"] == pytest.approx(M.lncc(frames[0], frames[t], radius=10, mask=mask))
        assert rows[t]["lncc10_before"] != pytest.approx(rows[t]["lncc10"])


def test_a_label_not_drawn_on_a_frame_is_not_annotated_there(shared_data):
    """The Sunnybrook expert drew the epicardium at end-diastole only and the endocardium at ED and ES. With the
    reference at ED, ES was scored as if the myocardium had vanished there: dice_1 0, hd_1 inf, and the foreground
    Dice (0.707) compared the propagated myocardium and cavity against the cavity alone."""
    from matplotlib.path import Path as Polygon

    from napari_tlreg.io import load_sequence

    folder = shared_data / "sunnybrook" / "contours_SCD0000101"
    seq = load_sequence(shared_data / "sunnybrook" / "dicom_SCD0000101", slice=5)
    T, H, W = seq.frames.shape
    rr, cc = np.mgrid[0:H, 0:W]
    pixels = np.column_stack([cc.ravel(), rr.ravel()])

    def inside(kind, image):
        xy = np.loadtxt(folder / f"{kind}-contours" / f"IM-0001-{image:04d}-{kind}contour-manual.txt")
        return Polygon(xy).contains_points(pixels).reshape(H, W)

    lab = np.zeros((T, H, W), np.int32)
    lab[18][inside("o", 119)] = 1  # ED: myocardium (epicardium minus endocardium) and cavity
    lab[18][inside("i", 119)] = 2
    lab[7][inside("i", 108)] = 2  # ES: the endocardium alone
    res = tl.register(seq.frames, reference=18, spacing=seq.spacing)
    es = M.evaluate(res, labels=lab)[7]
    assert np.isnan(es["dice_1"]) and np.isnan(es["hd_1"]) and np.isnan(es["hd95_1_mm"])
    cavity = res.warp_labels(lab[18])[7] == 2
    assert es["dice_2"] == pytest.approx(M.dice(cavity, lab[7] == 2))
    assert es["dice"] == pytest.approx(es["dice_2"])  # the foreground: the cavity, the one label drawn at ES
    assert es["dice_before"] == pytest.approx(M.dice(lab[18] == 2, lab[7] == 2)) and es["dice"] > 0.8
    assert np.isfinite(es["hd_2"]) and es["hd"] == pytest.approx(es["hd_2"])
    assert es["hd_before"] == pytest.approx(M.hausdorff(lab[18] == 2, lab[7] == 2))  # the reference's cavity alone
    assert es["hd_before_mm"] == pytest.approx(M.hausdorff(lab[18] == 2, lab[7] == 2, spacing=seq.spacing))


# ---- from the mutation review of the core modules (2026-12-05): each assertion fails on a mutant that passed ----
def test_a_structure_touching_the_image_edge_has_its_boundary_there():
    """Cropped anatomy, a field that fills the frame: pixels on the image's edge are boundary (erosion with the
    border as background). A = columns 0-7, B = columns 2-7: the farthest boundary points are 2 px apart (an erosion
    that took the border as foreground measured 5)."""
    from napari_tlreg import metrics as M

    a = np.zeros((20, 20), bool)
    a[:, :8] = True
    b = np.zeros((20, 20), bool)
    b[:, 2:8] = True
    assert M.hausdorff(a, b) == 2.0 and M.hausdorff(a, b, percentile=95) == 2.0


def test_hd95_is_the_95th_percentile_not_the_maximum():
    from napari_tlreg import metrics as M

    assert M._hd_pair(np.arange(101.0)) == (100.0, 95.0)
    rng = np.random.default_rng(1)
    a = np.zeros((48, 48), bool)
    a[10:30, 10:30] = True
    b = a.copy()
    b[28:34, 12:14] = True  # a spur: the maximum, not the bulk
    b[rng.integers(10, 30, 10), rng.integers(10, 30, 10)] = False
    hd, hd95 = M.hausdorff(a, b), M.hausdorff(a, b, percentile=95)
    assert hd95 < hd
    from napari_tlreg.result import RegistrationResult

    frames = rng.random((2, 48, 48)).astype(np.float32)
    u = np.zeros((2, 2, 48, 48), np.float32)  # no motion: the reference's labels (b) against frame 1's (a)
    res = RegistrationResult(frames, frames.copy(), u, tl.jacobian_determinant(u), "x")
    row = M.evaluate(res, labels=np.stack([b, a]).astype(np.int32))[1]
    assert row["hd"] == pytest.approx(hd) and row["hd95"] == pytest.approx(hd95) and row["hd95_before"] == pytest.approx(hd95)


def test_the_summary_tre_is_pooled_over_the_pairs_as_tre_csv_all_row():
    """(2026-12-05, outputs review) metrics.json's TRE was the mean of the frames' means (3.115 against tre.csv's
    pooled 3.427 px for 6, 2 and 6 pairs), and its std the mean of the frames' deviations."""
    from napari_tlreg import landmarks as LM

    rng = np.random.default_rng(0)
    lm = [[i, 0, 10 + 3 * i, 12 + 2 * i] for i in range(6)]
    for t, n in ((1, 6), (2, 2), (3, 6)):
        lm += [[i, t, 10 + 3 * i + rng.normal(0, 2), 12 + 2 * i + rng.normal(0, 2)] for i in range(n)]
    lm = np.array(lm, float)
    u = rng.normal(0, 0.5, (4, 2, 40, 40)).astype(np.float32)
    u[0] = 0
    from napari_tlreg.result import RegistrationResult

    frames = rng.random((4, 40, 40)).astype(np.float32)
    res = RegistrationResult(frames, frames.copy(), u, tl.jacobian_determinant(u), "x")
    rows = M.evaluate(res, landmarks=lm)
    s = M.summarize(rows)
    pooled = LM.tre_table(lm, 0, u)[-1]  # the "all" row
    assert pooled["t"] == "all" and s["tre_n"] == pooled["n"] == 14
    assert s["tre"] == pytest.approx(pooled["after_mean"]) and s["tre_std"] == pytest.approx(pooled["after_std"])
    assert s["tre_before"] == pytest.approx(pooled["before_mean"]) and s["tre_dx"] == pytest.approx(pooled["after_dx"])
    assert s["tre_max"] == pytest.approx(pooled["after_max"])


def test_map_points_samples_only_around_the_points_and_gives_the_same_values():
    """(2026-12-05, large-data review) Each Landmarks click copied two whole field planes to float64 (2-6 s on the GUI
    thread at 4096²): the box around the points is sampled in the field's own type, with the same border values."""
    from scipy import ndimage as ndi

    from napari_tlreg.metrics import map_points

    rng = np.random.default_rng(0)
    u = rng.normal(0, 3, (3, 2, 61, 47)).astype(np.float32)
    pts = np.concatenate([rng.integers(0, 3, (200, 1)), rng.uniform(-9, 70, (200, 1)), rng.uniform(-9, 56, (200, 1))], 1)
    pts = np.concatenate([pts, [[0, 0, 0], [1, 60, 46], [2, -5, 50], [2, 30.5, 46.9], [0, 60.5, -0.5], [1, 7.2, 7.9]]])
    expected = pts[:, 1:].copy()
    for i, (t, r, c) in enumerate(pts):
        for ch in range(2):
            expected[i, ch] += ndi.map_coordinates(u[int(t), ch].astype(np.float64), [[r], [c]], order=1,
                                                   mode="nearest")[0]
    np.testing.assert_array_equal(map_points(u, pts), expected)
    np.testing.assert_array_equal(map_points(u, pts[-1:]), expected[-1:])  # one point: a 4x4 box
    # (second diff review) a half-precision field (saved so, or a torch half tensor): scipy has no half kernel
    np.testing.assert_allclose(map_points(u.astype(np.float16), pts), expected, atol=0.02)


@pytest.mark.parametrize("spacing", [None, (1.3, 0.7)])
def test_surface_distances_over_the_masks_box_are_those_over_the_whole_frame(spacing):
    """(2026-12-06) The distance transforms run over the masks' bounding box and 1 px around it (0.55x the time of
    evaluate on a 128² cine): the distances are those of the whole frame, bit for bit, masks at the frame's edge too."""
    from scipy import ndimage as ndi

    def whole(a, b):
        cross = ndi.generate_binary_structure(2, 1)
        ba = a & ~ndi.binary_erosion(a, structure=cross, border_value=0)
        bb = b & ~ndi.binary_erosion(b, structure=cross, border_value=0)
        sp = None if spacing is None else tuple(spacing)
        return np.concatenate([ndi.distance_transform_edt(~bb, sampling=sp)[ba],
                               ndi.distance_transform_edt(~ba, sampling=sp)[bb]])

    rng = np.random.default_rng(3)
    for k in range(40):
        a = np.zeros((48, 60), bool)
        b = np.zeros((48, 60), bool)
        r, c = rng.integers(0, 40, 2)
        a[r:r + rng.integers(1, 12), c:c + rng.integers(1, 12)] = True
        b[rng.random((48, 60)) > 0.985] = True
        if k % 3 == 0:
            a[0, :5] = True  # on the frame's edge
        if not b.any():
            b[5, 5] = True
        np.testing.assert_array_equal(M.surface_distances(a, b, spacing=spacing), whole(a, b))


def test_evaluate_counts_the_folds_the_result_shows():
    """(2026-12-07, code review) ``evaluate`` took the Jacobian again in float64 where the result (the folds layer,
    the Register dock's "worst folding") has float32's: a determinant within rounding of 0 was a fold in one and not
    the other (11.1 % against 0.0 % on a 3x3 field). It counts the result's own."""
    import napari_tlreg as tl

    res = tl.register(np.random.default_rng(0).random((3, 16, 16)).astype(np.float32), method="voxelmorph")
    res.jacobian = res.jacobian.copy()
    res.jacobian[1, 4, 4] = 0.0  # a fold in the result's determinant that a recount of its field would not find
    assert res.jacobian[1].min() == 0.0 and M.jacobian_determinant_np(res.displacement[1])[4, 4] > 0
    rows = M.evaluate(res)
    np.testing.assert_allclose([r["folding_pct"] for r in rows], res.folding_pct)
    assert rows[1]["folding_pct"] == pytest.approx(100 / 256)
