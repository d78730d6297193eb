"""Report outputs (no Qt): per-label HD in evaluate, the plot helpers, the atomic report folder
(``report.export_report``) and ``napari-tlreg evaluate`` writing the same things headless."""
from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from napari_tlreg import metrics as M
from napari_tlreg import report
from napari_tlreg.io import load_points_csv, save_points_csv
from napari_tlreg.result import RegistrationResult

T, H, W = 4, 24, 24


def _result(gain: float = 1.0, method: str = "shift", spacing=(0.5, 0.5)) -> RegistrationResult:
    """Frame t is the reference moved by -(t * 0.75, -t * 0.5); the field is ``gain`` times the truth."""
    rr, cc = np.mgrid[0:H, 0:W].astype(np.float32)
    u = np.zeros((T, 2, H, W), np.float32)
    frames = np.zeros((T, H, W), np.float32)
    for t in range(T):
        u[t, 0], u[t, 1] = 0.75 * t * gain, -0.5 * t * gain
        frames[t] = np.exp(-((rr - 12 + 0.75 * t) ** 2 + (cc - 11 - 0.5 * t) ** 2) / 20.0)
    warped = np.stack([frames[0]] * T)  # not used by the checks below
    return RegistrationResult(frames=frames, warped=warped, displacement=u, jacobian=np.ones((T, H, W), np.float32),
                              method=method, params={"gain": gain}, spacing=spacing)


def _labels() -> np.ndarray:
    lab = np.zeros((T, H, W), np.int32)
    for t in (0, 2, 3):  # frame 1 unlabelled
        r0, c0 = 12 - 0.75 * t, 11 + 0.5 * t
        rr, cc = np.mgrid[0:H, 0:W]
        d = np.hypot(rr - r0, cc - c0)
        lab[t][d < 6] = 1
        lab[t][d < 3] = 2
    return lab


def _landmarks() -> np.ndarray:
    rows = []
    for k, (r, c) in enumerate([(5.0, 6.0), (10.0, 12.0), (15.0, 9.0)]):
        rows.append([k, 0, r, c])
        for t in (1, 3):
            rows.append([k, t, r - 0.75 * t + 0.1 * k, c + 0.5 * t])  # truth plus 0.1 k row error
    return np.array(rows, float)


# --------------------------------------------------------------------------- evaluate: per-label HD
def test_evaluate_per_label_hausdorff():
    res = _result()
    rows = M.evaluate(res, labels=_labels())
    r2, r1 = rows[2], rows[1]
    for k in (1, 2):
        assert f"hd_{k}" in r2 and f"hd95_{k}" in r2 and f"hd_{k}_mm" in r2
        prop = res.warp_labels(_labels()[0])[2]
        assert r2[f"hd_{k}"] == pytest.approx(M.hausdorff(prop, _labels()[2], label=k))
        assert r2[f"hd95_{k}"] == pytest.approx(M.hausdorff(prop, _labels()[2], percentile=95, label=k))
        assert r2[f"hd_{k}_mm"] == pytest.approx(M.hausdorff(prop, _labels()[2], label=k, spacing=(0.5, 0.5)))
        assert math.isnan(r1[f"hd_{k}"])  # unlabelled frame


# --------------------------------------------------------------------------- plot helpers
def test_metric_columns_series_and_worst_frame():
    assert report.metric_column("dice") == "dice"
    assert report.metric_column("dice", 2, physical=True) == "dice_2"
    assert report.metric_column("hd95", 1, physical=True) == "hd95_1_mm"
    assert report.metric_column("tre", physical=True) == "tre_mm"
    assert report.metric_column("folding") == "folding_pct"
    with pytest.raises(ValueError):
        report.metric_column("nope")
    rows = [{"t": 0, "dice": None, "hd95": None}, {"t": 1, "dice": 0.9, "hd95": 2.0},
            {"t": 2, "dice": 0.7, "hd95": 1.0}, {"t": 3, "dice": 0.8, "hd95": 5.0}]
    t, v, ph = report.metric_series(rows, "hd95", label=3, physical=True)  # falls back to foreground, pixels
    assert not ph and t.tolist() == [0, 1, 2, 3] and np.isnan(v[0]) and v[1:].tolist() == [2.0, 1.0, 5.0]
    assert report.worst_frame(rows, "dice") == 2
    assert report.worst_frame(rows, "hd95") == 3
    assert report.worst_frame(rows, "tre") is None
    assert report.available_metrics({"a": rows}) == ["dice", "hd95"]


def test_draw_metrics_overlays_results():
    from matplotlib.figure import Figure

    tables = report.per_frame_tables({"truth": _result(1.0), "half": _result(0.5)}, labels=_labels(), landmarks=_landmarks())
    fig = Figure()
    axes = report.draw_metrics(fig, tables, current=2)
    assert set(axes.values()) == {"dice", "hd", "hd95", "tre", "mse", "folding"}
    for ax, m in axes.items():
        names = [ln.get_label() for ln in ax.get_lines()]
        assert "truth" in names and "half" in names, (m, names)
    assert len(fig._tlreg_markers) == 6 and fig._tlreg_markers[0].get_xdata()[0] == 2
    assert report.draw_metrics(Figure(), {}) == {}
    # distances from 0 (TRE 2.547 and 2.530 mm filled the panel, read as a large gain; clinician review)
    rows = [{"t": t, "is_reference": t == 0, "tre": 2.53 + 0.001 * t, "tre_before": 2.547, "n_tre": 3}
            for t in range(5)]
    ax = next(iter(report.draw_metrics(Figure(), {"m": rows}, ["tre"])))
    assert ax.get_ylim()[0] == 0.0 and ax.get_ylim()[1] >= 1.05 * 2.547  # room above the highest (diff review)


def test_a_label_drawn_on_no_frame_but_the_reference_says_so_in_its_plots():
    """Sunnybrook's epicardium is drawn at ED (the reference) only: its Dice/HD axes were empty, ±0.05, without a word
    (2026-12-05, clinician review)."""
    from matplotlib.figure import Figure

    lab = _labels()
    ref_only = lab.copy()
    ref_only[1:][ref_only[1:] == 2] = 0  # label 2 on the reference alone
    tables = report.per_frame_tables({"truth": _result(1.0)}, labels=ref_only)
    texts = {m: [t.get_text() for t in ax.texts] for ax, m in report.draw_metrics(Figure(), tables, label=2).items()}
    said = "label 2 is drawn on no frame\nbut the reference: nothing to score"
    assert texts["dice"] == texts["hd95"] == [said] and texts["mse"] == [], texts
    ticks = {m: len(ax.get_yticks()) for ax, m in report.draw_metrics(Figure(), tables, label=2).items()}
    assert ticks["dice"] == ticks["hd95"] == 0 and ticks["mse"] > 0  # no scale of nothing beside the words
    texts = {m: [t.get_text() for t in ax.texts] for ax, m in report.draw_metrics(Figure(), tables, label=1).items()}
    assert not any(t for v in texts.values() for t in v if not t.startswith("t=")), texts  # label 1 is scored
    assert texts["dice"] == []  # (on 2 of the 3 frames, side by side: a line, read by the axis below)
    # (satellite landmarks review) no labels at all: not "drawn on no frame but the reference"
    bare = report.per_frame_tables({"truth": _result(1.0)})
    for label in (None, 2):
        drawn = report.draw_metrics(Figure(), bare, ["dice", "hd", "mse"], label=label)
        texts = {m: [t.get_text() for t in ax.texts] for ax, m in drawn.items()}
        assert texts == {"dice": ["no labels: choose a labels layer\nto score Dice and Hausdorff"],
                         "hd": ["no labels: choose a labels layer\nto score Dice and Hausdorff"], "mse": []}, texts


def test_long_sequences_plot_at_most_about_40_markers_a_curve_staggered_between_methods():
    """(2026-12-06, long clips review) A marker on every one of 400 frames fused the curves into bands: one method's
    squares hid the other's curve, and the marker shapes and dashes that tell methods apart could not be seen."""
    from matplotlib.figure import Figure

    def rows(n, k):
        return [{"t": t, "is_reference": t == 0, "mse": 0.01 + 0.001 * k + 0.0001 * t, "mse_before": 0.05}
                for t in range(n)]

    for n, every in ((30, 1), (400, 10)):
        axes = report.draw_metrics(Figure(), {"a": rows(n, 0), "b": rows(n, 1)}, ["mse"])
        (ax,) = axes
        lines = {line.get_label(): line for line in ax.get_lines()
                 if line.get_label() in ("a", "b", "before registration")}
        assert len(lines) == 3
        marks = {name: list(line.get_markevery()) for name, line in lines.items()}
        assert all(set(np.diff(m)) == {every} for m in marks.values()), marks
        assert max(len(m) for m in marks.values()) <= (n if every == 1 else report.MARKERS_PER_CURVE + 1), marks
        if every > 1:  # the two methods' markers on other frames
            assert marks["a"][0] != marks["b"][0]


def test_a_curve_breaks_where_a_metric_was_not_measured_and_marks_a_point_alone():
    """(2026-12-06, clinician review) Landmarks on frames 6 and 19 only: the TRE curve drew a line from one to the
    other, read as a TRE of frames 7-18 that nobody measured (the before curve a flat dashed one). The line breaks where
    a frame has no value; the reference (never scored) is joined across; a point alone has its marker."""
    from matplotlib.figure import Figure

    rows = [{"t": t, "is_reference": t == 10, "tre": {6: 2.5, 19: 2.0, 20: 1.5}.get(t),
             "tre_before": {6: 4.0, 19: 3.0, 20: 3.5}.get(t), "mse": 0.01 + 0.001 * t, "mse_before": 0.05}
            for t in range(22)]
    axes = report.draw_metrics(Figure(), {"a": rows}, ["tre", "mse"])
    for ax, m in axes.items():
        for line in ax.get_lines()[:2]:
            if line.get_label() not in ("a", "before registration"):
                continue
            x, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata(), float)
            assert 10 not in x  # the reference is never a point
            if m == "tre":
                gap = [t for t in range(7, 19) if t != 10]
                assert np.isin(gap, x).all() and np.isnan(y[np.isin(x, gap)]).all()  # a break, not a line over it
                assert np.isfinite(y[np.isin(x, (6, 19, 20))]).all()
                assert int(np.flatnonzero(x == 6)[0]) in list(line.get_markevery())  # alone: marked
            else:
                assert np.isfinite(y).all() and len(x) == 21  # joined across the reference


# --------------------------------------------------------------------------- export folder
def _independent_tre(res: RegistrationResult, lm: np.ndarray, t: int) -> np.ndarray:
    """Errors |q + u_t(q) - p| with a hand-written bilinear sample (border clamp), no project code."""
    ref = {int(r[0]): r[2:] for r in lm if r[1] == res.reference}
    errs = []
    for r in lm[lm[:, 1] == t]:
        q = r[2:]
        r0, c0 = int(np.floor(q[0])), int(np.floor(q[1]))
        fr, fc = q[0] - r0, q[1] - c0
        u = np.zeros(2)
        for dr, dc, w in ((0, 0, (1 - fr) * (1 - fc)), (1, 0, fr * (1 - fc)), (0, 1, (1 - fr) * fc), (1, 1, fr * fc)):
            rr = min(max(r0 + dr, 0), H - 1)
            cc = min(max(c0 + dc, 0), W - 1)
            u += w * res.displacement[t, :, rr, cc]
        errs.append(np.linalg.norm(q + u - ref[int(r[0])]))
    return np.array(errs)


def _read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_export_report_folder(tmp_path):
    results = [_result(1.0, "truth"), _result(0.5, "half")]
    lab, lm = _labels(), _landmarks()
    out = report.export_report(results, tmp_path / "rep", labels=lab, landmarks=lm, unit="mm", source="unit test")
    names = sorted(p.name for p in out.iterdir())
    assert names == ["landmark_pairs.csv", "landmarks.csv", "per_frame.csv", "plots.png", "report.json", "summary.csv", "tre.csv"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left behind
    doc = json.loads((out / "report.json").read_text())
    assert [r["method"] for r in doc["results"]] == ["truth", "half"]
    assert doc["results"][1]["params"] == {"gain": 0.5}
    assert {"napari_tlreg", "numpy", "scipy", "torch", "matplotlib", "python"} <= set(doc["versions"])
    assert "plots.png" in doc["figures"] and "report.json" in doc["files"] and doc["source"] == "unit test"
    assert doc["labels"]["frames_labelled"] == [0, 2, 3] and doc["landmarks"] == {"points": 9, "ids": 3}
    per = _read_csv(out / "per_frame.csv")
    assert len(per) == 2 * T and list(per[0])[:2] == ["method", "t"]
    assert {"dice", "hd", "hd95", "tre", "mse", "folding_pct", "dice_1", "hd95_2"} <= set(per[0])
    np.testing.assert_array_equal(load_points_csv(out / "landmarks.csv"), lm)
    assert (out / "plots.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # TRE table vs an independent computation, per frame and pooled
    tre = _read_csv(out / "tre.csv")
    for name, res in zip(("truth", "half"), results):
        mine = [r for r in tre if r["method"] == name]
        assert [r["t"] for r in mine] == ["1", "3", "all"]
        pooled = []
        for r in mine[:2]:
            e = _independent_tre(res, lm, int(r["t"]))
            pooled.append(e)
            assert float(r["after_mean"]) == pytest.approx(e.mean(), abs=1e-6)
            assert float(r["after_max"]) == pytest.approx(e.max(), abs=1e-6)
            assert float(r["after_std"]) == pytest.approx(e.std(), abs=1e-6)
            assert float(r["after_mean_mm"]) == pytest.approx(0.5 * e.mean(), abs=1e-6)
        allp = np.concatenate(pooled)
        assert float(mine[-1]["after_mean"]) == pytest.approx(allp.mean(), abs=1e-6) and mine[-1]["n"] == "6"
    truth_all = [r for r in tre if r["method"] == "truth"][-1]
    assert float(truth_all["after_mean"]) == pytest.approx(0.1, abs=1e-5)  # 0, 0.1, 0.2 row errors
    assert float(truth_all["after_dy"]) == pytest.approx(0.1, abs=1e-5) and float(truth_all["after_dx"]) == pytest.approx(0, abs=1e-5)
    pairs = _read_csv(out / "landmark_pairs.csv")
    assert len(pairs) == 2 * 6
    # re-exporting over a previous report replaces it
    report.export_report(results[:1], out)
    assert json.loads((out / "report.json").read_text())["landmarks"] is None
    assert not (out / "tre.csv").exists()


def test_a_spacing_given_for_results_in_pixels_is_reported_in_mm(tmp_path):
    """(2026-12-05, code review) A result without spacing says "px"; a report of it with ``spacing=`` then said
    "unit": "px" beside tre_mm of 2 x the pixels, and its plots "TRE (px)" over physical curves."""
    import json

    res = _result(1.0, spacing=None)
    assert res.unit == "px"
    out = report.export_report({"x": res}, tmp_path / "rep", landmarks=_landmarks(), spacing=(2.0, 2.0))
    doc = json.loads((out / "report.json").read_text())
    assert doc["unit"] == "mm", doc["unit"]
    out = report.export_report({"x": res}, tmp_path / "rep2", landmarks=_landmarks())
    assert json.loads((out / "report.json").read_text())["unit"] == "px"


def test_export_report_is_atomic_and_careful(tmp_path, monkeypatch):
    res = _result()
    other = tmp_path / "my_data"
    other.mkdir()
    (other / "precious.txt").write_text("keep")
    with pytest.raises(FileExistsError):
        report.export_report(res, other)
    assert (other / "precious.txt").read_text() == "keep"

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(report, "save_plots", boom)
    with pytest.raises(RuntimeError):
        report.export_report(res, tmp_path / "rep")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my_data"]  # nothing half-written
    with pytest.raises(ValueError, match="different sequences"):
        report.export_report([res, RegistrationResult(frames=np.zeros((2, 8, 8), np.float32), warped=np.zeros((2, 8, 8), np.float32),
                                                      displacement=np.zeros((2, 2, 8, 8), np.float32),
                                                      jacobian=np.ones((2, 8, 8), np.float32), method="x")], tmp_path / "r2")


# --------------------------------------------------------------------------- CLI evaluate
def test_cli_evaluate_writes_plots_landmarks_and_report(tmp_path, capsys):
    from napari_tlreg.cli import main
    from napari_tlreg.io import save_stack

    a, b = tmp_path / "truth", tmp_path / "half"
    _result(1.0, "truth").save(a)
    _result(0.5, "half").save(b)
    save_points_csv(tmp_path / "lm.csv", _landmarks())
    save_stack(tmp_path / "lab.tif", _labels())
    # one folder: the current behaviour (metrics.json/csv + the summary printed) plus plots and TRE tables
    assert main(["evaluate", str(a), "--landmarks", str(tmp_path / "lm.csv"), "--labels", str(tmp_path / "lab.tif")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["tre"] == pytest.approx(0.1, abs=1e-5) and "dice" in summary
    for name in ("metrics.json", "metrics.csv", "plots.png", "landmarks.csv", "tre.csv", "landmark_pairs.csv", "result.json"):
        assert (a / name).is_file(), name
    assert not [p for p in a.iterdir() if p.name.startswith(".")]
    # several folders and a report folder
    rep = tmp_path / "report"
    assert main(["evaluate", str(a), str(b), "--landmarks", str(tmp_path / "lm.csv"), "--report", str(rep)]) == 0
    doc = json.loads((rep / "report.json").read_text())
    assert [r["method"] for r in doc["results"]] == ["truth", "half"]
    assert (rep / "tre.csv").is_file() and (rep / "plots.png").is_file()
    # (2026-12-05, cine clinician review) a folder with no annotations of its own, beside one with labels: it said
    # "no labels or landmarks", and the report then scored it with the other's labels without a word
    capsys.readouterr()
    c = tmp_path / "bare"
    _result(0.5, "half").save(c)
    assert main(["evaluate", str(a), str(c), "--report", str(tmp_path / "rep2")]) == 0
    err = capsys.readouterr().err
    assert f"napari-tlreg evaluate: {c}: the report scores it with the labels and landmarks of {a}" in err
    # bad input: one line, exit 2
    assert main(["evaluate", str(tmp_path / "nope")]) == 2
    assert "error" in capsys.readouterr().err


# ---- found in review (2026-12-04) ------------------------------------------------------------------------------
def _lost_label_case(spacing=None):
    """Frame 1: the reference disc moved by 2 px; frame 2: pulled off the image (its propagated label is empty)."""
    from napari_tlreg.core.ops import jacobian_determinant

    T, H, W = 3, 48, 48
    u = np.zeros((T, 2, H, W), np.float32)
    u[1, 0], u[2, 0] = 2.0, 30.0
    rr, cc = np.mgrid[0:H, 0:W]
    disc = ((rr - 8) ** 2 + (cc - 24) ** 2 < 25).astype(np.int32)
    labels = np.stack([disc, np.roll(disc, -2, 0), np.roll(disc, 20, 0)])  # a manual label on every frame
    frames = np.repeat(disc[None].astype(np.float32), T, 0)
    res = RegistrationResult(frames=frames, warped=frames, displacement=u, jacobian=jacobian_determinant(u),
                             method="test", reference=0, spacing=spacing)
    return res, labels


def test_a_lost_label_counts_as_an_infinite_distance_in_summaries_and_files(tmp_path):
    """The report turned HD = inf (a label lost) into "no value": the summaries left that frame out (HD 2.0 where
    metrics.summarize gives inf) and the worst frame skipped it."""
    res, labels = _lost_label_case()
    raw = M.evaluate(res, labels=labels)
    assert raw[2]["hd"] == math.inf and raw[2]["dice"] == 0.0
    rows, summary = report.metrics_tables(res, labels=labels)
    assert rows[2]["hd"] == math.inf and summary["hd"] == math.inf == M.summarize(raw)["hd"]
    tables = report.per_frame_tables({"test": res}, labels=labels)
    assert report.worst_frame(tables["test"], "hd") == 2
    report.write(res, tmp_path / "o", labels=labels, montage=False)
    doc = json.loads((tmp_path / "o" / "metrics.json").read_text())  # standard JSON: no Infinity / NaN tokens
    assert doc["summary"]["hd"] == "inf" and doc["frames"][2]["hd"] == "inf" and doc["frames"][0]["hd"] is None
    assert "Infinity" not in (tmp_path / "o" / "metrics.json").read_text()
    with open(tmp_path / "o" / "metrics.csv") as f:
        assert [r["hd"] for r in csv.DictReader(f)] == ["", "0.0", "inf"]


def test_a_column_without_values_stays_in_the_summary_as_nan():
    """With a landmark on the reference only, ``tre`` was missing from the report's summary (NaN in summarize)."""
    res, labels = _lost_label_case()
    lm = np.array([[0, 0, 10.0, 10.0]])
    _, summary = report.metrics_tables(res, labels=labels, landmarks=lm)
    assert "tre" in summary and summary["tre"] is None
    assert math.isnan(M.summarize([{"t": 0, "is_reference": True, "x": None}, {"t": 1, "x": None}])["x"])


def test_the_hd95_before_curve_is_in_the_axis_unit():
    """With spacing, the HD95 panel (mm) drew its "before registration" curve in pixels."""
    from matplotlib.figure import Figure

    res, labels = _lost_label_case(spacing=(2.0, 0.5))
    rows = M.evaluate(res, labels=labels)
    want = M.hausdorff(labels[0], labels[1], percentile=95, spacing=(2.0, 0.5))
    assert rows[1]["hd95_before_mm"] == pytest.approx(want) and want != pytest.approx(rows[1]["hd95_before"])
    fig = Figure()
    axes = report.draw_metrics(fig, report.per_frame_tables({"test": res}, labels=labels), ["hd95"])
    ax = next(iter(axes))
    before = next(line for line in ax.get_lines() if line.get_label() == "before registration")
    assert before.get_ydata()[0] == pytest.approx(want)


def test_physical_columns_are_named_after_the_unit_in_the_files(tmp_path):
    """A satellite sequence's spacing is in metres, but the files called its physical columns ``*_mm``."""
    import napari_tlreg as tl
    from napari_tlreg.io import load_sequence

    seq = load_sequence("satellite")
    assert (seq.unit, seq.spacing) == ("m", (1.0, 1.0))
    res = tl.register(seq, method="multistep")
    assert res.unit == "m"
    res.save(tmp_path / "r")
    assert RegistrationResult.load(tmp_path / "r").unit == "m"
    lm = np.array([[0, 0, 100.0, 120.0], [0, 1, 101.0, 118.5], [1, 0, 40.0, 60.0], [1, 1, 42.0, 61.0]])
    summary = report.write_evaluation(res, tmp_path / "r", landmarks=lm)
    doc = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert doc["unit"] == "m" and "tre_m" in doc["summary"] and not any(k.endswith("_mm") for k in doc["summary"])
    assert "tre_m" in summary and "after_mean_m" in summary["tre_all"]
    with open(tmp_path / "r" / "tre.csv") as f:
        header = next(csv.reader(f))
    assert "after_mean_m" in header and not any(h.endswith("_mm") for h in header)
    out = report.export_report(res, tmp_path / "rep", landmarks=lm)
    with open(out / "per_frame.csv") as f:
        header = next(csv.reader(f))
    assert "tre_m" in header and json.loads((out / "report.json").read_text())["unit"] == "m"
    # millimetres keep their names; a result saved before the unit was recorded loads as mm
    mm = tl.register(seq.frames, method="multistep", spacing=(0.5, 0.5))
    assert mm.unit == "mm" and "tre_mm" in report.metrics_tables(mm, landmarks=lm)[1]
    meta = json.loads((tmp_path / "r" / "result.json").read_text())
    del meta["unit"]
    (tmp_path / "r" / "result.json").write_text(json.dumps(meta))
    # (its metrics.json records the source its result.json named since 2026-12-06: the sample, read in metres)
    assert json.loads((tmp_path / "r" / "metrics.json").read_text())["source"] == "satellite"
    assert RegistrationResult.load(tmp_path / "r").unit == "m"
    doc["source"] = None  # no source to read: mm, with a warning
    (tmp_path / "r" / "metrics.json").write_text(json.dumps(doc))
    with pytest.warns(UserWarning, match="its pixel size is taken as mm"):
        assert RegistrationResult.load(tmp_path / "r").unit == "mm"


def test_hd_and_mse_panels_draw_their_before_registration_curves():
    """The HD (max) and MSE panels had no "before registration" curve beside Dice, HD95 and TRE: ``hd_before``
    (the reference's labels unwarped against the frame's, in the panel's unit) and ``mse_before`` (the reference
    unwarped against the frame, in the run's mask as ``mse``)."""
    from matplotlib.figure import Figure

    res, labels = _lost_label_case(spacing=(2.0, 0.5))
    rows = M.evaluate(res, labels=labels)
    assert rows[1]["hd_before"] == pytest.approx(M.hausdorff(labels[0], labels[1]))
    assert rows[1]["hd_before_mm"] == pytest.approx(M.hausdorff(labels[0], labels[1], spacing=(2.0, 0.5)))
    assert rows[1]["mse_before"] == pytest.approx(M.mse(res.frames[res.reference], res.frames[1], mask=res.mask))
    fig = Figure()
    axes = report.draw_metrics(fig, report.per_frame_tables({"test": res}, labels=labels), ["hd", "mse"])
    for ax, want in zip(axes, (rows[1]["hd_before_mm"], rows[1]["mse_before"])):
        before = next(line for line in ax.get_lines() if line.get_label() == "before registration")
        assert before.get_ydata()[0] == pytest.approx(want)


def test_evaluate_takes_a_batchs_results_of_several_shapes_each_on_its_own(tmp_path, capsys):
    """(Session 51, cohort review) ``evaluate OUT/*/`` over a batch's results was refused ("different sequences") when
    their shapes differed, accepted when two patients' happened to agree; ``evaluate OUT`` said only "no result.json",
    and ``evaluate OUT/*`` stopped at ``summary.csv``. Without --report (or annotations for one sequence) each folder
    is evaluated on its own; a batch's folder is named as one; its summary is passed over."""
    import dataclasses

    from napari_tlreg.batch import SUMMARY_NAME
    from napari_tlreg.cli import main

    out = tmp_path / "OUT"
    a = _result(1.0)
    small = dataclasses.replace(a, frames=a.frames[:3], warped=a.warped[:3], displacement=a.displacement[:3],
                                jacobian=a.jacobian[:3])
    report.write(a, out / "p1", source="/data/p1.nii.gz", montage=False)
    report.write(small, out / "p2", source="/data/p2.nii.gz", montage=False)
    (out / SUMMARY_NAME).write_text("name,status\np1,ok\np2,ok\n")
    capsys.readouterr()
    assert main(["evaluate", *sorted(str(p) for p in out.iterdir())]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert sorted(printed) == [str(out / "p1"), str(out / "p2")]
    assert main(["evaluate", str(out / "p1"), str(out / "p2"), "--report", str(tmp_path / "rep")]) == 2
    assert "different sequences (shapes" in capsys.readouterr().err and not (tmp_path / "rep").exists()
    assert main(["evaluate", str(out)]) == 2
    assert f"{out}: a batch's output folder, not a result folder: give its result folders ({out}/*/)" in \
        capsys.readouterr().err
    assert main(["itk", str(out), "--out", str(tmp_path / "itk")]) == 2  # (CLI review: "not a result folder")
    assert f"{out}: a batch's output folder, not a result folder: give its result folders ({out}/*/)" in \
        capsys.readouterr().err and not (tmp_path / "itk").exists()


def test_a_report_refuses_results_of_different_sequences_of_one_shape(tmp_path, capsys):
    """Two patients' cines of one shape shared a report as two methods ("shift", "shift #2"); through
    ``evaluate A B --report`` too, after both folders were re-evaluated."""
    from napari_tlreg.cli import main

    a, b = _result(1.0), _result(1.0)
    b.frames = np.ascontiguousarray(b.frames[:, ::-1])  # another sequence: same shape, other frames
    with pytest.raises(ValueError, match="results of different sequences cannot share a report"):
        report.export_report([a, b], tmp_path / "rep")
    assert not (tmp_path / "rep").exists()
    other = _result(0.5)
    other.normalization = "frame"  # one sequence scaled otherwise: its frames differ, and it may share the report
    other.frames = other.frames / other.frames.max(axis=(1, 2), keepdims=True)
    with pytest.warns(UserWarning, match=r"other intensity scales: compare them within a result.*each frame scaled on its "
                                         "own"):  # (its MSE 270x apart from the sequence-scaled one's: diff review)
        assert (report.export_report([a, other], tmp_path / "rep") / "report.json").is_file()

    report.write(_result(1.0), tmp_path / "p1", source="/data/patient1.nii.gz", montage=False)
    report.write(_result(0.5), tmp_path / "p2", source="/data/patient2.nii.gz", montage=False)  # frames alike here
    before = {p: p.stat().st_mtime_ns for f in ("p1", "p2") for p in (tmp_path / f).iterdir()}
    assert main(["evaluate", str(tmp_path / "p1"), str(tmp_path / "p2"), "--report", str(tmp_path / "rep2")]) == 2
    err = capsys.readouterr().err
    assert "are results of different sequences (/data/patient1.nii.gz, /data/patient2.nii.gz)" in err
    assert not (tmp_path / "rep2").exists()
    assert {p: p.stat().st_mtime_ns for f in ("p1", "p2") for p in (tmp_path / f).iterdir()} == before
    report.write(_result(0.5), tmp_path / "p3", source="/data/patient1.nii.gz", montage=False, extra={"slice": 2})
    assert main(["evaluate", str(tmp_path / "p1"), str(tmp_path / "p3"), "--report", str(tmp_path / "rep2")]) == 2
    assert "(/data/patient1.nii.gz slice 0, /data/patient1.nii.gz slice 2)" in capsys.readouterr().err
    report.write(_result(0.5), tmp_path / "m2", source="/data/patient1.nii.gz", montage=False)  # another method
    assert main(["evaluate", str(tmp_path / "p1"), str(tmp_path / "m2"), "--report", str(tmp_path / "rep2")]) == 0


def test_write_evaluation_evaluates_once(tmp_path, monkeypatch):
    """``evaluate FOLDER`` ran every metric twice (once for the plots, once for metrics.json): the Hausdorff distances
    of a long sequence's labels took twice as long. The figures written are those of one evaluation."""
    from napari_tlreg import metrics

    res = _result(1.0)
    res.save(tmp_path / "r")
    calls = []
    real = metrics.evaluate
    monkeypatch.setattr(metrics, "evaluate", lambda *a, **k: (calls.append(1), real(*a, **k))[1])
    summary = report.write_evaluation(res, tmp_path / "r", labels=_labels(), landmarks=_landmarks())
    assert len(calls) == 1
    doc = json.loads((tmp_path / "r" / "metrics.json").read_text())
    want = [{k: report._clean(v) for k, v in row.items()} for row in real(res, labels=_labels(), landmarks=_landmarks())]
    assert [r["dice"] for r in doc["frames"]] == pytest.approx([r["dice"] for r in report.in_unit(want, res.unit)],
                                                               nan_ok=True)
    assert summary["dice"] == doc["summary"]["dice"] and (tmp_path / "r" / "plots.png").is_file()


def test_a_reports_physical_tre_on_non_square_pixels(tmp_path):
    """tre.csv's physical columns with (row, col) spacing 0.5 x 2.0: the satellite test's 1 x 1 m pixels (and the
    docks' 0.5 x 0.5) passed with the spacing given as (col, row)."""
    import csv

    fr = np.random.default_rng(0).random((2, 32, 32)).astype(np.float32)
    res = RegistrationResult(frames=fr, warped=fr.copy(), displacement=np.zeros((2, 2, 32, 32), np.float32),
                             jacobian=np.ones((2, 32, 32), np.float32), method="zero", reference=0, spacing=(0.5, 2.0))
    lm = np.array([[0, 0, 10.0, 10.0], [0, 1, 13.0, 14.0]])  # (3, 4) px apart: (1.5, 8) mm
    out = report.export_report({"zero": res}, tmp_path / "rep", landmarks=lm)
    with open(out / "tre.csv", newline="") as f:
        row = list(csv.DictReader(f))[-1]
    assert float(row["after_mean"]) == pytest.approx(5.0)
    assert float(row["after_mean_mm"]) == pytest.approx(np.hypot(1.5, 8.0))


def test_the_plots_and_the_report_name_the_labels_and_the_unit_of_each_column(tmp_path):
    """(2026-12-05, viewer review) The plots said "Dice, label 2" where the dock's list said "2: myocardium",
    report.json gave ids without names and did not say which label plots.png shows, and its "unit": "mm" stood over
    ``hd`` columns in pixels."""
    from matplotlib.figure import Figure

    names = {1: "LV wall", 2: "LV cavity"}
    tables = report.per_frame_tables({"truth": _result(1.0)}, labels=_labels())
    titles = {m: ax.get_title() for ax, m in report.draw_metrics(Figure(), tables, label=2, label_names=names).items()}
    # (2026-12-07) the label on a line of its own: beside the metric two columns' titles ran into each other
    assert titles["dice"] == "Dice ↑\nlabel 2 (LV cavity)" and titles["hd95"] == "HD95 (mm) ↓\nlabel 2 (LV cavity)"
    assert report.draw_metrics(Figure(), tables, label=2) and report.label_title(2) == "label 2"
    # names as JSON keeps them (string ids), and keys that are no id (a user's layer's), taken and skipped alike
    assert report.label_title(2, {"2": "LV cavity", "bg": "background"}) == "label 2 (LV cavity)"
    out = report.export_report([_result(1.0, "truth")], tmp_path / "rep", labels=_labels(), unit="mm", label=2,
                               label_names={**names, 7: "not in these labels"})
    doc = json.loads((out / "report.json").read_text())
    assert doc["labels"]["label_names"] == {"1": "LV wall", "2": "LV cavity"}
    assert doc["figures"]["plots.png"].endswith("; Dice and Hausdorff of label 2 (LV cavity)")
    assert doc["unit"] == "mm" and doc["columns"] == "distances in pixels; with the suffix _mm, in mm"
    summary = doc["results"][0]["summary"]
    assert summary["hd_mm"] == pytest.approx(0.5 * summary["hd"])  # the columns say so: hd in px, hd_mm in mm
    doc = json.loads(report.export_report([_result(1.0, "truth")], tmp_path / "rep", labels=_labels(),
                                          unit="mm").joinpath("report.json").read_text())
    assert doc["labels"]["label_names"] == {} and doc["figures"]["plots.png"].endswith(
        "; Dice and Hausdorff of all labels (foreground)")


def test_a_labels_own_panels_have_its_before_registration_curve():
    """(2026-12-05, viewer review) With one label chosen the Dice and HD panels had no "before registration" curve
    (the legend listed one: the MSE panel's); ``evaluate`` gives each label's figures without registration too."""
    from matplotlib.figure import Figure

    lab = _labels()
    res = _result(1.0)
    rows = M.evaluate(res, labels=lab)
    before = np.stack([lab[0]] * T)  # the reference's labels, unwarped
    for r in rows:
        t = r["t"]
        if t in (2, 3):
            for k in (1, 2):
                assert r[f"dice_{k}_before"] == pytest.approx(M.dice(before[t], lab[t], label=k))
                assert r[f"hd_{k}_before_mm"] == pytest.approx(0.5 * r[f"hd_{k}_before"])
            assert r["dice_2_before"] < r["dice_2"]  # the truth's field beats none
        else:
            assert math.isnan(r["dice_1_before"])
    tables = report.per_frame_tables({"truth": res}, labels=lab)
    for ax, m in report.draw_metrics(Figure(), tables, label=2).items():
        names = [line.get_label() for line in ax.get_lines()]
        if m in ("dice", "hd", "hd95", "mse"):
            assert "before registration" in names, (m, names)
        if m == "dice":
            (line,) = [line for line in ax.get_lines() if line.get_label() == "before registration"]
            ys = np.asarray(line.get_ydata(), float)[np.isin(line.get_xdata(), (2, 3))]
            np.testing.assert_allclose(ys, [r["dice_2_before"] for r in tables["truth"] if r["t"] in (2, 3)])


def test_a_result_folder_and_a_report_write_the_same_table_values(tmp_path):
    """``metrics.csv`` wrote ``is_reference`` as True/False where the report's ``per_frame.csv`` writes 1/0: one table,
    two spellings for a reader that parses either."""
    res, labels = _lost_label_case()
    report.write(res, tmp_path / "o", labels=labels, montage=False)
    report.export_report({"test": res}, tmp_path / "r", labels=labels)
    with open(tmp_path / "o" / "metrics.csv") as f:
        folder = list(csv.DictReader(f))
    with open(tmp_path / "r" / "per_frame.csv") as f:
        rep = list(csv.DictReader(f))
    assert [r["is_reference"] for r in folder] == [r["is_reference"] for r in rep] == ["1", "0", "0"]
    for a, b in zip(folder, rep):
        assert {k: a[k] for k in a} == {k: b[k] for k in a}
    # (2026-12-07, landmarks review) ... in one order of columns: sorted by name, is_reference sat between hd_mm and lncc
    assert list(folder[0]) == [k for k in rep[0] if k != "method"]
    assert list(folder[0])[:4] == ["t", "is_reference", "mse", "mse_before"]


def test_methods_curves_differ_by_more_than_their_colour():
    """(2026-12-05, colour-vision review) Every method was drawn "-o" in its own hue only: red and green one olive to
    a red-green-blind eye, blue and purple one blue; the legend's swatches alike."""
    from matplotlib.figure import Figure

    from napari_tlreg import report

    rows = [{"t": t, "mse": 0.1 * t, "mse_before": 0.2 * t, "folding_pct": 0.0} for t in range(4)]
    fig = Figure()
    axes = report.draw_metrics(fig, {"a": rows, "b": rows, "c": rows, "d": rows}, ["mse"])
    ax = next(iter(axes))
    curves = [ln for ln in ax.get_lines() if ln.get_label() in "abcd"]
    assert len(curves) == 4
    styles = {(ln.get_marker(), ln.get_linestyle()) for ln in curves}
    assert len(styles) == 4 and len({ln.get_marker() for ln in curves}) == 4


def test_csv_cells_that_read_as_formulas_are_written_as_text(tmp_path):
    """(2026-12-05, hostile files review) A file named =cmd|' /C calc'!A0.npz put its name and its error into a batch
    summary's cells as a formula a spreadsheet runs; a method named so, into a report's. Numbers stay numbers."""
    import csv

    from napari_tlreg import report
    from napari_tlreg.batch import write_summary

    write_summary([{"name": '=HYPERLINK("http://x","y")', "status": "failed", "frames": -3,
                    "error": "=cmd|' /C calc'!A0.npz: not a NumPy .npy/.npz file"}], tmp_path)
    with open(tmp_path / "summary.csv", newline="") as f:
        row = next(csv.DictReader(f))
    assert row["name"] == '\'=HYPERLINK("http://x","y")' and row["error"].startswith("'=cmd|")
    assert row["frames"] == "-3" and row["status"] == "failed"
    report._write_csv(tmp_path / "r.csv", [{"method": "@SUM(A1)", "t": 0, "mse": -0.5, "a": "-2+3", "b": "-2.5",
                                             "c": "+inf", "d": "x-y"}])
    with open(tmp_path / "r.csv", newline="") as f:
        row = next(csv.DictReader(f))
    assert row == {"method": "'@SUM(A1)", "t": "0", "mse": "-0.5", "a": "'-2+3", "b": "-2.5", "c": "+inf", "d": "x-y"}


def test_a_saved_folder_is_traced_to_its_source_and_a_report_names_the_sequence(tmp_path, capsys, recwarn):
    """(2026-12-06, interfaces review) A folder ``RegistrationResult.save`` wrote has no metrics.json: `evaluate` found
    no annotations ("none ... readable from its source", though result.json records it); the CLI's report.json named
    the result folders as its source, the viewer's the sequence."""
    import napari_tlreg as tl
    from napari_tlreg.cli import main

    seq = tl.load_sequence("cardiac")
    res = tl.register(seq, method="tlrn")
    assert res.provenance["source"] == "cardiac"
    res.save(tmp_path / "saved")
    assert not (tmp_path / "saved" / "metrics.json").exists()
    assert report.recorded(tmp_path / "saved")[0] == "cardiac"
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "saved"), "--report", str(tmp_path / "rep")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["dice"] > 0.8, summary  # the sample's own labels, found through result.json
    doc = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert doc["source"] == "cardiac" and doc["result_folders"] == [str(tmp_path / "saved")]


def test_evaluate_says_when_the_reference_has_no_annotations():
    """(2026-12-06, interfaces review) Labels drawn on frames other than the reference (ED/ES contours, reference 0):
    the API's table was NaN Dice on every frame without a word (the CLI, batch and the viewer said it)."""
    lab = _labels()
    lab[0] = 0  # nothing on the reference
    res = _result(1.0)
    with pytest.warns(UserWarning, match=r"^the reference frame \(0\) has no labels"):
        rows = M.evaluate(res, labels=lab)
    assert all(math.isnan(r["dice"]) for r in rows)
    said = []
    M.evaluate(res, labels=lab, landmarks=_landmarks()[_landmarks()[:, 1] != 0], on_warning=said.append)
    assert len(said) == 2 and said[1].startswith("no landmark lies on the reference frame (0)")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        M.evaluate(res, labels=_labels(), landmarks=_landmarks())  # annotated reference: nothing said
        report.per_frame_tables({"r": res}, labels=lab)  # said by the tables' callers, not twice


def test_evaluate_report_takes_the_folders_own_tables(tmp_path, capsys, monkeypatch):
    """(2026-12-06, profiling review) `evaluate FOLDERS --report` evaluated and drew every result twice (once for each
    folder's metrics, once for the report: 40 % of its time). The report takes the folders' rows where they were
    scored with its annotations, and its files are those it wrote before."""
    from napari_tlreg.cli import main
    from napari_tlreg.io import save_stack

    a, b = tmp_path / "truth", tmp_path / "half"
    _result(1.0, "truth").save(a)
    _result(0.5, "half").save(b)
    save_points_csv(tmp_path / "lm.csv", _landmarks())
    save_stack(tmp_path / "lab.tif", _labels())
    given = ["--landmarks", str(tmp_path / "lm.csv"), "--labels", str(tmp_path / "lab.tif")]
    from napari_tlreg.io import load_points_csv as read_points
    from napari_tlreg.io import load_sequence

    labels = load_sequence(str(tmp_path / "lab.tif")).frames.astype(np.int32)
    report.export_report([RegistrationResult.load(a), RegistrationResult.load(b)], tmp_path / "twice", labels=labels,
                         landmarks=read_points(tmp_path / "lm.csv"))  # evaluated for the report itself
    calls = []
    real = report.per_frame_tables
    monkeypatch.setattr(report, "per_frame_tables", lambda *x, **k: calls.append(1) or real(*x, **k))
    assert main(["evaluate", str(a), str(b), *given, "--report", str(tmp_path / "once")]) == 0
    assert calls == []  # not evaluated again for the report
    for name in ("per_frame.csv", "summary.csv", "tre.csv", "landmark_pairs.csv"):
        assert (tmp_path / "once" / name).read_bytes() == (tmp_path / "twice" / name).read_bytes(), name
    # a folder scored with annotations of its own (not the report's): the report evaluates them all again
    c = tmp_path / "own"
    _result(0.5, "half").save(c)
    assert main(["evaluate", str(c), "--landmarks", str(tmp_path / "lm.csv")]) == 0  # it keeps these landmarks
    assert main(["evaluate", str(a), str(c), "--report", str(tmp_path / "mixed")]) == 0
    assert calls == [1]
    capsys.readouterr()


def test_evaluate_refuses_a_folder_it_cannot_write_before_the_work(tmp_path, monkeypatch):
    """(2026-12-06, write-failure review) On a read-only mount `evaluate FOLDER` computed everything (4.3 s), then
    failed naming its hidden `.metrics-tmp`; register --out and --report refused such a place at once."""
    from napari_tlreg.io import writers

    _result(1.0, "truth").save(tmp_path / "r")
    real = writers._writable
    monkeypatch.setattr(writers, "_writable", lambda folder: folder != tmp_path / "r" and real(folder))
    monkeypatch.setattr(report, "metrics_tables", lambda *a, **k: pytest.fail("evaluated before the refusal"))
    with pytest.raises(PermissionError, match=rf"metrics.json: cannot be written: {tmp_path / 'r'} does not let us"):
        report.write_evaluation(RegistrationResult.load(tmp_path / "r"), tmp_path / "r")


def test_the_montage_leaves_pyplot_alone(tmp_path):
    """(2026-12-06, diff review) The viewer's "save result…" writes the montage too, which set pyplot's backend to
    Agg: the user's plt.show() in napari's console opened no window for the rest of the session. The montage is a
    Figure of its own now; pyplot is not even imported."""
    import subprocess
    import sys

    _result(1.0, "truth").save(tmp_path / "r")
    code = ("import sys\nfrom napari_tlreg import report\nfrom napari_tlreg.result import RegistrationResult\n"
            f"report.save_montage(RegistrationResult.load({str(tmp_path / 'r')!r}), {str(tmp_path / 'm.png')!r})\n"
            "print('matplotlib.pyplot' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False" and (tmp_path / "m.png").stat().st_size > 10_000


def test_the_montage_keeps_its_colour_bar_label(tmp_path):
    """(satellite review) On a pair (two columns) the colour bar's label "det(I+∇u)" was cut at the montage's right edge
    (it ran 6 px past the figure). The PNG spans every artist, the label included."""
    from PIL import Image

    import napari_tlreg as tl
    from napari_tlreg.result import RegistrationResult

    rng = np.random.default_rng(0)
    frames = rng.random((2, 64, 64)).astype(np.float32)
    u = np.zeros((2, 2, 64, 64), np.float32)
    u[1, 0] = (np.linspace(0, 1.28, 64) * np.linspace(0, 1, 64))[:, None]
    res = RegistrationResult(frames=frames, warped=np.asarray(tl.warp(frames[0], u)), displacement=u,
                             jacobian=np.asarray(tl.jacobian_determinant(u)), method="x")
    fig = report.montage_figure(res)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    (bar,) = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    label = bar.yaxis.label.get_window_extent(renderer)
    tight = fig.get_tightbbox(renderer)  # inches
    assert tight.x1 * fig.dpi >= label.x1 - 0.5
    report.save_montage(res, tmp_path / "m.png")
    width = Image.open(tmp_path / "m.png").size[0]
    assert abs(width - (tight.width + 0.2) * 110) <= 3, (width, tight.width)  # the tight box (+ 0.1 in a side)


def test_a_frame_time_goes_from_the_file_to_the_tables_and_plots(tmp_path):
    """(2026-12-06) The reader's frame time (a DICOM's FrameTime) was read and dropped: the tables and the plots'
    axis were in frames only, where a cardiologist reads milliseconds since the first frame."""
    import napari_tlreg as tl
    from napari_tlreg._hooks import sequence_to_layers
    from napari_tlreg.core.arrays import frame_time_ms
    from napari_tlreg.io import Sequence

    res = _result()
    seq = Sequence(frames=res.frames, metadata={"frame_time_ms": 40.0, "source": "cine.dcm"})
    assert sequence_to_layers(seq)[0][1]["metadata"]["napari_tlreg"]["frame_time_ms"] == 40.0
    out = tl.register(seq, method="tlrn")
    assert out.provenance["frame_time_ms"] == 40.0
    report.write(out, tmp_path / "res")
    rows = _read_csv(tmp_path / "res" / "metrics.csv")
    assert list(rows[0])[:2] == ["t", "time_ms"] and [r["time_ms"] for r in rows] == ["0.0", "40.0", "80.0", "120.0"]
    assert json.loads((tmp_path / "res" / "metrics.json").read_text())["frame_time_ms"] == 40.0
    import tifffile

    for name in ("warped.tif", "displacement.tif"):  # Fiji's frame interval, in seconds (the field's TCYX too)
        with tifffile.TiffFile(tmp_path / "res" / name) as f:
            assert f.imagej_metadata["finterval"] == pytest.approx(0.04), name
    # the montage's columns say their times; the reports' parameters say a mask's size, not its 12,800 characters
    from napari_tlreg.core.region import encode_mask

    fig = report.montage_figure(out)
    assert [ax.get_title() for ax in fig.axes[:2]] == ["t=0, 0 ms (ref)", "t=1, 40 ms"]
    mask = np.zeros(res.frames.shape[1:], bool)
    mask[2:10, 3:9] = True
    masked = RegistrationResult(**{**{k: getattr(res, k) for k in ("frames", "warped", "displacement", "jacobian",
                                                                    "method")}, "params": {"mask": encode_mask(mask)}})
    assert report.readable_params(masked.params) == {"mask": f"mask: 48 of {H}x{W} px (the whole mask in result.json)"}
    report.write(masked, tmp_path / "masked", montage=False)
    assert json.loads((tmp_path / "masked" / "metrics.json").read_text())["params"]["mask"].startswith("mask: 48 of")
    assert json.loads((tmp_path / "masked" / "result.json").read_text())["params"]["mask"] == encode_mask(mask)
    rep = report.export_report({"m": masked}, tmp_path / "masked_rep")
    assert json.loads((rep / "report.json").read_text())["results"][0]["params"]["mask"].startswith("mask: 48 of")
    again = RegistrationResult.load(tmp_path / "res")
    assert report.frame_time_ms(again) == 40.0  # kept in result.json: a report of the folder has it too
    rep = report.export_report({"a": again}, tmp_path / "rep")
    per = _read_csv(rep / "per_frame.csv")
    assert list(per[0])[:3] == ["method", "t", "time_ms"] and per[-1]["time_ms"] == "120.0"
    assert json.loads((rep / "report.json").read_text())["frame_time_ms"] == 40.0
    # given by the caller (the viewer: the image's), it wins over none
    rep2 = report.export_report({"a": again}, tmp_path / "rep2", frame_ms=25.0)
    assert _read_csv(rep2 / "per_frame.csv")[1]["time_ms"] == "25.0"
    # without one: no column, and the axis says frames
    rep3 = report.export_report({"a": res}, tmp_path / "rep3")
    assert "time_ms" not in _read_csv(rep3 / "per_frame.csv")[0]
    from matplotlib.figure import Figure

    fig = Figure()
    axes = report.draw_metrics(fig, report.per_frame_tables({"a": again}), frame_ms=40.0)
    assert {ax.get_xlabel() for ax in axes} - {""} == {"frame (40 ms apart)"}
    # every panel drawn here is lower-is-better: the legend says that alone (it said "↑ higher is better" too)
    assert set(axes.values()) <= {"mse", "folding"} and fig.legends[0].get_title().get_text() == "↓ lower is better"
    axes = report.draw_metrics(fig, report.per_frame_tables({"a": again}))
    assert {ax.get_xlabel() for ax in axes} - {""} == {"frame"}
    # what a reader may hand over that is no time between frames
    for bad in (0, -5.0, float("nan"), float("inf"), True, "40", None):
        assert frame_time_ms({"frame_time_ms": bad}) is None
    assert frame_time_ms({"frame_time_ms": np.float32(33.5)}) == 33.5 and frame_time_ms(None) is None


def test_the_apis_reports_name_the_source_the_results_were_read_from(tmp_path):
    """(2026-12-06, interoperability review) `report.write` and `export_report` from Python wrote "source": null
    beside a result whose provenance named its file (the CLI passes it)."""
    res = _result()
    res.provenance["source"] = "/data/cine.nii.gz"
    report.write(res, tmp_path / "res", montage=False)
    assert json.loads((tmp_path / "res" / "metrics.json").read_text())["source"] == "/data/cine.nii.gz"
    rep = report.export_report({"a": _result(), "b": res}, tmp_path / "rep")
    assert json.loads((rep / "report.json").read_text())["source"] == "/data/cine.nii.gz"
    rep = report.export_report({"a": res}, tmp_path / "rep2", source="given")  # the caller's wins
    assert json.loads((rep / "report.json").read_text())["source"] == "given"


def test_a_curve_of_a_few_scored_frames_names_them():
    """(2026-12-07, echo user review) Landmarks on frames 0 and 10 only: the TRE panel showed one dot with no frame
    number (the shared x axis numbers the lowest panels only). A curve of at most 3 scored frames among unscored ones
    writes each point's frame beside it; a curve scored on every frame does not."""
    from matplotlib.figure import Figure

    lm = _landmarks()
    sparse = lm[np.isin(lm[:, 1], [0, 3])]  # the reference's and frame 3's landmarks only
    tables = report.per_frame_tables({"truth": _result(1.0)}, landmarks=sparse)
    texts = {m: [t.get_text() for t in ax.texts] for ax, m in report.draw_metrics(Figure(), tables).items()}
    assert texts["tre"] == ["t=3"] and texts["mse"] == [], texts
    apart = lm[np.isin(lm[:, 1], [0, 1, 3])]  # frames 1 and 3, apart: both named
    tables = report.per_frame_tables({"truth": _result(1.0)}, landmarks=apart)
    texts = {m: [t.get_text() for t in ax.texts] for ax, m in report.draw_metrics(Figure(), tables).items()}
    assert texts["tre"] == ["t=1", "t=3"], texts
    tables = report.per_frame_tables({"truth": _result(1.0), "half": _result(0.5)}, landmarks=apart)
    texts = {m: [t.get_text() for t in ax.texts] for ax, m in report.draw_metrics(Figure(), tables).items()}
    assert texts["tre"] == ["t=1", "t=3"], texts  # (diff review) once a frame: each method's fell on the other's


def test_a_pair_of_frames_has_its_values_written(shift_engine):
    """(2026-12-07, UX review) A pair of dates: each panel one dot a method and one grey cross, the cross against the
    top edge and under the frame marker, no value to read. The values are written beside their points."""
    from matplotlib.figure import Figure

    import napari_tlreg as tl

    rng = np.random.default_rng(0)
    a = rng.random((32, 32)).astype(np.float32)
    res = tl.register(np.stack([a, np.roll(a, 2, axis=0)]), method=shift_engine)
    tables = report.per_frame_tables({"shift": res})
    axes = report.draw_metrics(Figure(), tables, current=1)
    texts = {m: [t.get_text() for t in ax.texts] for ax, m in axes.items()}
    mse = tables["shift"][1]
    assert texts["mse"] == [f"{mse['mse']:.3g}", f"{mse['mse_before']:.3g}"], (texts, mse)


def test_the_montage_outlines_each_propagated_label(tmp_path):
    """(2026-12-07, CLI review) The montage drew one outline around every label at once (labels > 0): the cavity
    inside the myocardium had none. Each label id has its own, in its own colour."""
    import napari_tlreg as tl

    seq = tl.load_sequence("cardiac")
    res = tl.register(seq.frames[:4], method="voxelmorph")
    propagated = res.warp_labels(seq.labels[0])
    propagated[1][propagated[1] == 1] = 0  # label 1 lost on frame 1: label 2 keeps its colour there
    fig = report.montage_figure(res, propagated=propagated)

    def colours(ax):
        return [tuple(np.round(c.get_edgecolor()[0][:3], 3)) for c in ax.collections]

    assert len(colours(fig.axes[0])) == 2 and len(set(colours(fig.axes[0]))) == 2  # myocardium and cavity
    assert colours(fig.axes[1]) == colours(fig.axes[0])[1:]  # (a colour by order on each frame gave it label 1's)
