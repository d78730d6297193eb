"""Synthetic generators: ground truth follows the pull convention, labels, landmarks, seeds."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from napari_tlreg.synth import (
    SPLIT_SEEDS,
    SPLIT_SIZES,
    cardiac_batch,
    cardiac_phantom,
    echo_sequence,
    lemniscate,
    lemniscate_batch,
    lemniscate_dataset,
    lemniscate_split,
    satellite_pair,
)


def _warp_np(image, u):
    """Independent reference implementation of the convention: out(x) = image(x + u(x)),
    bilinear, border replication, pixel centres on integer coordinates."""
    h, w = image.shape
    rr, cc = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64), indexing="ij")
    coords = np.stack([rr + u[0], cc + u[1]])
    return ndimage.map_coordinates(np.asarray(image, np.float64), coords, order=1, mode="nearest")


def _bilinear_at(field, pts):
    return np.stack(
        [ndimage.map_coordinates(np.asarray(field[k], np.float64), pts.T, order=1, mode="nearest") for k in range(2)],
        axis=1,
    )


def _mse(a, b, m=None):
    d = (np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2
    return float(d[m].mean() if m is not None else d.mean())


# small, fast versions of each generator (the stored samples are checked in test_samples.py)
def _lem():
    return lemniscate(n_frames=12, size=64, seed=3)


def _card():
    return cardiac_phantom(n_frames=10, size=64, seed=5)


def _echo():
    return echo_sequence(n_frames=10, size=96, seed=2)


def _sat():
    return satellite_pair(size=192, seed=4)


GENERATORS = {"lemniscate": _lem, "cardiac": _card, "echo": _echo, "satellite": _sat}


@pytest.fixture(scope="module", params=sorted(GENERATORS))
def generated(request):
    return request.param, GENERATORS[request.param]()


def _valid_region(name, seq):
    u = seq.metadata["displacement"]
    h, w = seq.frames.shape[1:]
    m = np.ones((h, w), bool)
    if name == "echo":  # where x and x + u_t(x) both lie inside the sector for every t
        mask = seq.metadata["mask"]
        m = mask.copy()
        for t in range(u.shape[0]):
            m &= _warp_np(mask.astype(float), u[t]) > 0.999
    if name == "satellite":  # frame 1 shows scene outside frame 0: skip where x + u leaves it
        rr, cc = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
        pr, pc = rr + u[1, 0], cc + u[1, 1]
        m = (pr >= 0) & (pr <= h - 1) & (pc >= 0) & (pc <= w - 1)
    return m


def test_shapes_dtypes_and_zero_reference(generated):
    name, seq = generated
    u = seq.metadata["displacement"]
    t, h, w = seq.frames.shape
    assert seq.frames.dtype == np.float32
    assert 0.0 <= seq.frames.min() and seq.frames.max() <= 1.0
    assert u.shape == (t, 2, h, w) and u.dtype == np.float32
    assert np.all(u[0] == 0)
    assert np.all(np.isfinite(u))
    assert seq.spacing is not None and seq.unit in ("px", "mm", "m")
    assert seq.name


def test_ground_truth_follows_pull_convention(generated):
    """frame_t ~ warp(ref, u_t); -u and swapped channels must be much worse (sign/axes check)."""
    name, seq = generated
    u = seq.metadata["displacement"]
    f = seq.frames
    m = _valid_region(name, seq)
    mag = np.abs(u).reshape(len(u), -1).max(axis=1)
    moving = [t for t in range(1, len(u)) if mag[t] > 1.0]
    assert moving, f"{name}: no frame moves by more than a pixel"
    for t in moving:
        good = _mse(_warp_np(f[0], u[t]), f[t], m)
        ident = _mse(f[0], f[t], m)
        neg = _mse(_warp_np(f[0], -u[t]), f[t], m)
        swap = _mse(_warp_np(f[0], u[t, ::-1]), f[t], m)
        # small motions: bilinear interpolation error is of the order of the motion itself
        assert good < 0.5 * ident, f"{name} t={t}: warped {good:.2e} vs identity {ident:.2e}"
        t_max = int(np.argmax(mag))
        if t == t_max:
            assert good < 0.15 * ident, f"{name} t={t}: warped {good:.2e} vs identity {ident:.2e}"
            assert neg > 4 * good, f"{name}: -u gives {neg:.2e}, u gives {good:.2e}"
            assert swap > 3 * good, f"{name}: swapped channels give {swap:.2e}, u gives {good:.2e}"


def test_ground_truth_matches_the_project_warp(generated):
    """The same check through napari_tlreg.warp (torch grid_sample), the engines' warp."""
    from napari_tlreg import warp

    name, seq = generated
    u = seq.metadata["displacement"]
    t = int(np.argmax(np.abs(u).reshape(len(u), -1).max(axis=1)))
    ours = _warp_np(seq.frames[0], u[t])
    theirs = warp(seq.frames[0], u[t])
    assert np.abs(ours - theirs).max() < 1e-4


def test_fields_do_not_fold(generated):
    from napari_tlreg import jacobian_determinant

    name, seq = generated
    jac = jacobian_determinant(seq.metadata["displacement"])
    assert jac.min() > 0.3, f"{name}: det(I + grad u) reaches {jac.min():.3f}"


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_deterministic_under_seed(name):
    gen = {
        "lemniscate": lambda s: lemniscate(12, 64, seed=s),
        "cardiac": lambda s: cardiac_phantom(6, 64, seed=s),
        "echo": lambda s: echo_sequence(4, 64, seed=s),
        "satellite": lambda s: satellite_pair(192, seed=s),
    }[name]
    a, b, c = gen(11), gen(11), gen(12)
    assert np.array_equal(a.frames, b.frames)
    assert np.array_equal(a.metadata["displacement"], b.metadata["displacement"])
    if a.labels is not None:
        assert np.array_equal(a.labels, b.labels)
    if a.landmarks is not None:
        assert np.array_equal(a.landmarks, b.landmarks)
    assert not np.array_equal(a.frames, c.frames)


# ----------------------------------------------------------------------------------- lemniscate
def test_lemniscate_motion_grows_and_is_large_late():
    seq = lemniscate(12, 64, seed=0)
    u = seq.metadata["displacement"]
    mean_mag = np.sqrt((u**2).sum(axis=1)).mean(axis=(1, 2))
    assert np.all(np.diff(mean_mag) > 0), mean_mag
    p = seq.metadata["params"]
    assert 10 <= abs(p["final_rotation_deg"]) <= 30
    assert all(0.8 <= s <= 1.2 for s in p["final_scale_rc"])


def test_lemniscate_shape_stays_inside_the_image():
    frames, _ = lemniscate_batch(64, np.random.default_rng(7))
    border = np.concatenate(
        [frames[..., 0, :], frames[..., -1, :], frames[..., :, 0], frames[..., :, -1]], axis=-1
    )
    assert border.max() < 0.02
    assert frames.max(axis=(2, 3)).min() > 0.8  # the band is visible in every frame


def test_lemniscate_affine_pull_is_exact():
    """For an affine motion u must be an exact affine function of x (zero second differences)."""
    u = lemniscate(12, 64, seed=1).metadata["displacement"].astype(np.float64)
    assert np.abs(np.diff(u, 2, axis=-1)).max() < 1e-3
    assert np.abs(np.diff(u, 2, axis=-2)).max() < 1e-3


def test_lemniscate_splits_are_disjoint_and_deterministic():
    assert SPLIT_SIZES == {"train": 1000, "val": 200, "test": 200}
    seeds = {s: set(range(SPLIT_SEEDS[s], SPLIT_SEEDS[s] + SPLIT_SIZES[s])) for s in SPLIT_SIZES}
    assert not (seeds["train"] & seeds["val"]) and not (seeds["train"] & seeds["test"]) and not (
        seeds["val"] & seeds["test"]
    )
    a = lemniscate_split("train", 0)
    b = lemniscate_split("val", 0)
    c = lemniscate_split("test", 0)
    assert not np.array_equal(a.frames, b.frames) and not np.array_equal(b.frames, c.frames)
    assert np.array_equal(lemniscate_split("val", 5).frames, lemniscate_split("val", 5).frames)
    frames, fields = lemniscate_dataset("test", limit=3)
    assert frames.shape == (3, 12, 64, 64) and fields.shape == (3, 12, 2, 64, 64)
    for i in range(3):
        s = lemniscate_split("test", i)
        assert np.array_equal(frames[i], s.frames)
        assert np.array_equal(fields[i], s.metadata["displacement"])
    with pytest.raises(IndexError):
        lemniscate_split("val", 200)
    with pytest.raises(ValueError):
        lemniscate_split("holdout", 0)


def test_lemniscate_batch():
    frames, u = lemniscate_batch(5, np.random.default_rng(0), n_frames=7, size=48)
    assert frames.shape == (5, 7, 48, 48) and frames.dtype == np.float32
    assert u.shape == (5, 7, 2, 48, 48) and u.dtype == np.float32
    assert np.all(u[:, 0] == 0)
    for i in range(5):
        good = _mse(_warp_np(frames[i, 0], u[i, -1]), frames[i, -1])
        assert good < 0.2 * _mse(frames[i, 0], frames[i, -1])
    again, _ = lemniscate_batch(5, np.random.default_rng(0), n_frames=7, size=48)
    assert np.array_equal(frames, again)


# ----------------------------------------------------------------------------------- cardiac
def test_cardiac_labels_on_every_frame_and_follow_the_field():
    from napari_tlreg import warp

    seq = cardiac_phantom(n_frames=12, size=64, seed=9)
    lab, u = seq.labels, seq.metadata["displacement"]
    assert lab.shape == seq.frames.shape
    for t in range(len(lab)):
        assert (lab[t] == 1).sum() > 50 and (lab[t] == 2).sum() > 50, f"frame {t} lacks a label"
    # the convention: labels_t = warp(labels_0, u_t) with nearest sampling
    prop = warp(lab[0], u, order=0)
    assert np.mean(prop != lab) < 1e-3
    # physiology: the pool shrinks by (1 - contraction)^2 at end-systole, the wall keeps its area
    act = seq.metadata["activation"]
    es = int(np.argmax(act))
    pool = (lab == 2).sum(axis=(1, 2)).astype(float)
    myo = (lab == 1).sum(axis=(1, 2)).astype(float)
    c = seq.metadata["params"]["contraction"]
    assert pool[es] / pool[0] == pytest.approx((1 - c) ** 2, rel=0.15)
    assert myo.max() / myo.min() < 1.15
    # the blood pool is bright, the myocardium darker
    f0 = seq.frames[0]
    assert f0[lab[0] == 2].mean() > f0[lab[0] == 1].mean() + 0.3


def test_cardiac_cycle_and_options():
    full = cardiac_phantom(n_frames=10, size=64, seed=1)
    act = full.metadata["activation"]
    assert act[0] == 0 and act.max() == pytest.approx(1.0, abs=0.1) and act[-1] < 0.2  # ED -> ES -> ED
    half = cardiac_phantom(n_frames=7, size=64, seed=1, cycle="systole", noise=0.0, blood_pool_label=False)
    assert half.metadata["activation"][-1] == pytest.approx(1.0)
    assert set(np.unique(half.labels)) == {0, 1}
    none = cardiac_phantom(n_frames=3, size=64, seed=1, with_labels=False)
    assert none.labels is None
    with pytest.raises(ValueError):
        cardiac_phantom(n_frames=5, size=64, cycle="weekly")


def test_cardiac_batch():
    frames, u, lab = cardiac_batch(3, np.random.default_rng(2), n_frames=8, size=64)
    assert frames.shape == (3, 8, 64, 64) and u.shape == (3, 8, 2, 64, 64) and lab.shape == (3, 8, 64, 64)
    assert frames.dtype == np.float32 and u.dtype == np.float32 and lab.dtype == np.uint8
    assert np.all(u[:, 0] == 0)
    for i in range(3):
        assert all((lab[i, t] == 1).any() for t in range(8))
        t = int(np.argmax(np.abs(u[i]).reshape(8, -1).max(axis=1)))
        assert _mse(_warp_np(frames[i, 0], u[i, t]), frames[i, t]) < 0.25 * _mse(frames[i, 0], frames[i, t])
    f2, _, _ = cardiac_batch(3, np.random.default_rng(2), n_frames=8, size=64)
    assert np.array_equal(frames, f2)


# ----------------------------------------------------------------------------------- echo
def test_echo_mask_labels_and_static_sector_edges():
    seq = _echo()
    mask, u = seq.metadata["mask"], seq.metadata["displacement"]
    assert mask.dtype == bool and mask.shape == seq.frames.shape[1:]
    assert 0.3 < mask.mean() < 0.8
    assert np.all(seq.frames[:, ~mask] == 0)
    for t in range(len(seq.labels)):
        assert (seq.labels[t] == 1).sum() > 30 and (seq.labels[t] == 2).sum() > 30
    f0, lab0 = seq.frames[0], seq.labels[0]
    assert f0[lab0 == 1].mean() > f0[lab0 == 2].mean() + 0.2  # bright wall, dark cavity
    # the probe does not move: the top of the sector is static
    assert np.abs(u[:, :, :5]).max() < 0.5


# ----------------------------------------------------------------------------------- satellite
def test_satellite_landmarks_are_consistent():
    seq = _sat()
    lm, u = seq.landmarks, seq.metadata["displacement"]
    h, w = seq.frames.shape[1:]
    assert seq.frames.shape[0] == 2 and seq.unit == "m"
    assert lm.shape == (30, 4)
    ids = lm[:, 0].astype(int)
    assert sorted(ids[lm[:, 1] == 0]) == list(range(15)) and sorted(ids[lm[:, 1] == 1]) == list(range(15))
    p = lm[lm[:, 1] == 0][np.argsort(ids[lm[:, 1] == 0]), 2:]
    q = lm[lm[:, 1] == 1][np.argsort(ids[lm[:, 1] == 1]), 2:]
    assert np.abs(q + _bilinear_at(u[1], q) - p).max() < 0.05
    for pts in (p, q):
        assert pts.min() > 8 and pts[:, 0].max() < h - 9 and pts[:, 1].max() < w - 9
    # corners are textured, not flat: the local intensity range around each landmark is large
    for r, c in np.round(p).astype(int):
        patch = seq.frames[0, r - 3 : r + 4, c - 3 : c + 4]
        assert patch.max() - patch.min() > 0.1
    # the motion is what was asked: 2-12 px shift, 3-4 degree rotation
    prm = seq.metadata["params"]
    assert 2 <= np.hypot(*prm["translation_rc"]) <= 12
    assert 3 <= abs(prm["rotation_deg"]) <= 4
    assert set(seq.metadata["landmark_kind"]) <= {"building corner", "crossing"}


# ----------------------------------------------------------------------------------- any seed
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=12, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**31 - 1))
def test_any_lemniscate_seed_is_consistent(seed):
    seq = lemniscate(n_frames=6, size=48, seed=seed)
    f, u = seq.frames, seq.metadata["displacement"]
    assert _mse(_warp_np(f[0], u[-1]), f[-1]) < 0.15 * _mse(f[0], f[-1])
    assert max(f[:, 0].max(), f[:, -1].max(), f[:, :, 0].max(), f[:, :, -1].max()) < 0.02


@settings(max_examples=12, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**31 - 1))
def test_any_cardiac_seed_is_diffeomorphic_and_labelled(seed):
    from napari_tlreg.synth._common import pull_consistency

    seq = cardiac_phantom(n_frames=5, size=48, seed=seed)
    u = seq.metadata["displacement"].astype(np.float64)
    # det(I + grad u) by central differences, without torch
    dr_r, dr_c = np.gradient(u[:, 0], axis=(1, 2))
    dc_r, dc_c = np.gradient(u[:, 1], axis=(1, 2))
    det = (1 + dr_r) * (1 + dc_c) - dr_c * dc_r
    assert det.min() > 0.3
    assert all((seq.labels[t] == 1).any() and (seq.labels[t] == 2).any() for t in range(5))
    c = pull_consistency(seq.frames, seq.metadata["displacement"])
    t = int(np.argmax(c["identity"]))
    assert c["warped"][t] < 0.3 * c["identity"][t]


def test_generator_arguments_are_checked_not_bent():
    """Review (2026-12-05): at 96 px 11 of 12 seeds found too few landmarks (RuntimeError "try another seed", while
    the docstring said 96 px works); n_landmarks 0 or -1 gave one pair; echo's decorrelation 2.0 was clipped to 1
    and a cardiac noise of -0.1 added none, each recorded as given."""
    with pytest.raises(RuntimeError, match="landmark candidates for 15 at 96 px; try another seed or fewer landmarks"):
        satellite_pair(96, seed=0)
    for seed in range(12):  # from 192 px every seed has its 15
        assert len(satellite_pair(192, seed=seed).landmarks) == 30
    assert satellite_pair(192, seed=0, n_landmarks=0).landmarks.shape == (0, 4)
    with pytest.raises(ValueError, match="n_landmarks must be >= 0"):
        satellite_pair(192, seed=0, n_landmarks=-1)
    for bad in (-0.5, 2.0, float("nan")):
        with pytest.raises(ValueError, match="decorrelation must be in"):
            echo_sequence(2, 64, seed=0, decorrelation=bad)
    with pytest.raises(ValueError, match="noise must be >= 0"):
        cardiac_phantom(2, 32, seed=0, noise=-0.1)


def test_echo_says_which_pixels_its_field_can_match():
    """The echo's motion does not vanish at the fan's edge: near end-systole ~10 % of the sector shows tissue from
    outside the reference's fan (MSE 0.035 over the sector against 0.004 where the source is in it). The generator
    now marks the pixels where frame_t = warp(frame_0, u_t) can hold (``matchable``)."""
    import napari_tlreg as tl

    s = echo_sequence(24, 128, seed=0)
    fan, ok, u = s.metadata["mask"], s.metadata["matchable"], s.metadata["displacement"]
    assert ok.shape == s.frames.shape and ok.dtype == bool and not (ok & ~fan).any() and ok[0].sum() == fan.sum()
    warped = tl.warp(s.frames[0], u)
    es = int(np.argmax(s.metadata["activation"]))
    err = (warped[es] - s.frames[es]) ** 2
    assert (fan & ~ok[es]).mean() / fan.mean() > 0.05
    assert err[ok[es]].mean() < 0.2 * err[fan].mean()


def test_the_phantoms_nearest_warp_is_the_cores():
    """(2026-12-07, code review) ``synth``'s numpy nearest warp, which makes the phantoms' true labels, rounded halves
    to even where the core's ``warp(..., order=0)`` rounds them up: a field of half a pixel gave other labels."""
    import napari_tlreg as tl
    from napari_tlreg.synth._common import warp_nearest

    labels = np.tile(np.arange(8, dtype=np.int32), (6, 1)) + 10 * np.arange(6, dtype=np.int32)[:, None]
    u = np.zeros((3, 2, 6, 8), np.float32)
    u[0, 1] = 0.5  # exactly half a pixel: where the two roundings part
    u[1, 0] = -0.5
    u[2] = np.random.default_rng(0).uniform(-3, 3, (2, 6, 8)).round(1)
    mine = warp_nearest(labels, u)
    core = np.stack([tl.warp(labels, u[t], order=0) for t in range(3)])
    np.testing.assert_array_equal(mine, core)
    assert mine[0, 0].tolist() == [1, 2, 3, 4, 5, 6, 7, 7]
