"""Properties of the deformation core (tl.warp, integrate_velocity, compose, invert, jacobian_determinant)."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import napari_tlreg as tl

H = W = 48


def smooth_field(seed: int, amplitude: float, size=(H, W), n_bumps: int = 4, sigma: float = 11.0) -> np.ndarray:
    """A smooth random displacement (2, H, W) made of Gaussian bumps, max |u| == amplitude."""
    rng = np.random.default_rng(seed)
    h, w = size
    rr, cc = np.mgrid[0:h, 0:w].astype(np.float64)
    u = np.zeros((2, h, w))
    for _ in range(n_bumps):
        r0, c0 = rng.uniform(0, h), rng.uniform(0, w)
        g = np.exp(-((rr - r0) ** 2 + (cc - c0) ** 2) / (2 * sigma**2))
        u += rng.normal(size=(2, 1, 1)) * g
    u *= amplitude / max(np.abs(u).max(), 1e-9)
    return u.astype(np.float32)


def test_warp_convention_pull_in_pixels_row_col():
    img = np.zeros((H, W), np.float32)
    img[20, 30] = 1.0
    u = np.zeros((2, H, W), np.float32)
    u[0] = 3.0  # pull from 3 rows below: out(x) = img(x + (3, 0))
    out = tl.warp(img, u)
    assert out[17, 30] == pytest.approx(1.0, abs=1e-4)
    assert out.sum() == pytest.approx(1.0, abs=1e-4)
    u = np.zeros((2, H, W), np.float32)
    u[1] = -5.0  # channel 1 is the column offset
    out = tl.warp(img, u)
    assert out[20, 35] == pytest.approx(1.0, abs=1e-4)


def test_warp_subpixel_is_bilinear_and_labels_are_nearest():
    ramp = np.tile(np.arange(W, dtype=np.float32), (H, 1))
    u = np.zeros((2, H, W), np.float32)
    u[1] = 0.25
    out = tl.warp(ramp, u)
    np.testing.assert_allclose(out[:, :-1], ramp[:, :-1] + 0.25, atol=1e-5)
    assert out[0, -1] == pytest.approx(W - 1)  # border replication
    labels = np.zeros((H, W), np.int32)
    labels[10:20, 10:20] = 3
    u[1] = 0.4
    lab = tl.warp(labels, u, order=0)  # labels: nearest, as CONVENTIONS.md warps them
    assert lab.dtype == np.int32
    assert set(np.unique(lab)) == {0, 3}
    # the default is API.md's order=1 for every dtype: a uint8 intensity image is interpolated, not picked
    ramp8 = np.tile(np.arange(0, 250, 10, dtype=np.uint8), (4, 1))
    half = np.zeros((2, 4, 25))
    half[1] = 0.5
    assert tl.warp(ramp8, half).dtype == np.uint8 and tl.warp(ramp8, half)[0, :3].tolist() == [5, 15, 25]


def test_warp_shapes():
    u = smooth_field(0, 2.0)
    assert tl.warp(np.zeros((H, W)), u).shape == (H, W)
    assert tl.warp(np.zeros((3, H, W)), u).shape == (3, H, W)
    us = np.stack([u, -u, 0 * u])
    assert tl.warp(np.zeros((H, W)), us).shape == (3, H, W)
    assert tl.warp(np.zeros((3, H, W)), us).shape == (3, H, W)
    with pytest.raises(ValueError):
        tl.warp(np.zeros((H, W + 1)), u)
    with pytest.raises(ValueError):
        tl.warp(np.zeros((H, W)), np.zeros((3, H, W)))


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), amp=st.floats(0.0, 6.0))
def test_identity(seed, amp):
    rng = np.random.default_rng(seed)
    img = rng.random((H, W)).astype(np.float32)
    zero = np.zeros((2, H, W), np.float32)
    np.testing.assert_allclose(tl.warp(img, zero), img, atol=2e-5)
    u = smooth_field(seed, amp)
    np.testing.assert_allclose(tl.compose(zero, u), u, atol=1e-5)
    np.testing.assert_allclose(tl.compose(u, zero), u, atol=1e-5)
    np.testing.assert_allclose(tl.integrate_velocity(zero), zero)
    np.testing.assert_allclose(tl.jacobian_determinant(zero), 1.0)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), amp=st.floats(0.5, 4.0))
def test_compose_is_associative_on_smooth_fields(seed, amp):
    a, b, c = (smooth_field(seed + k, amp) for k in range(3))
    left = tl.compose(tl.compose(a, b), c)
    right = tl.compose(a, tl.compose(b, c))
    inner = (slice(None), slice(8, -8), slice(8, -8))
    assert np.abs(left - right)[inner].max() < 0.05


def test_compose_matches_sequential_warping():
    rng = np.random.default_rng(1)
    img = tl.warp(rng.random((H, W)).astype(np.float32), smooth_field(9, 0.0))
    from scipy.ndimage import gaussian_filter

    img = gaussian_filter(rng.random((H, W)), 3).astype(np.float32)
    a, b = smooth_field(2, 3.0), smooth_field(3, 3.0)
    two_step = tl.warp(tl.warp(img, a), b)
    one_step = tl.warp(img, tl.compose(a, b))
    assert np.abs(two_step - one_step)[8:-8, 8:-8].max() < 0.01 * np.ptp(img)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), amp=st.floats(0.5, 6.0))
def test_compose_with_inverse_is_zero(seed, amp):
    u = smooth_field(seed, amp)
    v = tl.invert(u)
    inner = (slice(None), slice(6, -6), slice(6, -6))
    assert np.abs(tl.compose(u, v)).max() < 0.1  # what invert solves
    # the other way round adds v's interpolation error, largest where u compresses most (seed 228, amp 6: det 0.29
    # a pixel, 0.127 px); bounded here where u keeps at least a quarter of a pixel's area (seed 2974, amp 6: det 0.15,
    # a 7x compression, 0.42 px, found by hypothesis in session 45)
    if float(tl.jacobian_determinant(u).min()) >= 0.25:
        assert np.abs(tl.compose(v, u))[inner].max() < 0.15


@settings(max_examples=25, deadline=None)
@given(
    a=st.lists(st.floats(-0.4, 0.4), min_size=4, max_size=4),
    b=st.lists(st.floats(-5, 5), min_size=2, max_size=2),
)
def test_jacobian_of_affine_is_det_A(a, b):
    A = np.eye(2) + np.array(a).reshape(2, 2)
    rr, cc = np.mgrid[0:H, 0:W].astype(np.float64)
    x = np.stack([rr, cc])
    u = np.einsum("ij,jhw->ihw", A - np.eye(2), x) + np.array(b)[:, None, None]
    np.testing.assert_allclose(tl.jacobian_determinant(u), np.linalg.det(A), atol=1e-9)


def test_jacobian_marks_folding():
    u = np.zeros((2, H, W))
    u[1] = -2.0 * np.arange(W)[None, :]  # x -> -x along columns: det = -1
    assert np.allclose(tl.jacobian_determinant(u), -1.0)


@settings(max_examples=15, deadline=None)
@given(r=st.floats(-8, 8), c=st.floats(-8, 8), steps=st.integers(0, 9))
def test_constant_velocity_integrates_to_translation(r, c, steps):
    v = np.empty((2, H, W), np.float32)
    v[0], v[1] = r, c
    u = tl.integrate_velocity(v, steps=steps)
    np.testing.assert_allclose(u[0], r, atol=1e-4)
    np.testing.assert_allclose(u[1], c, atol=1e-4)


def test_scaling_and_squaring_takes_its_steps():
    """A constant velocity integrates to itself at any number of steps (the test above): ``steps`` ignored passed it.
    On a smooth field each step halves and composes: 0 steps give ``v``, 1 step ``v/2 ∘ v/2``, 2 steps that twice."""
    v = smooth_field(3, 4.0)
    np.testing.assert_allclose(tl.integrate_velocity(v, steps=0), v, atol=1e-6)
    one = tl.compose(v / 2, v / 2)
    np.testing.assert_allclose(tl.integrate_velocity(v, steps=1), one, atol=1e-5)
    quarter = tl.compose(v / 4, v / 4)
    np.testing.assert_allclose(tl.integrate_velocity(v, steps=2), tl.compose(quarter, quarter), atol=1e-5)
    assert np.abs(one - v).max() > 0.05  # the field is not constant: the steps matter


def test_integrated_velocity_is_invertible_by_negation():
    v = smooth_field(5, 4.0)
    u = tl.integrate_velocity(v)
    u_neg = tl.integrate_velocity(-v)
    assert np.abs(tl.compose(u, u_neg))[:, 6:-6, 6:-6].max() < 0.05
    assert (tl.jacobian_determinant(u) > 0).all()


def test_batched_equals_per_frame():
    us = np.stack([smooth_field(k, 3.0) for k in range(4)])
    rng = np.random.default_rng(0)
    imgs = rng.random((4, H, W)).astype(np.float32)
    np.testing.assert_allclose(tl.warp(imgs, us), np.stack([tl.warp(i, u) for i, u in zip(imgs, us)]), atol=1e-6)
    np.testing.assert_allclose(tl.integrate_velocity(us), np.stack([tl.integrate_velocity(u) for u in us]), atol=1e-5)
    np.testing.assert_allclose(tl.compose(us, us[::-1]), np.stack([tl.compose(a, b) for a, b in zip(us, us[::-1])]), atol=1e-5)
    np.testing.assert_allclose(tl.invert(us), np.stack([tl.invert(u) for u in us]), atol=1e-4)
    np.testing.assert_allclose(tl.jacobian_determinant(us), np.stack([tl.jacobian_determinant(u) for u in us]), atol=1e-6)


def test_float64_agrees_with_float32():
    u32 = smooth_field(7, 5.0)
    u64 = u32.astype(np.float64)
    rng = np.random.default_rng(0)
    img = rng.random((H, W))
    out64 = tl.warp(img, u64)
    assert out64.dtype == np.float64
    np.testing.assert_allclose(tl.warp(img.astype(np.float32), u32), out64, atol=1e-5)
    np.testing.assert_allclose(tl.integrate_velocity(u32), tl.integrate_velocity(u64), atol=1e-4)
    np.testing.assert_allclose(tl.invert(u32), tl.invert(u64), atol=1e-3)
    np.testing.assert_allclose(tl.jacobian_determinant(u32), tl.jacobian_determinant(u64), atol=1e-5)


def test_torch_input_accepted():
    import torch

    u_np = smooth_field(1, 2.0)
    u = torch.from_numpy(u_np)
    out = tl.jacobian_determinant(u)
    assert isinstance(out, np.ndarray) and out.shape == (H, W)
    np.testing.assert_allclose(out, tl.jacobian_determinant(u_np), atol=1e-6)  # the same numbers, not only a shape
    assert np.abs(out - 1).max() > 0.01
    img = smooth_field(2, 3.0)[0]
    np.testing.assert_allclose(tl.warp(torch.from_numpy(img), u), tl.warp(img, u_np), atol=1e-6)
    np.testing.assert_allclose(tl.compose(u, u), tl.compose(u_np, u_np), atol=1e-6)
    np.testing.assert_allclose(tl.invert(u), tl.invert(u_np), atol=1e-6)


def test_resize_field_rescales_values():
    import torch

    from napari_tlreg.core.fields import resize_field

    u = torch.zeros(1, 2, 16, 16)
    u[:, 0] = 1.5
    u[:, 1] = -0.7  # each channel by its own axis' factor (the column one by the row factor passed with 0 here)
    big = resize_field(u, (31, 61))
    assert big.shape == (1, 2, 31, 61)
    assert torch.allclose(big[:, 0], torch.tensor(1.5 * 30 / 15))
    assert torch.allclose(big[:, 1], torch.tensor(-0.7 * 60 / 15))


def _radial_zoom(a: float, size: int = 64) -> np.ndarray:
    """A pull field ``a (x - c) exp(-|x - c|² / 128)``: a smooth local zoom by ~(1 + a) at the centre, no fold."""
    r, c = np.mgrid[:size, :size].astype(np.float64) - (size - 1) / 2
    g = np.exp(-(r**2 + c**2) / 128.0)
    return np.stack([a * r * g, a * c * g])


@pytest.mark.parametrize("a", [1.0, 1.5, 2.0])
def test_invert_a_strong_local_zoom(a):
    """The fixed-point iteration v <- -u(x + v) stalls (a = 1) or diverges (1.5, 2: residual 13-18 px) where the
    field zooms by 2x or more; Newton's steps take over, so compose(u, invert(u)) ≈ 0 wherever the map does not fold."""
    u = _radial_zoom(a)
    assert tl.jacobian_determinant(u).min() > 0
    assert np.abs(tl.compose(u, tl.invert(u))).max() < 1e-3


def test_invert_keeps_the_fixed_point_answer_where_it_converges():
    u = smooth_field(3, 2.0)
    v = tl.invert(u)
    w = -u.copy()  # the plain iteration to the same tolerance
    for _ in range(100):
        nw = -tl.warp(u, w)
        done = np.abs(nw - w).max() < 1e-4
        w = nw
        if done:
            break
    assert np.abs(v - w).max() < 1e-3 and np.abs(tl.compose(u, v)).max() < 1e-3


def test_invert_warns_where_what_it_returns_is_no_inverse():
    """(2026-12-07, API review) A field folded on 37 % of its pixels came back from invert 23.5 px off, without a word
    (track_points said so; the toolbox did not). A residual above INVERSE_TOLERANCE is warned of; a field that does not
    fold is not."""
    from napari_tlreg.core.ops import INVERSE_TOLERANCE

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tl.invert(_radial_zoom(1.5))  # a strong zoom, no fold: inverted, nothing said
    folds = _radial_zoom(-3.0)  # pulls through the centre: x + u(x) folds there
    folded = 100 * float((tl.jacobian_determinant(folds) <= 0).mean())
    assert folded > 1
    with pytest.warns(UserWarning, match=r"invert: the inverse is off by up to [0-9.]+ px .*: the field folds on "
                                         rf"{folded:.3g} % of its pixels, where no inverse exists") as seen:
        v = tl.invert(folds)
    assert float(seen[0].message.args[0].split("up to ")[1].split(" px")[0]) > INVERSE_TOLERANCE
    assert np.abs(tl.compose(folds, v)).max() > INVERSE_TOLERANCE
    # (diff review) in a stack, the frame that folds and its own share (the stack's mean said 10x less)
    with pytest.warns(UserWarning, match=rf"the field of frame 3 folds on {folded:.3g} % of its pixels"):
        tl.invert(np.stack([np.zeros_like(folds)] * 3 + [folds]))


def test_invert_warns_of_a_fold_whose_forward_residual_is_solved():
    """(2026-12-07, math review) Over a fold compose(u, v) = 0 can be solved, v taking one of the points that land on
    x: the warning read that residual alone and said nothing of a field folded on 9.7 % of its pixels, whose inverse
    is 5.7 px off the other way (compose(v, u)). Both ways are read now; a rotation, whose corners land outside the
    frame (where v is read at its border), and a strong zoom are still inverted without a word."""
    h, w = 23, 31
    cc = np.mgrid[:h, :w][1].astype(np.float64)
    folds = np.stack([np.zeros((h, w)), -6.0 * np.exp(-((cc - 15) ** 2) / 8) * np.sign(cc - 15)])
    assert tl.metrics.negative_jacobian_fraction(folds) > 5
    with pytest.warns(UserWarning, match=r"invert: the inverse is off by up to .* and compose\(inverse, u\) should be "
                                         r"0\): the field folds on [0-9.]+ % of its pixels"):
        v = tl.invert(folds)
    assert np.abs(tl.compose(folds, v)).max() < 1e-3 < 0.5 < np.abs(tl.compose(v, folds)).max()
    r, c = np.mgrid[:64, :80].astype(np.float64)
    a = np.deg2rad(10)
    rot = np.stack([np.cos(a) * (r - 32) - np.sin(a) * (c - 40) + 32 - r, np.sin(a) * (r - 32) + np.cos(a) * (c - 40) + 40 - c])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tl.invert(rot)
        tl.invert(_radial_zoom(2.0))


def test_track_points_follow_a_strong_zoom_and_warn_where_the_field_folds():
    from napari_tlreg.result import RegistrationResult

    u = np.stack([np.zeros((2, 64, 64)), _radial_zoom(1.5)]).astype(np.float32)
    res = RegistrationResult(np.zeros((2, 64, 64), np.float32), np.zeros((2, 64, 64), np.float32), u,
                             tl.jacobian_determinant(u), "x")
    pts = np.array([[28.0, 31.5], [40.0, 40.0]])
    q = res.track_points(pts)[1]
    back = res.map_points(np.column_stack([np.ones(2), q]))
    assert np.abs(back - pts).max() < 0.05  # q + u(q) = p (it was 11 px off)
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(0)
    fold = u.copy()
    fold[1] = [gaussian_filter(rng.normal(size=(64, 64)), 3) * 60 for _ in range(2)]  # ~40 % folded
    res_fold = RegistrationResult(res.frames, res.warped, fold, tl.jacobian_determinant(fold), "x")
    grid = np.stack(np.meshgrid(np.arange(4, 60, 8.0), np.arange(4, 60, 8.0)), -1).reshape(-1, 2)
    with pytest.warns(UserWarning, match=r"of 49 tracked point\(s\) do not map back onto their reference point") as seen:
        res_fold.track_points(grid)
    # (2026-12-07) the result's own inverse says nothing of its own: track_points says it, point by point
    assert not [w for w in seen if str(w.message).startswith("invert:")]


def test_track_points_warn_of_a_point_whose_content_leaves_the_frame():
    """A shift of 5 rows down carries a reference point at row 60 of 64 to row 65: tracked to 65 by the border's
    field, without a word before; a point that stays inside is tracked without a warning."""
    from napari_tlreg.result import RegistrationResult

    u = np.zeros((2, 2, 64, 48), np.float32)
    u[1, 0] = -5.0  # frame_1(x) = reference(x - 5 rows): the content moves 5 rows down
    res = RegistrationResult(np.zeros((2, 64, 48), np.float32), np.zeros((2, 64, 48), np.float32), u,
                             tl.jacobian_determinant(u), "x")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        inside = res.track_points(np.array([[20.0, 10.0], [58.0, 47.0]]))
    np.testing.assert_allclose(inside[1], [[25.0, 10.0], [63.0, 47.0]], atol=0.02)
    with pytest.warns(UserWarning, match=r"1 of 2 tracked point\(s\) leave the frame in 1 frame\(s\) \(farthest: "
                                         r"point 1 in frame 1, at \(65\.0, 30\.0\) in a 64x48 frame\)"):
        res.track_points(np.array([[20.0, 10.0], [60.0, 30.0]]))
    with pytest.warns(UserWarning, match=r"\(farthest: landmark 9 in frame 1"):  # named as the caller names them
        res.track_points(np.array([[20.0, 10.0], [60.0, 30.0]]), ids=[4, 9])
    with pytest.raises(ValueError, match="1 ids for 2 points"):  # (second review) an IndexError, and only on a warning
        res.track_points(np.array([[20.0, 10.0], [60.0, 30.0]]), ids=[4])
    with warnings.catch_warnings():  # to the caller's callback (the dock's: no other thread's warnings with them)
        warnings.simplefilter("error")
        told: list[str] = []
        res.track_points(np.array([[60.0, 30.0]]), ids=["a"], on_warning=told.append)
    assert len(told) == 1 and "(farthest: landmark a in frame 1" in told[0]
    with warnings.catch_warnings(record=True) as said:  # outside on the reference already: said so, not "leaving"
        warnings.simplefilter("always")
        res.track_points(np.array([[-3.0, 10.0]]))
    assert [str(w.message) for w in said] == ["1 of 1 reference point(s) lie outside the 64x48 frame (first: point 0): "
                                              "their positions are extrapolated from the border's field"]


def test_nearest_halves_round_up_so_labels_shift_whole():
    """grid_sample's nearest rounds half-pixel ties to even: a field of exactly +0.5 px dropped one 1-px label and
    doubled the next. Halves now round up (scipy's order=0), so every label shifts by the same pixel."""
    lab = np.zeros((6, 10), np.int32)
    lab[:, 3], lab[:, 6] = 1, 2
    u = np.zeros((2, 6, 10))
    u[1] = 0.5
    out = tl.warp(lab, u, order=0)
    assert out[0].tolist() == [0, 0, 1, 0, 0, 2, 0, 0, 0, 0]
    assert np.array_equal(tl.warp(lab.astype(np.float32), u, order=0), out.astype(np.float32))
    big = lab.astype(np.int64) * (2**62)  # picked whole: any integer exact
    assert np.array_equal(tl.warp(big, u, order=0), out.astype(np.int64) * 2**62)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.uint32, np.uint64, np.int8, np.int32, bool])
def test_labels_of_every_integer_dtype_warp_whole(dtype):
    """Labels read from a TIFF are often uint16: torch has no gather for uint16/32/64, and warping them failed
    ("scatter_gather_tensor_cpu" not implemented for 'UInt16'). Every integer dtype comes back whole, in its dtype."""
    top = np.iinfo(dtype).max if dtype is not bool else True
    lab = np.zeros((6, 9), dtype)
    lab[2:4, 3:6] = top
    u = np.zeros((2, 6, 9), np.float32)
    u[1] = 1.0
    out = tl.warp(lab, u, order=0)
    assert out.dtype == np.dtype(dtype)
    assert out[2].tolist() == [0, 0, top, top, top, 0, 0, 0, 0]


@pytest.mark.parametrize("dtype", [np.int32, np.uint32, np.int64, np.uint64])
def test_wide_integer_images_interpolate_exactly(dtype):
    """Integers above 2**24 were interpolated in float32 (int64 only in float64): an identity warp of 16777217 gave
    16777216. Every integer wider than 16 bits is interpolated in float64."""
    img = np.full((4, 5), 2**24 + 1, dtype)
    for order in (1, 3):
        assert tl.warp(img, np.zeros((2, 4, 5), np.float32), order=order).tolist() == img.tolist()


@pytest.mark.parametrize("dtype", [np.uint8, np.int16])
def test_bicubic_integer_images_clip_not_wrap(dtype):
    """Bicubic overshoots a step edge (-12 and 283 on 0 | 255): cast as they were, they wrapped round to 244 and 27."""
    top = np.iinfo(dtype).max
    img = np.zeros((4, 12), dtype)
    img[:, 6:] = top
    u = np.zeros((2, 4, 12))
    u[1] = 0.3
    out = tl.warp(img, u, order=3)[0].astype(np.int64)
    want = np.clip(np.round(tl.warp(img.astype(np.float64), u, order=3)[0]), np.iinfo(dtype).min, top)
    assert np.array_equal(out, want) and out[4] <= 0 and out[6] == top


def test_fields_with_nan_are_refused():
    u = np.zeros((2, 16, 16))
    u[:, 5, 5] = np.nan
    for call in (lambda: tl.warp(np.ones((16, 16)), u), lambda: tl.jacobian_determinant(u), lambda: tl.invert(u),
                 lambda: tl.compose(u, np.zeros_like(u))):
        with pytest.raises(ValueError, match="NaN or infinite"):
            call()
    from napari_tlreg.metrics import folded_percent

    det = np.ones((1, 4, 4))
    det[0, 0, 0] = np.nan
    assert folded_percent(det)[0] == pytest.approx(100 / 16)  # not a number is not fold-free


def test_result_params_survive_save_and_load(tmp_path):
    """CONVENTIONS: a result saves and loads "without loss". Tuples came back as lists, int keys as strings and
    numpy scalars as floats, so the loaded params differed from the saved ones; they are now kept as JSON values from
    the start, and a value JSON cannot hold is refused when the result is made, not when it is saved after a run."""
    from napari_tlreg.result import RegistrationResult

    z = np.zeros((2, 8, 8), np.float32)
    res = RegistrationResult(z, z, np.zeros((2, 2, 8, 8), np.float32), z + 1, "x",
                             params={"levels": (4, 2, 1), "w": {1: 0.5}, "lam": np.float32(0.1), "n": np.int64(3)})
    assert res.params == {"levels": [4, 2, 1], "w": {"1": 0.5}, "lam": float(np.float32(0.1)), "n": 3}
    assert RegistrationResult.load(res.save(tmp_path / "r")).params == res.params
    with pytest.raises(TypeError, match="cannot be saved as JSON"):
        RegistrationResult(z, z, np.zeros((2, 2, 8, 8), np.float32), z + 1, "x", params={"f": print})


@pytest.mark.parametrize("spacing", [None, (10.0, 10.0)])
def test_a_saved_fields_tiff_says_its_values_are_pixels(tmp_path, spacing):
    """(2026-12-07, satellite review) displacement.tif carries the image's pixel size (10 m), which a GIS reads, and
    said nothing of its values: a field in pixels read as metres is 10x off. Each saved TIFF says what its values are in
    its description (ImageJ's hyperstack: a line; a plain TIFF: a JSON key), as result.json does."""
    import tifffile

    from napari_tlreg.result import ARRAY_NOTES, RegistrationResult

    z = np.zeros((3, 8, 8), np.float32)
    res = RegistrationResult(z, z, np.ones((3, 2, 8, 8), np.float32), z + 1, "x", spacing=spacing, unit="m")
    folder = res.save(tmp_path / "r")
    with tifffile.TiffFile(folder / "displacement.tif") as tif:
        text = tif.pages[0].description
        meta = tif.imagej_metadata if tif.is_imagej else tif.shaped_metadata[0]
    assert "in pixels (not the unit)" in text and meta["values"] == ARRAY_NOTES["displacement"]
    loaded = RegistrationResult.load(folder)
    np.testing.assert_array_equal(loaded.displacement, res.displacement)
    assert loaded.spacing == (None if spacing is None else pytest.approx(spacing))
    from napari_tlreg.io.writers import save_stack

    one = save_stack(tmp_path / "one.tif", np.ones((1, 2, 8, 8), np.float32), spacing=spacing, values="in pixels")
    with tifffile.TiffFile(one) as tif:  # an axis of length 1: a plain TIFF, its JSON description
        assert not tif.is_imagej and tif.shaped_metadata[0]["values"] == "in pixels"


# ---- from the mutation review of the core modules (2026-12-05): each assertion fails on a mutant that passed ----
def test_nearest_warp_rounds_halves_up_and_keeps_the_last_row_and_column():
    """Labels are warped by nearest neighbour: a field of exactly half a pixel (rounded to even, every other column of
    a label was lost) and the identity (a clamp one pixel short overwrote the last column)."""
    lab = np.tile(np.arange(6, dtype=np.int32), (4, 1))
    half = np.zeros((2, 4, 6), np.float32)
    half[1] = 0.5
    np.testing.assert_array_equal(tl.warp(lab, half, order=0)[0], [1, 2, 3, 4, 5, 5])
    half[1] = -0.5  # -0.5 rounds up too: each pixel keeps its own value
    np.testing.assert_array_equal(tl.warp(lab, half, order=0)[0], [0, 1, 2, 3, 4, 5])
    down = np.zeros((2, 6, 4), np.float32)
    down[0] = 0.5  # the same along the rows
    np.testing.assert_array_equal(tl.warp(np.ascontiguousarray(lab.T), down, order=0)[:, 0], [1, 2, 3, 4, 5, 5])
    for image in (lab, np.ascontiguousarray(lab.T)):
        np.testing.assert_array_equal(tl.warp(image, np.zeros((2, *image.shape), np.float32), order=0), image)


def test_resize_field_keeps_a_linear_field_linear_on_the_pixel_grid():
    """The coarse-to-fine upsampling of NMSR and the pair engines: corner-aligned (align_corners=False put row 1 of
    u_row = 0.1·row at 0.06 instead of 0.1)."""
    import torch

    from napari_tlreg.core.fields import resize_field

    r = torch.arange(8.0)
    u = torch.stack([0.1 * r[:, None].expand(8, 8), 0.2 * r[None, :].expand(8, 8)])[None]
    big = resize_field(u, (15, 15))  # the grid 8 -> 15 px: positions and values scale by 14/7 = 2
    np.testing.assert_allclose(big[0, 0, :, 0], 0.1 * torch.arange(15.0), atol=1e-5)
    np.testing.assert_allclose(big[0, 1, 0, :], 0.2 * torch.arange(15.0), atol=1e-5)


# ---- from the review of array-likes given to the API (2026-12-05) ----------------------------------------------
def test_array_likes_are_taken_as_their_values_or_refused_in_a_sentence():
    """Big-endian arrays (FITS, some .npy/TIFF) failed in the toolbox with torch's byte-order message while register
    took them; complex images lost their imaginary part in warp; a masked array's mask was dropped (an MSE of
    12,498,765 where the masked one is 0); NaN labels counted as foreground (Dice 0.29 for 0.97); empty fields failed
    deep in torch; a read-only array drew torch's "undefined behavior" warning; result methods refused a tensor that
    requires grad; tracked_points read napari's (t, row, col) rows as 1.5 points each."""
    import warnings

    import torch

    from napari_tlreg import landmarks as LM
    from napari_tlreg import metrics as M
    from napari_tlreg.result import RegistrationResult

    rng = np.random.default_rng(0)
    img = rng.random((32, 32)).astype(np.float32)
    u = rng.normal(0, 1, (2, 32, 32)).astype(np.float32)
    ref = tl.warp(img, u)
    np.testing.assert_array_equal(tl.warp(img.astype(">f4"), u.astype(">f4")), ref)
    np.testing.assert_array_equal(tl.jacobian_determinant(u.astype(">f8")), tl.jacobian_determinant(u.astype(np.float64)))
    frozen = img.copy()
    frozen.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(tl.warp(frozen, u), ref)
    with pytest.raises(ValueError, match=r"^image must be real numbers, got dtype complex64 \(take the magnitude first\)$"):
        tl.warp((img + 1j * img).astype(np.complex64), u)
    masked = np.ma.masked_array(img, img > 0.5)
    for call in (lambda: tl.warp(masked, u), lambda: M.mse(masked, img), lambda: tl.register(np.ma.stack([masked] * 3))):
        with pytest.raises(ValueError, match="is a masked array, whose mask would be ignored"):
            call()
    with pytest.raises(ValueError, match="labels must be whole ids"):
        M.dice(np.where(img > 0.5, 1.0, np.nan), img > 0.5)
    with pytest.raises(ValueError, match="labels must be whole ids"):
        M.hausdorff(np.where(img > 0.5, 1.5, 0.0), img > 0.5)
    assert M.dice(np.where(img > 0.5, 2.0, 0.0), np.where(img > 0.5, 2, 0)) == 1.0  # whole ids as floats are ids
    for call in (lambda: tl.warp(np.zeros((2, 0, 5)), np.zeros((2, 0, 5))), lambda: tl.invert(np.zeros((2, 0, 5))),
                 lambda: M.negative_jacobian_fraction(np.zeros((2, 0, 0)))):
        with pytest.raises(ValueError, match=r"displacement is empty, shape \(2, 0, (5|0)\)"):
            call()
    field = np.zeros((2, 2, 32, 32), np.float32)
    field[1] = u
    res = RegistrationResult(np.stack([img, ref]), np.stack([img, ref]), field, tl.jacobian_determinant(field), "x")
    grad = torch.from_numpy(np.array([[10.0, 12.0]])).requires_grad_(True)
    np.testing.assert_allclose(res.track_points(grad), res.track_points(np.array([[10.0, 12.0]])))
    assert res.warp_labels(torch.from_numpy((img > 0.5).astype(np.int32))).shape == (2, 32, 32)
    with pytest.raises(ValueError, match=r"^points must be \(N, 2\) rows \(row, col\) on the reference, got shape \(2, 3\)$"):
        LM.tracked_points(res, [[0, 10.0, 12.0], [0, 20.0, 22.0]])
    data, ids = LM.tracked_points(res, [])  # no points: nothing to track, as before
    assert data.shape == (0, 3) and ids.shape == (0,)
    assert tl.register(torch.from_numpy(np.stack([img, ref, ref])).to(torch.bfloat16), method="voxelmorph").displacement.shape == (3, 2, 32, 32)


def test_warp_takes_a_tensor_on_another_device_beside_a_numpy_field():
    """(2026-12-05, device review) ``tl.warp(gpu_tensor, numpy_field)`` put the field on the CPU and the image on its
    device: "Expected all tensors to be on the same device". Shown with torch's meta device (no GPU here): the warp now
    runs there, and only copying its data-less result out fails."""
    import torch

    import napari_tlreg as tl

    with pytest.raises(NotImplementedError, match="Cannot copy out of meta tensor"):
        tl.warp(torch.rand(16, 16, device="meta"), np.zeros((2, 16, 16), np.float32))


def test_compose_takes_a_tensor_on_another_device_beside_a_numpy_field(monkeypatch):
    """(2026-12-05, diff review) As warp: ``compose(gpu_tensor, numpy_field)`` put the numpy one on the CPU. Shown with
    the meta device (no GPU here; its checks of the values are skipped): the composition runs there."""
    import torch

    import napari_tlreg as tl
    from napari_tlreg.core import fields

    seen = []
    monkeypatch.setattr(fields, "compose", lambda a, b: seen.append((a.device.type, b.device.type)) or a)
    from napari_tlreg.core import ops

    def field(u, name=""):  # the meta tensor's values cannot be checked
        return (u if isinstance(u, torch.Tensor) else torch.as_tensor(u))[None], True

    monkeypatch.setattr(ops, "_field", field)
    with pytest.raises(NotImplementedError, match="Cannot copy out of meta tensor"):
        tl.compose(torch.zeros(2, 16, 16, device="meta"), np.zeros((2, 16, 16), np.float32))
    with pytest.raises(NotImplementedError, match="Cannot copy out of meta tensor"):
        tl.compose(np.zeros((2, 16, 16), np.float32), torch.zeros(2, 16, 16, device="meta"))
    assert seen == [("meta", "meta")] * 2


def test_compose_names_its_fields_when_their_counts_differ():
    """(2026-12-07, API review) compose(3 fields, 2 fields) said "batch mismatch: image (3, 2, 16, 16) vs field ...":
    both are fields, called a and b. One field beside several still goes with each."""
    a, b = np.zeros((3, 2, 16, 16)), np.zeros((2, 2, 16, 16))
    with pytest.raises(ValueError, match=r"^a has 3 fields and b 2: give as many of each, or one of either$"):
        tl.compose(a, b)
    assert tl.compose(a[0], b).shape == (2, 2, 16, 16) and tl.compose(a, b[:1]).shape == (3, 2, 16, 16)


def test_warp_gives_a_float_image_back_in_its_own_dtype():
    """(2026-12-07, API review) A float32 image through numpy's float64 field came back float64, a float16 one too:
    the field's precision decided. Float images come back in their own dtype (computed in float64 where either is)."""
    import torch

    u = np.zeros((2, 8, 8))
    u[0] = 0.5
    img = np.arange(64, dtype=np.float64).reshape(8, 8)
    for image, dtype in ((img.astype(np.float32), np.float32), (img.astype(np.float16), np.float16),
                         (torch.from_numpy(img.astype(np.float32)), np.float32), (img, np.float64)):
        out = tl.warp(image, u)
        assert out.dtype == dtype
        np.testing.assert_allclose(out[:-1], (img[:-1] + img[1:]) / 2, rtol=1e-3)  # half a row down, bilinear


def test_frames_are_said_in_runs():
    """(2026-12-07, diff review) The status line listed every labelled frame: 300 of them made 1,423 characters."""
    from napari_tlreg.core.labels import frames_said

    assert frames_said(range(300)) == "0–299"
    assert frames_said([20, 3, 9, 12, 13, 14, 9]) == "3, 9, 12–14, 20"
    assert frames_said([7, 18]) == "7, 18" and frames_said([0, 1]) == "0, 1" and frames_said([]) == ""
    assert frames_said(range(0, 40, 2)) == "0, 2, 4, 6, 8, 10, 12, 14, ..."


def test_track_points_solve_at_the_points_not_the_whole_inverse(monkeypatch):
    """(2026-12-07, big-data review) track_points inverted every frame's whole field to read N points: one point
    through 150 frames of 240x320 took 17 s and 1.5 GB (77 s at 512x512). They are solved at the points now
    (q + u_t(q) = p), without the whole inverse, and map back closer than the inverse field's bilinear sample did."""
    from napari_tlreg.metrics import map_points
    from napari_tlreg.result import RegistrationResult

    u = np.stack([np.zeros((2, 64, 64)), _radial_zoom(0.6), _radial_zoom(1.5)]).astype(np.float32)
    res = RegistrationResult(np.zeros((3, 64, 64), np.float32), np.zeros((3, 64, 64), np.float32), u,
                             tl.jacobian_determinant(u), "x")
    monkeypatch.setattr(RegistrationResult, "inverse_field", lambda self: pytest.fail("the whole inverse computed"))
    pts = np.array([[20.0, 24.0], [31.5, 40.0], [44.0, 12.5]])
    tracked = res.track_points(pts)
    np.testing.assert_array_equal(tracked[0], pts)
    for t in (1, 2):
        back = map_points(u, np.column_stack([np.full(3, t), tracked[t]]))
        assert np.abs(back - pts).max() < 1e-3, t


def test_track_points_near_a_fold_fall_back_on_the_frames_inverse():
    """(2026-12-07, diff review) Solved at the points alone, a point whose first guess p - u(p) lay on a fold nearby
    stayed there, 2 px off with a warning, where the frame's whole inverse, read at the point, was exact (a smooth
    field folded on 1.6 % of its pixels). Those frames fall back on their inverse where it maps back closer. And a
    field with NaN is named as such (it was said of the points)."""
    from scipy.ndimage import gaussian_filter

    from napari_tlreg.metrics import map_points
    from napari_tlreg.result import RegistrationResult

    rng = np.random.default_rng(0)
    u = np.stack([np.zeros((2, 64, 64)), np.stack([gaussian_filter(rng.normal(size=(64, 64)), 3) * 16
                                                   for _ in range(2)])]).astype(np.float32)
    res = RegistrationResult(np.zeros((2, 64, 64), np.float32), np.zeros((2, 64, 64), np.float32), u,
                             tl.jacobian_determinant(u), "x")
    said = []
    q = res.track_points(np.array([[21.0, 3.0]]), on_warning=said.append)[1]
    assert np.abs(map_points(u, np.column_stack([[1], q])) - [[21.0, 3.0]]).max() < 1e-3 and said == []
    bad = u.copy()
    bad[1, 0, 5, 5] = np.nan
    res_nan = RegistrationResult(res.frames, res.warped, bad, res.jacobian, "x")
    with pytest.raises(ValueError, match=r"^displacement contains 1 NaN or infinite value\(s\)$"):
        res_nan.track_points(np.array([[21.0, 3.0]]))


def test_time_left_is_said_at_the_pace_so_far_once_there_is_one():
    from napari_tlreg.core.notes import time_left

    assert time_left(2.0, 50, 100) is None  # 2 s in: too soon
    assert time_left(100.0, 2, 100) is None  # 2 % done: too soon
    assert time_left(10.0, 50, 100) == "about 10 s left"
    assert time_left(100.0, 50, 100) == "about 2 min left"
    assert time_left(58.0, 50, 100) == "about 1 min left" and time_left(54.0, 50, 100) == "about 55 s left"
    assert time_left(600.0, 10, 100) == "about 1.5 h left"
    assert time_left(600.0, 100, 100) is None and time_left(6.0, 0, 0) is None
