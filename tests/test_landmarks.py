"""Landmark bookkeeping (no Qt): id matching, TRE arithmetic on a hand-made case, the editing
model (pairing rules, undo), CSV round trip, and tracking through a known field."""
from __future__ import annotations

import math

import numpy as np
import pytest

from napari_tlreg import landmarks as LM
from napari_tlreg.io import load_points_csv, save_points_csv
from napari_tlreg.result import RegistrationResult


# --------------------------------------------------------------------------- id matching
def test_match_pairs_by_id():
    lm = np.array([
        [7, 0, 10.0, 11.0],   # id 7 on the reference
        [7, 2, 12.0, 13.0],   # partner on frame 2
        [7, 1, 14.0, 15.0],   # and on frame 1
        [3, 0, 20.0, 21.0],   # id 3 on the reference, partner on frame 1
        [3, 1, 22.0, 23.0],
        [5, 0, 30.0, 31.0],   # reference only
        [9, 2, 40.0, 41.0],   # orphan: not on the reference
    ])
    p = LM.match_pairs(lm, reference=0, n_frames=3)
    assert len(p) == 3
    # sorted by (t, id)
    np.testing.assert_array_equal(p.ids, [3, 7, 7])
    np.testing.assert_array_equal(p.moving, [[1, 22, 23], [1, 14, 15], [2, 12, 13]])
    np.testing.assert_array_equal(p.target, [[20, 21], [10, 11], [10, 11]])
    np.testing.assert_array_equal(p.reference_only, [5])
    np.testing.assert_array_equal(p.orphans, [[9, 2, 40, 41]])
    np.testing.assert_array_equal(p.frames, [1, 2])
    np.testing.assert_array_equal(p.select(2).ids, [7])
    # another reference changes the pairs: frame 2 is now the reference
    q = LM.match_pairs(lm, reference=2)
    assert sorted(zip(q.ids.tolist(), q.moving[:, 0].astype(int).tolist())) == [(7, 0), (7, 1)]
    np.testing.assert_array_equal(q.reference_only, [9])


@pytest.mark.parametrize("bad, msg", [
    (np.array([[1, 0, 1.0, 1.0], [1, 0, 2.0, 2.0]]), "landmark id 1 appears twice in frame 0"),
    (np.array([[1.5, 0, 1.0, 1.0]]), "ids must be integers, got 1.5"),
    (np.array([[1, 0.5, 1.0, 1.0]]), "frame 0.5 is not a frame index"),
    (np.array([[1, 3, 1.0, 1.0]]), "out of range"),
    (np.array([[1, 0, np.nan, 1.0]]), "NaN"),
    (np.zeros((2, 3)), "(N, 4)"),
])
def test_as_table_rejects(bad, msg):
    with pytest.raises(ValueError, match=msg.replace("(", r"\(").replace(")", r"\)")):
        LM.as_table(bad, n_frames=3)


def test_one_check_of_landmarks_off_the_image_for_the_api_the_cli_and_the_tre_table():
    """(2026-12-07, code review) ``metrics.evaluate`` and the CLI refused a landmark off the image; ``tre_table``,
    ``tre_summary`` and ``match_pairs`` took it (a TRE of 40.5 px from a point 60 px below a 40x40 image). One check,
    ``as_table``, now serves them all."""
    from napari_tlreg import metrics as M
    from napari_tlreg.report import check_annotations

    u = np.zeros((2, 2, 40, 40), np.float32)
    lm = np.array([[1, 0, 10.0, 10.0], [1, 1, 100.0, 10.0]])
    said = r"landmark id 1 in frame 1 at \(row 100, col 10\) lies outside the 40x40 image"
    for call in (lambda: LM.tre_table(lm, 0, u), lambda: LM.tre_summary(lm, 0, u),
                 lambda: LM.match_pairs(lm, 0, 2, (40, 40)), lambda: LM.as_table(lm, 2, (40, 40)),
                 lambda: check_annotations((2, 40, 40), None, lm), lambda: M._landmark_table(lm, 2, (40, 40))):
        with pytest.raises(ValueError, match=said):
            call()
    lm[1, 2] = 39.5  # on the image (half a pixel of margin): taken
    assert LM.tre_table(lm, 0, u)[-1]["before_mean"] == pytest.approx(29.5)


# --------------------------------------------------------------------------- TRE arithmetic
def _hand_case():
    """T=2, 10x10: u_1 = constant (+1 row, -2 col); three pairs with errors worked out by hand."""
    u = np.zeros((2, 2, 10, 10))
    u[1, 0], u[1, 1] = 1.0, -2.0
    lm = np.array([
        [0, 0, 2, 3], [0, 1, 1, 5],   # q + u = (2, 3) = p: error 0;  before q - p = (-1, 2)
        [1, 0, 5, 5], [1, 1, 4, 6],   # q + u = (5, 4): d = (0, -1), error 1;  before (-1, 1)
        [2, 0, 7, 1], [2, 1, 3, 4],   # q + u = (4, 2): d = (-3, 1), error sqrt(10);  before (-4, 3) -> 5
    ], dtype=float)
    return u, lm


def test_tre_hand_made_case():
    u, lm = _hand_case()
    rows = LM.tre_table(lm, 0, u)
    assert [r["t"] for r in rows] == [1, "all"]
    r = rows[-1]
    assert r["n"] == 3
    after = np.array([0.0, 1.0, math.sqrt(10)])
    before = np.array([math.sqrt(5), math.sqrt(2), 5.0])
    assert r["after_mean"] == pytest.approx(after.mean())
    assert r["after_ds"] == pytest.approx(after.mean())
    assert r["after_std"] == pytest.approx(math.sqrt(((after - after.mean()) ** 2).mean()))
    assert r["after_max"] == pytest.approx(math.sqrt(10))
    assert r["after_dx"] == pytest.approx((0 + 1 + 1) / 3)  # mean |Δcol|
    assert r["after_dy"] == pytest.approx((0 + 0 + 3) / 3)  # mean |Δrow|
    assert r["before_mean"] == pytest.approx(before.mean())
    assert r["before_max"] == pytest.approx(5.0)
    assert r["before_dx"] == pytest.approx((2 + 1 + 3) / 3)
    assert r["before_dy"] == pytest.approx((1 + 1 + 4) / 3)
    assert "after_mean_mm" not in r
    # physical units: spacing (0.5 row, 2.0 col): d_mm = (0, 0), (0, -2), (-1.5, 2)
    r = LM.tre_table(lm, 0, u, spacing=(0.5, 2.0))[-1]
    assert r["after_mean_mm"] == pytest.approx((0 + 2 + 2.5) / 3)
    assert r["after_max_mm"] == pytest.approx(2.5)
    assert r["after_dx_mm"] == pytest.approx((0 + 2 + 2) / 3)
    assert r["after_dy_mm"] == pytest.approx((0 + 0 + 1.5) / 3)
    assert r["after_mean"] == pytest.approx(after.mean())  # pixels kept beside
    # the per-pair errors
    e = LM.pair_errors(LM.match_pairs(lm, 0), u)
    assert [x["id"] for x in e] == [0, 1, 2]
    np.testing.assert_allclose([x["error_after"] for x in e], after)
    np.testing.assert_allclose([(x["mapped_row"], x["mapped_col"]) for x in e], [[2, 3], [5, 4], [4, 2]])
    # without a displacement: before only
    r = LM.tre_table(lm, 0)[-1]
    assert r["before_mean"] == pytest.approx(before.mean()) and math.isnan(r["after_mean"])


def test_tre_bilinear_sampling_and_several_frames():
    """A field linear in col: the bilinear sample at a non-integer point is exact; frames pooled in 'all'."""
    H = W = 12
    u = np.zeros((3, 2, H, W))
    cols = np.arange(W, dtype=float)
    u[1, 0] = 0.1 * cols[None, :]          # row offset 0.1 * col
    u[2, 1] = 2.0                          # col offset 2
    lm = np.array([[0, 0, 3.0, 4.95], [0, 1, 2.5, 4.5], [0, 2, 3.0, 2.95], [1, 0, 6.0, 6.0], [1, 2, 6.0, 4.0]])
    rows = LM.tre_table(lm, 0, u)
    by_t = {r["t"]: r for r in rows}
    # frame 1: q = (2.5, 4.5) -> (2.5 + 0.45, 4.5) = (2.95, 4.5) vs p (3, 4.95): d = (-0.05, -0.45)
    assert by_t[1]["after_mean"] == pytest.approx(math.hypot(0.05, 0.45))
    # frame 2: both exact
    assert by_t[2]["after_mean"] == pytest.approx(0.0, abs=1e-12) and by_t[2]["n"] == 2
    assert by_t["all"]["n"] == 3
    assert by_t["all"]["after_mean"] == pytest.approx(math.hypot(0.05, 0.45) / 3)
    s = LM.tre_summary(lm, 0, u, frame=2)
    assert s["n"] == 2
    empty = LM.tre_summary(lm, 0, u, frame=5)
    assert empty["n"] == 0 and math.isnan(empty["after_mean"])


def test_tre_table_agrees_with_metrics_evaluate():
    from napari_tlreg import metrics as M

    u, lm = _hand_case()
    frames = np.random.default_rng(0).random((2, 10, 10)).astype(np.float32)
    res = RegistrationResult(frames=frames, warped=frames, displacement=u.astype(np.float32),
                             jacobian=np.ones((2, 10, 10), np.float32), method="hand")
    ev = M.evaluate(res, landmarks=lm)[1]
    r = LM.tre_table(lm, 0, u)[0]
    for k in ("mean", "std", "max", "dx", "dy"):
        key = "tre" if k == "mean" else f"tre_{k}"
        assert ev[key] == pytest.approx(r[f"after_{k}"])
    assert ev["tre_before"] == pytest.approx(r["before_mean"])


# --------------------------------------------------------------------------- the editing model
def test_model_pairing_rules_and_undo():
    m = LM.LandmarkModel(reference=0)
    assert m.next_id() == 0
    with pytest.raises(ValueError, match="reference frame"):
        m.place(2, 1.0, 1.0)  # a partner needs a landmark started on the reference
    assert len(m) == 0 and not m.can_undo
    p = m.place(0, 5.0, 6.0)
    assert (p.action, p.id, p.t) == ("added", 0, 0) and m.active_id == 0
    p = m.place(0, 5.5, 6.5)  # second click on the reference before a partner: re-places it
    assert (p.action, p.id) == ("moved", 0) and len(m) == 1
    assert m.place(1, 7.0, 8.0).id == 0
    assert m.place(2, 9.0, 9.0).id == 0  # same id on another frame
    assert m.place(1, 7.5, 8.5).action == "moved"
    p = m.place(0, 1.0, 1.0)  # the active landmark has partners: a reference click starts the next id
    assert p.id == 1 and m.next_id() == 2
    m.next_landmark()
    assert m.active_id is None
    assert m.place(0, 2.0, 2.0).id == 2
    np.testing.assert_array_equal(m.ids, [0, 0, 0, 1, 2])
    pairs = m.pairs()
    assert len(pairs) == 2 and list(pairs.reference_only) == [1, 2]
    # undo steps back one edit at a time, active id included
    assert m.undo() and len(m) == 4 and m.active_id is None
    assert m.undo() and len(m) == 3 and m.active_id == 0
    assert m.undo() and m.position(0, 1).tolist() == [7.0, 8.0]
    while m.undo():
        pass
    assert len(m) == 0 and not m.can_undo and not m.undo()


def test_model_set_table_repairs_ids_and_remove():
    m = LM.LandmarkModel(reference=0)
    kept = m.set_table([[0, 0, 1, 1], [0, 0, 2, 2], [4, 1, 3, 3]])  # a duplicate (id 0, t 0)
    np.testing.assert_array_equal(kept[:, 0], [0, 5, 4])  # the second one gets a fresh id, nothing lost
    assert m.next_id() == 6
    assert m.remove(5) == 1 and len(m) == 2
    assert m.remove(42) == 0
    m.undo()
    assert len(m) == 3
    m.set_table(np.zeros((0, 4)), undoable=False)
    assert len(m) == 0 and not m.can_undo
    # bad tables: a plain message, and the model unchanged (a NaN id, an infinite one, rows of 3: numpy's errors)
    for bad, match in (([[np.nan, 0, 1, 1]], "NaN or inf"), ([[np.inf, 0, 1, 1]], "NaN or inf"),
                       ([[0, 1, 1]], r"\(N, 4\) rows .* got shape \(1, 3\)")):
        with pytest.raises(ValueError, match=match):
            m.set_table(bad)
    assert len(m) == 0


# --------------------------------------------------------------------------- CSV round trip
def test_csv_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    m = LM.LandmarkModel(reference=0)
    for k in range(15):
        m.place(0, *rng.uniform(0, 255, 2))
        m.place(1, *rng.uniform(0, 255, 2))
        m.next_landmark()
    path = save_points_csv(tmp_path / "lm.csv", m.table)
    assert path.read_text().splitlines()[0] == "id,t,row,col"
    back = load_points_csv(path)
    np.testing.assert_array_equal(back, m.table)  # bit-exact (repr floats)
    m2 = LM.LandmarkModel(reference=0)
    m2.set_table(back)
    assert len(m2.pairs()) == 15


# --------------------------------------------------------------------------- tracking
def test_tracked_points_follow_a_translation():
    T, H, W = 3, 16, 16
    u = np.zeros((T, 2, H, W), np.float32)
    for t in range(T):
        u[t, 0], u[t, 1] = 0.5 * t, -1.0 * t  # frame_t(x) = ref(x + u): content moves by -u
    res = RegistrationResult(frames=np.zeros((T, H, W), np.float32), warped=np.zeros((T, H, W), np.float32),
                             displacement=u, jacobian=np.ones((T, H, W), np.float32), method="shift")
    p = np.array([[5.0, 6.0], [8.0, 9.0]])
    data, ids = LM.tracked_points(res, p, ids=[4, 9])
    assert data.shape == (T * 2, 3) and ids.tolist() == [4, 9] * T
    np.testing.assert_array_equal(data[:, 0], [0, 0, 1, 1, 2, 2])
    expect = np.concatenate([p - [0.5 * t, -1.0 * t] for t in range(T)])
    np.testing.assert_allclose(data[:, 1:], expect, atol=1e-3)
    # and mapping the tracked points back lands on p (q + u_t(q) = p)
    back = res.map_points(data)
    np.testing.assert_allclose(back, np.tile(p, (T, 1)), atol=1e-3)
    with pytest.raises(ValueError):
        LM.tracked_points(res, p, ids=[1])


# ---- from the mutation review of the core modules (2026-12-05): each assertion fails on a mutant that passed ----
def test_pair_errors_signs_spacing_order_and_the_pairs_order():
    """Per pair: d = mapped - ref (its sign is the direction the table shows), the physical errors with the spacing in
    (row, col) order, and the pairs sorted by (t, id) as match_pairs says."""
    # id, t, row, col: reference frame 0; a field that moves frame 1's points by (+1, 0), frame 2's by (0, +2)
    lm = np.array([[0, 0, 10, 10], [1, 0, 20, 20], [1, 1, 22, 20], [0, 1, 12, 10], [0, 2, 10, 13]], float)
    u = np.zeros((3, 2, 40, 40), np.float32)
    u[1, 0] = -1.0
    u[2, 1] = -2.0
    pairs = LM.match_pairs(lm, 0)
    assert list(zip(pairs.moving[:, 0], pairs.ids)) == [(1, 0), (1, 1), (2, 0)]
    rows = LM.pair_errors(pairs, u, spacing=(2.0, 0.5))
    for r in rows:
        assert r["d_row"] == r["mapped_row"] - r["ref_row"] and r["d_col"] == r["mapped_col"] - r["ref_col"]
    assert (rows[0]["d_row"], rows[0]["d_col"]) == (1.0, 0.0)  # 12 - 1 = 11 against 10
    assert rows[0]["error_before_mm"] == 4.0 and rows[0]["error_after_mm"] == 2.0  # rows of 2 mm
    assert rows[2]["error_before_mm"] == 1.5 and rows[2]["error_after_mm"] == 0.5  # columns of 0.5 mm


def test_a_reference_that_is_no_frame_is_refused():
    """(2026-12-05, array-likes review) match_pairs(lm, 2.7) took frame 2; a reference past the frames gave no pairs
    and no word."""
    lm = np.array([[0, 0, 5, 5], [0, 1, 6, 6]], float)
    with pytest.raises(ValueError, match=r"^the reference must be a frame index, got 2.7$"):
        LM.match_pairs(lm, 2.7)
    with pytest.raises(ValueError, match=r"^reference 7 is out of range for 3 frames$"):
        LM.match_pairs(lm, 7, n_frames=3)
    assert len(LM.match_pairs(lm, 0, n_frames=3)) == 1 and len(LM.match_pairs(lm, np.int64(0))) == 1
    for bad in (3, True):  # one past the last frame; a bool is no frame index
        with pytest.raises(ValueError):
            LM.match_pairs(lm, bad, n_frames=3)
