"""No-data of satellite dates (a 0 border, a 65535 fill) in the intensity scaling and in ``evaluate``'s image match:
left out where it lies apart from the data's values; a fill the data share (an echo's black fan) is kept as it was."""
from __future__ import annotations

import json

import numpy as np
import pytest

import napari_tlreg as tl
from napari_tlreg.core.nodata import apart_fill, data_pixels
from napari_tlreg.io.bundled import load_sample
from napari_tlreg.core.normalize import FIND, intensity_range, normalize, normalize_sequence
from napari_tlreg.metrics import evaluate, summarize
from napari_tlreg.synth.satellite import satellite_pair


@pytest.fixture(scope="module")
def land():
    """A pair of 16-bit dates, land at 500-3000 digital numbers, and its true motion."""
    seq = satellite_pair(size=160, seed=4, n_landmarks=0)
    f = seq.frames.astype(np.float32)
    return 500 + 2500 * (f - f.min()) / (f.max() - f.min())


def _filled(f, fill, where):
    g = f.copy()
    g[where] = fill
    return g.astype(np.uint16)


@pytest.mark.parametrize("fill, where", [(0, np.s_[:, :, :30]), (65535, np.s_[1:, :24, :])])
def test_a_fill_apart_from_the_data_does_not_squeeze_the_land(land, fill, where):
    g = _filled(land, fill, where)
    lo, hi = intensity_range(g, fill=FIND)
    assert lo == pytest.approx(np.percentile(land, 1), rel=0.02) and hi == pytest.approx(np.percentile(land, 99), rel=0.02)
    scaled = normalize_sequence(g, fill=FIND)
    inside = scaled[:, 40:, 40:]  # land only
    # before: the 0 border put the land at [0.2, 1], the 65535 fill at [0, 0.035] (256 px, a 40-column border)
    assert inside.min() == 0.0 and inside.max() == 1.0
    assert np.all(scaled[where] == (0.0 if fill == 0 else 1.0))  # the fill clipped to an end
    assert normalize(g, 0, "auto", fill=FIND)[1] == "sequence"  # no "flicker" read into a fill
    assert intensity_range(g) == tuple(float(v) for v in np.percentile(g.astype(np.float32), [1, 99]))  # the default


def test_a_fill_the_data_share_is_kept_as_before():
    echo = load_sample("echo").frames.astype(np.float32)  # black outside the fan, and black speckle inside
    assert not data_pixels(echo).all()  # its fan's outside is no-data to the pair engines ...
    assert apart_fill(echo) is None  # ... but data pixels take its value
    assert intensity_range(echo, fill=FIND) == tuple(float(v) for v in np.percentile(echo, [1, 99]))
    inside = np.full((2, 64, 64), 0.0, np.float32)  # a 0 border beside data that reaches 0 too
    inside[:, 20:, 20:] = np.random.default_rng(0).uniform(0, 10, (2, 44, 44))
    inside[:, 30, 30] = 0.0
    assert not data_pixels(inside).all() and apart_fill(inside) is None


def test_data_pixels_finds_a_border_fill_not_a_dark_spot(land):
    g = _filled(land, 0, np.s_[:, :, :30]).astype(np.float32)
    g[:, 80:84, 80:84] = 0  # a dark spot inside the scene: data
    v = data_pixels(g)
    assert not v[:, :, :30].any() and v[:, :, 30:].all()


def test_evaluate_leaves_a_pair_engines_no_data_out(land, tmp_path):
    clean = tl.register(land.astype(np.uint16), method="multistep")
    gain = lambda r: 1 - summarize(evaluate(r))["mse"] / summarize(evaluate(r))["mse_before"]  # noqa: E731
    g = _filled(land, 0, np.s_[:, :, :30])
    res = tl.register(g, method="multistep")
    rows = evaluate(res)
    assert all(r["data_only"] for r in rows)
    # counted, the border's pixels matched by anything took the gain from the land's to less
    assert gain(res) == pytest.approx(gain(clean), abs=0.03)
    whole = summarize(evaluate(res, mask=None))
    assert "data_only" not in evaluate(res, mask=None)[0] and whole["mse_before"] < summarize(rows)["mse_before"]
    # no mask_nodata (or none found): as before
    assert "data_only" not in evaluate(clean)[0]
    # (2026-12-07, satellite review) metrics.json and report.json said "whole frame" over figures of the data only
    from napari_tlreg.report import export_report, write_metrics

    compared = int(res.data_region.sum())
    for k, (r, said) in enumerate(((res, f"whole frame, no-data left out of the MSE and local CC: {compared} of "
                                         f"{'x'.join(map(str, g.shape))} px compared"), (clean, "whole frame"))):
        (tmp_path / f"m{k}").mkdir()
        write_metrics(r, tmp_path / f"m{k}")
        assert json.loads((tmp_path / f"m{k}" / "metrics.json").read_text())["mse_lncc_region"] == said
        export_report({"pair": r}, tmp_path / f"rep{k}")
        assert json.loads((tmp_path / f"rep{k}" / "report.json").read_text())["results"][0]["mse_lncc_region"] == said
    assert res.data_region is not None and not res.data_region[:, :, :30].any()


def test_the_overlay_shows_no_grid_nor_warped_reference_over_a_dates_no_data(land):
    from napari_tlreg import display as L

    g = _filled(land, 0, np.s_[1:, :, :30])  # the second date's border
    res = tl.register(g, method="multistep")
    assert res.data_region is not None and not res.data_region[1, :, :30].any()
    layers = {kw["name"]: data for data, kw, _ in L.result_layers(res, "pair")[0]}
    warped, grid, arrows = layers["pair warped reference"], layers["pair grid"], layers["pair displacement"]
    # before: the land warped onto the border read magenta (misaligned) and the grid ran over it
    assert not warped[1, :, :30].any() and warped[1, :, 40:].any()
    fine = grid.shape[-1] // warped.shape[-1]  # the grid: drawn on a raster finer than small frames'
    assert fine == L.grid_fineness(warped.shape) and not grid[1, :, :30 * fine].any() and grid[1, :, 40 * fine:].any()
    on_border = (arrows[:, 0, 0] == 1) & (arrows[:, 0, 2] < 30)
    assert not on_border.any() and ((arrows[:, 0, 0] == 1) & (arrows[:, 0, 2] >= 40)).any()
    assert ((arrows[:, 0, 0] == 0) & (arrows[:, 0, 2] < 30)).any()  # the reference has data there
    checker = L.warped_layer(res, "pair", checker=True)[0]
    assert np.isfinite(checker).all()
    # (session 51 review) nor a Jacobian over it: the field guessed there drew stripes read as ground that moved, and
    # set the colour scale; in the viewer and in the report's montage alike
    jac_kw = {kw["name"]: kw for _, kw, _ in L.result_layers(res, "pair")[0]}["pair jacobian"]
    jac = layers["pair jacobian"]
    assert np.isnan(jac[1, :, :30]).all() and np.isfinite(jac[1, :, 40:]).all() and np.isfinite(jac[0]).all()
    assert jac_kw["contrast_limits"] == L.jacobian_limits(np.where(res.data_region, res.jacobian, np.nan))
    from napari_tlreg.report import montage_figure

    fig = montage_figure(res)
    shown = [ax.images[0].get_array() for ax in fig.axes if ax.get_ylabel().startswith("Jacobian")]
    assert "(no-data grey)" in [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel().startswith("Jacobian")][0]
    assert len(shown) == 1  # the first column's axis holds the row label: frame 0
    cols = [ax for ax in fig.axes if ax.images and ax.get_subplotspec() is not None
            and ax.get_subplotspec().rowspan.start == 3]
    second = np.ma.getmaskarray(cols[1].images[0].get_array())
    assert second[:, :30].all() and not second[:, 40:].all()


def test_a_sliver_of_the_fill_along_an_edge_does_not_make_it_shared(land):
    """(Session 45 review) one row of 0 along the top edge beside a 30-column 0 border: the erosion of data_pixels
    kept the row as data, its 0 set the data's range at the fill's value, and the land was scaled from 0 again."""
    g = _filled(land, 0, np.s_[:, :, :30])
    expected = intensity_range(g, fill=FIND)
    g[:, 0, :] = 0
    assert apart_fill(g) is not None and apart_fill(g)[:, 0, :].all()
    assert intensity_range(g, fill=FIND) == pytest.approx(expected, rel=0.01)
    g = _filled(land, 0, np.s_[:, :, :30])
    g[:, :, 31] = 0  # a one-column gap between the border and the data
    assert apart_fill(g)[:, :, 31].all() and intensity_range(g, fill=FIND) == pytest.approx(expected, rel=0.01)


def test_a_frame_all_but_all_fill_is_judged_without_numpy_warnings(land):
    import warnings

    big = np.tile(land, (1, 7, 7))[:, :1024, :1024]
    g = np.stack([big[0], big[1], big[0]]).astype(np.uint16)
    g[1, :, 3:] = 0  # 3 columns of data: the judge's subsample (every 4th pixel) holds none of column 1 or 2
    g[1, :, 0] = 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        normalize(g, 0, "auto", fill=FIND)


def test_a_background_the_data_share_is_compared_as_before():
    """(Session 45 review) the echo's black fan outside, taken for no-data, left 46 % of the frame out of a multistep
    result's MSE, 6 % of it where the field had pulled the black in (72 % of its error): it ranked first."""
    echo = load_sample("echo").frames[:4]
    res = tl.register(echo, method="multistep")
    assert res.nodata is None and res.data_region is None and "data_only" not in evaluate(res)[0]


@pytest.mark.parametrize("method", ["multistep", "hsyn"])
def test_the_pair_engines_leave_the_no_data_out_and_keep_it_in_their_folder(land, method, tmp_path):
    g = _filled(land, 0, np.s_[1:, :, :30])
    res = tl.register(g, method=method)
    assert res.nodata is not None and res.nodata[1, :, :30].all() and not res.nodata[0].any()
    rows = evaluate(res)
    # the border (0 against land) counted: a larger MSE before, whatever the field does there
    assert rows[1]["data_only"] and evaluate(res, mask=None)[1]["mse_before"] > 1.1 * rows[1]["mse_before"]
    back = tl.RegistrationResult.load(res.save(tmp_path / "r"))
    np.testing.assert_array_equal(back.nodata, res.nodata)
    np.testing.assert_array_equal(back.data_region, res.data_region)
    assert evaluate(back)[1]["mse"] == pytest.approx(rows[1]["mse"])
    off = tl.register(g, method=method, mask_nodata=False)  # the engines told not to mask it: nothing left out
    assert off.nodata is None and "data_only" not in evaluate(off)[1]


def test_the_other_methods_take_the_frames_as_before(land, tmp_path):
    """(Session 45 reviews) the methods that do not mask no-data keep the scale and the comparison of every pixel: a
    fill cannot be told from an exact-0 background by its values (dense cells cut by the frame's edges, a body's air),
    and left out there it hid wrong fields from the worse-than-none check."""
    g = _filled(land, 0, np.s_[1:, :, :30])
    res = tl.register(g, method="voxelmorph")
    assert res.nodata is None and res.data_region is None and "data_only" not in evaluate(res)[1]
    np.testing.assert_array_equal(res.frames, normalize(g, 0, "auto", fill=None)[0])
    # scaled otherwise than a pair engine's result of the same dates, it still shares a report with it
    from napari_tlreg.report import export_report

    pair = tl.register(g, method="multistep")
    assert pair.nodata is not None and not np.allclose(pair.frames, res.frames)
    with pytest.warns(UserWarning, match="compare them within a result, not between") as said:  # (their MSE: other pixels)
        export_report({"multistep": pair, "voxelmorph": res}, tmp_path / "report")
    assert (tmp_path / "report" / "summary.csv").is_file() and "voxelmorph: whole frame" in str(said[0].message)
    # two pair engines' no-data left out, by where each warps the fill a few pixels apart: one kind of region, unsaid
    # (satellite review: every report of them warned)
    both = _filled(land, 0, np.s_[:, :, :30])  # the reference's fill too: warped by each field
    first, other = tl.register(both, method="multistep"), tl.register(both, method="hsyn")
    assert other.data_region.sum() != first.data_region.sum()
    quiet: list[str] = []
    export_report({"multistep": first, "hsyn": other}, tmp_path / "pairs", on_warning=quiet.append)
    assert quiet == []


def test_no_data_is_grey_in_the_viewer_and_the_montage(land):
    """(Session 45 review) blanked warped reference over a date's fill left the frame's green there: "a misalignment"
    by the legend; the montage's |frame - warped| row showed the fill as its largest error."""
    from napari_tlreg import display as L
    from napari_tlreg.report import montage_figure

    g = _filled(land, 0, np.s_[1:, :, :30])
    res = tl.register(g, method="multistep")
    made = {kw["name"]: (data, kw, kind) for data, kw, kind in L.result_layers(res, "pair")[0]}
    data, kw, kind = made["pair no data"]
    assert kind == "labels" and data[1, :, :30].all() and not data[1, :, 40:].any() and not data[0, :, 40:].any()
    assert kw["colormap"][1] == L.NODATA_COLOR and kw["opacity"] == 1.0  # (at 0.85 a bright fill showed green through)
    names = list(made)
    assert names.index("pair folds") < names.index("pair no data") < names.index("pair grid")  # SUFFIXES' order
    clean = tl.register(land.astype(np.uint16), method="multistep")
    assert not any(kw["name"].endswith(L.NODATA) for _, kw, _ in L.result_layers(clean, "p")[0])
    fig = montage_figure(res)
    panels = [ax for ax in fig.axes if ax.images and ax.get_subplotspec() is not None]
    ncols = panels[0].get_subplotspec().get_gridspec().ncols
    diff = panels[2 * ncols + 1].images[0].get_array()  # |frame - warped| at t = 1
    assert np.ma.is_masked(diff) and diff.mask[:, :30].all() and not diff.mask[:, 40:].any()
    assert "no-data grey" in panels[2 * ncols].get_ylabel()


def test_the_plots_draw_each_results_baseline_where_they_differ():
    """(Session 45 review) one grey "before registration" curve, the first result's (measured with the no-data left
    out), drawn under another's measured on every pixel: that one read as worse than no registration."""
    from matplotlib.figure import Figure

    from napari_tlreg.report import draw_metrics

    a = [{"t": 0, "is_reference": True, "mse": 0.0, "mse_before": 0.0},
         {"t": 1, "is_reference": False, "mse": 0.015, "mse_before": 0.019, "data_only": True}]
    b = [{"t": 0, "is_reference": True, "mse": 0.0, "mse_before": 0.0},
         {"t": 1, "is_reference": False, "mse": 0.039, "mse_before": 0.046}]
    fig = Figure()
    ax = next(iter(draw_metrics(fig, {"multistep": a, "nmsr": b}, ["mse"])))
    labels = [line.get_label() for line in ax.get_lines()]
    assert "multistep before registration" in labels and "nmsr before registration" in labels
    ax = next(iter(draw_metrics(fig, {"multistep": a, "again": a}, ["mse"])))
    assert [line.get_label() for line in ax.get_lines()].count("before registration") == 1


def test_a_quantised_images_lowest_level_is_no_fill():
    """(Session 45) the regimes benchmark's 8 grey levels: the dark background, its lowest level, all of it joined to
    the border, lay below the rest of the data by one level and was taken for a fill (13 % of the pixels left out)."""
    import sys

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
    from benchmarks.regimes import cases

    frames, _, _ = cases()["base, 8 grey levels"]
    assert not data_pixels(frames).all()  # the pair engines' mask takes the background out of their losses
    assert apart_fill(frames) is None
    levels = np.round(land_like := np.linspace(0, 1, 64 * 64).reshape(1, 64, 64) * 7) / 7  # noqa: F841
    g = np.concatenate([levels, levels]).astype(np.float32)
    g[:, :, :12] = -1.0  # a fill 7 levels below: apart
    assert apart_fill(g) is not None and apart_fill(g)[:, :, :12].all()


def test_a_summary_says_where_its_image_match_was_taken():
    """(Session 45 review) summary.csv and evaluate's printed summary put a result with its no-data left out beside
    one measured on every pixel, unmarked."""
    rows = [{"t": 0, "is_reference": True, "mse": 0.0, "data_only": True},
            {"t": 1, "is_reference": False, "mse": 0.02, "data_only": True}]
    assert summarize(rows)["data_only"] is True and "in_mask" not in summarize(rows)
    assert "data_only" not in summarize([{k: v for k, v in r.items() if k != "data_only"} for r in rows])


def _cells(t_frames=6, moving=True, radii=None):
    """uint16 cells (1500 +- 60 counts) on an exact-0 background: islands in the frame."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:96, :96]
    radii = radii or [42] * t_frames
    return np.array([np.clip((np.hypot(yy - 45 - (3 * t if moving else 0), xx - 48) < radii[t])
                             * (1500 + rng.normal(0, 60, (96, 96))), 0, None) for t in range(t_frames)]).astype(np.uint16)


def test_a_cell_on_an_exact_zero_is_no_fill_and_a_wrong_field_is_still_said():
    """(Session 45 regression review) a cell on an exact-0 background (40 % of the frame) was taken for land beside a
    fill: the misaligned rim, the only sign of a wrong field, was left out of evaluate and of the worse-than-none
    check (a field 6 px the wrong way read better than none), and a cell that grew and shrank was "flicker"."""
    from napari_tlreg.core.normalize import brightness_changes

    raw = _cells(3)
    assert not data_pixels(raw).all() and apart_fill(raw) is None  # the pair engines' mask takes it; no fill
    x = normalize(raw)[0]
    u = np.zeros((3, 2, 96, 96), np.float32)
    u[:, 0] = np.array([3.0 * t for t in range(3)])[:, None, None]  # the wrong way (the truth is -3 t)
    warped = np.asarray(tl.warp(np.broadcast_to(x[0], x.shape).copy(), u))
    res = tl.RegistrationResult(frames=x, warped=warped, displacement=u, jacobian=np.ones((3, 96, 96), np.float32),
                                method="multistep", params={"mask_nodata": True}, nodata=apart_fill(raw))
    assert res.data_region is None and all(r["mse"] > r["mse_before"] for r in evaluate(res)[1:])
    sizes = _cells(6, moving=True, radii=[20, 22, 22, 20, 18, 18])
    assert apart_fill(sizes) is None and normalize(sizes, 0, "auto", fill=FIND)[1] == "sequence"
    assert max(shift for _, shift in brightness_changes(sizes, fill=FIND).values()) < 0.01


def test_a_rotated_scenes_corners_are_a_fill_and_a_cell_touching_the_edge_is_not():
    """A rotated scene's footprint: its data touch the frame's edge at four points only, its fill four corners (a
    Landsat scene's black corners); a cell cut by the frame's edge keeps one background round it."""
    from scipy import ndimage

    land = 500 + 2500 * ndimage.gaussian_filter(np.random.default_rng(1).random((2, 128, 128)), 2)
    rr, cc = np.mgrid[:128, :128] - 63.5
    scene = np.abs(rr) + np.abs(cc) < 66  # a square turned 45 degrees, its corners on the edges (5 px of each)
    g = np.where(scene, land, 0).astype(np.uint16)
    assert apart_fill(g) is not None and apart_fill(g)[:, ~scene].all()
    cell = (np.hypot(rr - 40, cc) < 30)  # cut by the bottom edge
    g = np.where(cell, land, 0).astype(np.uint16)
    assert apart_fill(g) is None


# ---- the user's no-data value (2026-12-06): where the rule on values and shape errs ----------------------------------
def _in_canvas(land, fill=65535, pad=24):
    """The dates inside a canvas of ``fill`` all round (not apart: the fill surrounds the scene, which is not found)."""
    t, h, w = land.shape
    g = np.full((t, h + 2 * pad, w + 2 * pad), fill, np.uint16)
    g[:, pad:pad + h, pad:pad + w] = land.round().astype(np.uint16)
    return g


@pytest.mark.parametrize("method", ["multistep", "hsyn"])
def test_a_no_data_value_given_is_the_fill_everywhere(land, method, monkeypatch, tmp_path):
    """A scene inside a 65535 canvas is no fill :func:`apart_fill` finds (the land squeezed to [0, 0.02] and
    ``evaluate`` -17 % on a right field, session 45's note); ``nodata=65535`` says which pixels are the fill: the
    scaling, the engines' losses, the figures and the saved folder leave exactly those out."""
    from napari_tlreg.engines import pairs

    g = _in_canvas(land)
    auto = tl.register(g, method=method)
    assert auto.nodata is None and auto.frames[:, 30:-30, 30:-30].max() < 0.1  # the land squeezed: not found
    seen = []
    prepare = pairs.prepare_pair
    monkeypatch.setattr(pairs, "prepare_pair", lambda m, f, mask, valid=None: seen.append(valid) or prepare(m, f, mask, valid))
    res = tl.register(g, method=method, nodata=65535)
    fill = g == 65535
    np.testing.assert_array_equal(res.nodata, fill)
    inside = res.frames[:, 30:-30, 30:-30]
    assert inside.min() == 0.0 and inside.max() == 1.0 and res.params["nodata"] == 65535.0
    vm, vf = seen[0]  # the engine's losses took the given fill, not a mask of their own
    np.testing.assert_array_equal(vm[0, 0].cpu().numpy(), ~fill[0])
    np.testing.assert_array_equal(vf[0, 0].cpu().numpy(), ~fill[1])
    rows = evaluate(res)
    assert rows[1]["data_only"] and rows[1]["mse"] < 0.2 * rows[1]["mse_before"]  # the registration's gain shows
    back = tl.RegistrationResult.load(res.save(tmp_path / "r"))
    np.testing.assert_array_equal(back.nodata, fill)
    assert back.params["nodata"] == 65535.0


def test_a_no_data_value_is_checked_and_one_no_pixel_holds_is_said(land, monkeypatch):
    from napari_tlreg.engines import pairs

    g = _in_canvas(land)
    for bad, words in (("sixty", "must be a number"), (True, "finite number"), (float("nan"), "finite number")):
        with pytest.raises(ValueError, match=words):
            tl.register(g, method="multistep", nodata=bad)
    with pytest.raises(ValueError, match="mask_nodata=False leaves none out"):
        tl.register(g, method="hsyn", nodata=0, mask_nodata=False)
    with pytest.raises(ValueError, match="no parameter"):  # the methods that mask no no-data take none
        tl.register(g, method="tlrn", nodata=65535)
    said, seen = [], []
    prepare = pairs.prepare_pair
    monkeypatch.setattr(pairs, "prepare_pair", lambda m, f, mask, valid=None: seen.append(valid) or prepare(m, f, mask, valid))
    border = _filled(land, 0, np.s_[1:, :, :30])  # a 0 border the rule and the engines' own mask would find
    res = tl.register(border, method="hsyn", nodata=-9999, on_warning=said.append)
    assert any("no pixel of the frames equals the no-data value -9999" in s for s in said), said
    assert res.nodata is None  # the user said what the fill is: no other is searched for, by register or the engine
    assert all(bool(v.all()) for v in seen[0])
    assert tl.register(g, method="hsyn", nodata="65535").params["nodata"] == 65535.0  # the viewer's form's text


def test_a_no_data_value_in_float64_frames_is_taken_before_they_are_rescaled(land):
    """``validate_frames`` maps float64 frames onto [0, 1]: the value is compared with the frames as given."""
    g = _in_canvas(land, fill=0).astype(np.float64)
    g[g == 0] = -9999.0
    res = tl.register(g, method="multistep", nodata=-9999.0)
    np.testing.assert_array_equal(res.nodata, g == -9999.0)


def test_the_cli_and_the_viewer_take_a_no_data_value(land, tmp_path, make_napari_viewer, qtbot, notes):
    import tifffile

    from napari_tlreg._widgets.register import RegisterWidget
    from napari_tlreg.cli import main

    g = _in_canvas(land)
    tifffile.imwrite(tmp_path / "dates.tif", g)
    assert main(["register", str(tmp_path / "dates.tif"), "--method", "multistep", "--param", "nodata=65535",
                 "--out", str(tmp_path / "cli")]) == 0
    np.testing.assert_array_equal(tl.RegistrationResult.load(tmp_path / "cli").nodata, g == 65535)

    viewer = make_napari_viewer()
    w = RegisterWidget(viewer)
    viewer.add_image(g, name="dates")
    w.method_combo.setCurrentIndex(w.method_combo.findData("multistep"))
    editor = w.findChild(object, "param_nodata")
    assert editor.placeholderText() == "not set" and "no-data value" in editor.toolTip()
    editor.setText("65535")
    assert w.param_values() == {"nodata": "65535"}
    w.run_btn.click()
    qtbot.waitUntil(lambda: not w.running, timeout=60000)
    assert not [n for n in notes if n[0] == "error"], notes
    assert "dates no data" in viewer.layers
    assert "pixels of its no-data value, 65535" in w.legend.nodata_text.text()  # not "a flat region ... (found)"
    shown = viewer.layers["dates no data"].data.astype(bool)  # the fill, and where the warped reference samples it
    assert shown[g == 65535].all()
    np.testing.assert_array_equal(shown, ~tl.RegistrationResult.load(tmp_path / "cli").data_region)
    # the folder the CLI wrote opens on the image: its frames scaled as the run scaled them, the fill left out
    w.open_result(tmp_path / "cli")
    qtbot.waitUntil(lambda: not w.busy_with_files, timeout=20000)
    assert not [n for n in notes if n[0] == "error" or "other frames" in n[1]], notes  # (it replaces the run's: said)
    assert w.status_label.text().startswith(f"opened {tmp_path / 'cli'}")
    # a folder saved before the runs left a fill out (no nodata.tif; its frames scaled with the fill) opens too: it
    # was refused as "other frames" when the fill was searched for again
    import dataclasses

    border = _filled(land, 0, np.s_[1:, :, :30])
    res = tl.register(border, method="multistep")
    assert res.nodata is not None
    old = dataclasses.replace(res, frames=normalize(border, 0, "auto", fill=None)[0], nodata=None)
    old.save(tmp_path / "old")
    viewer.add_image(border, name="border")
    w.image_combo.setCurrentIndex(w.image_combo.findText("border"))
    notes.clear()
    w.open_result(tmp_path / "old")
    qtbot.waitUntil(lambda: not w.busy_with_files, timeout=20000)
    assert not notes, notes
    assert w.status_label.text().startswith(f"opened {tmp_path / 'old'}")


def _geotiff(path, frames, nodata):
    """A GeoTIFF as GDAL writes a tile with its no-data value (GDAL_NODATA, tag 42113, ASCII) and a 10 m pixel."""
    import tifffile

    tags = [(33550, "d", 3, (10.0, 10.0, 0.0), True), (33922, "d", 6, (0.0, 0.0, 0.0, 500000.0, 4000000.0, 0.0), True),
            (34735, "H", 16, (1, 1, 0, 3, 1024, 0, 1, 1, 1025, 0, 1, 1, 3072, 0, 1, 32633), True)]
    if nodata is not None:
        tags.append((42113, "s", 0, nodata, True))
    tifffile.imwrite(path, frames, extratags=tags)
    return path


def test_a_geotiffs_own_no_data_value_is_taken_and_said(land, tmp_path, capsys):
    """A satellite tile's GeoTIFF says its no-data value (GDAL_NODATA): the reader keeps it, and the pair engines take
    it from the sequence, as NMSR takes its own region (the CLI, batch and ``register(seq)``): a 65535 canvas is then
    left out without a word from the user."""
    from napari_tlreg.batch import register_one
    from napari_tlreg.cli import main
    from napari_tlreg.io import load_sequence

    g = _in_canvas(land)
    path = _geotiff(tmp_path / "dates.tif", g, "65535")
    seq = load_sequence(path)
    assert seq.metadata["nodata"] == 65535.0 and seq.unit == "m"
    for text in ("nan", "none", None):  # a NaN fill (frames with NaN are refused anyway), a word, no tag: none
        assert "nodata" not in load_sequence(_geotiff(tmp_path / f"x{text}.tif", g, text)).metadata
    res = tl.register(seq, method="multistep")
    assert res.params["nodata"] == 65535.0
    np.testing.assert_array_equal(res.nodata, g == 65535)
    assert tl.register(seq.frames, method="multistep").nodata is None  # frames alone: the rule's search, not found
    assert tl.register(seq, method="multistep", mask_nodata=False).nodata is None  # the user's word wins
    assert tl.register(seq, method="multistep", nodata=None).params["nodata"] is None
    assert "nodata" not in tl.register(seq, method="voxelmorph").params

    assert main(["register", str(path), "--method", "hsyn", "--out", str(tmp_path / "cli")]) == 0
    assert "nodata = the file's no-data value, 65535 (--param nodata=VALUE for another" in capsys.readouterr().err
    np.testing.assert_array_equal(tl.RegistrationResult.load(tmp_path / "cli").nodata, g == 65535)
    row = register_one({"name": "dates", "source": str(path)}, "multistep", str(tmp_path / "batch"), montage=False)
    assert row["status"] == "ok" and "nodata = the file's no-data value, 65535" in row["note"], row


def test_a_float_geotiffs_nan_no_data_is_read_as_a_fill_the_engines_leave_out(land, tmp_path):
    """(2026-12-07) A float raster's usual no-data is NaN (GDAL_NODATA "nan": rasterio's, gdalwarp's): every method
    refuses NaN, so the file was refused for the very pixels it says hold no data. The reader fills them with a value
    no data pixel takes, says so, and the pair engines leave them out as they do a 65535 fill; NaN in a file that does
    not say it is no-data is still refused."""
    from napari_tlreg.io import load_sequence

    g = (land / 3000.0).astype(np.float32)  # reflectance-like, 0.17-1
    g[1, :, :20] = np.nan  # a swath edge on the second date
    with pytest.warns(UserWarning, match=r"its no-data value is NaN \(GDAL_NODATA\); its 3200 NaN pixels are read as -9999"):
        seq = load_sequence(_geotiff(tmp_path / "nan.tif", g, "nan"))
    assert seq.metadata["nodata"] == -9999.0 and np.isfinite(seq.frames).all()
    res = tl.register(seq, method="multistep")
    assert res.params["nodata"] == -9999.0
    np.testing.assert_array_equal(res.nodata, np.isnan(g))
    with pytest.raises(ValueError, match="NaN or infinite"):  # no tag: NaN is no value the file names
        tl.register(load_sequence(_geotiff(tmp_path / "bare.tif", g, None)), method="multistep")
    deep = g * 20000 - 15000  # data reach down to -11,667 (span 16,667): the fill lies twice their span below
    with pytest.warns(UserWarning, match="read as -45000"):
        seq = load_sequence(_geotiff(tmp_path / "deep.tif", deep, "NaN"))
    assert seq.metadata["nodata"] == -45000.0 and seq.frames[~np.isnan(g)].min() > -12000
    # (diff review) float16 could not hold its fill (-inf, then refused); data reaching float32's ends fill within it
    with pytest.warns(UserWarning, match="read as"):
        half = load_sequence(_geotiff(tmp_path / "half.tif", g.astype(np.float16), "nan"))
    assert half.metadata["nodata"] == -9999.0 and np.isfinite(half.frames).all()
    huge = g * np.float32(3e38)
    with pytest.warns(UserWarning, match="read as"):
        far = load_sequence(_geotiff(tmp_path / "huge.tif", huge, "nan"))
    assert np.isfinite(far.frames).all() and far.frames.min() == far.metadata["nodata"] < np.nanmin(huge)
    # the viewer's window leaves the fill out, however few pixels hold it (0.8 % of -9999: the land all white)
    from napari_tlreg._hooks import map_window

    few = g.copy()
    few[:, :2, :3] = np.nan
    with pytest.warns(UserWarning, match="read as -9999"):
        seq = load_sequence(_geotiff(tmp_path / "few.tif", few, "nan"))
    assert map_window(seq.frames, -9999.0) == pytest.approx(tuple(np.nanpercentile(few, [0.5, 99.5])), rel=1e-4)
    # dates stacked, each file saying NaN: one fill for both, below both dates' data (one had none, one reached -9000)
    dates = tmp_path / "dates"
    dates.mkdir()
    _geotiff(dates / "d1.tif", g[:1], "nan")
    _geotiff(dates / "d2.tif", (g[1:] * 20000 - 9500).astype(np.float32), "nan")
    with pytest.warns(UserWarning, match="d2.tif: its no-data value is NaN") as said:
        seq = load_sequence(dates)
    assert not [w for w in said if "differ" in str(w.message)]  # "none in d1.tif": it was dropped
    fill = seq.metadata["nodata"]
    assert f"the files' NaN no-data is read as {fill:g} in every one of them" in str(said[-1].message)
    assert fill < -9500 and np.array_equal(seq.frames == fill, np.isnan(g))


def test_stacked_dates_with_other_no_data_values_take_none(land, tmp_path):
    from napari_tlreg.io import load_sequence

    g = _in_canvas(land)
    folder = tmp_path / "dates"
    folder.mkdir()
    _geotiff(folder / "a.tif", g[0], "65535")
    _geotiff(folder / "b.tif", g[1], "65535")
    assert load_sequence(folder).metadata["nodata"] == 65535.0
    _geotiff(folder / "b.tif", g[1], "0")
    with pytest.warns(UserWarning, match="no-data values differ"):
        assert "nodata" not in load_sequence(folder).metadata
    _geotiff(folder / "a.tif", g[0], None)  # the first file has none, the second one: not the second's for both
    with pytest.warns(UserWarning, match="no-data values differ"):
        assert "nodata" not in load_sequence(folder).metadata


def test_the_form_starts_on_the_images_own_no_data_value(land, tmp_path, make_napari_viewer):
    from napari_tlreg._widgets.register import RegisterWidget

    viewer = make_napari_viewer()
    w = RegisterWidget(viewer)
    viewer.open(str(_geotiff(tmp_path / "dates.tif", _in_canvas(land), "65535")), plugin="napari-tlreg")
    viewer.add_image(land, name="plain")
    for name, method, text in (("dates", "multistep", "65535"), ("plain", "multistep", ""), ("dates", "hsyn", "65535")):
        w.image_combo.setCurrentIndex(w.image_combo.findText(name))
        w.method_combo.setCurrentIndex(w.method_combo.findData(method))
        assert w.findChild(object, "param_nodata").text() == text, (name, method)
    assert w.param_values() == {"nodata": "65535"}
    # (diff review) the field is off while mask_nodata is (a value there was refused as a contradiction), and a value
    # the user typed stays when another image is chosen
    mask, editor = w.findChild(object, "param_mask_nodata"), w.findChild(object, "param_nodata")
    mask.setChecked(False)
    assert not editor.isEnabled() and w.param_values() == {"mask_nodata": False}
    mask.setChecked(True)
    editor.setText("600")
    w.image_combo.setCurrentIndex(w.image_combo.findText("plain"))
    w.image_combo.setCurrentIndex(w.image_combo.findText("dates"))
    assert editor.text() == "600"


def test_a_given_no_data_is_left_out_however_much_of_a_date_it_takes(land):
    """(2026-12-06, reviews) A no-data over half a frame was taken for a background and counted again, given or not:
    a swath edge's tile, 58 % fill, read "worse than none" (MSE +40 %) on a right field, its overlay magenta over the
    fill. A value given is no background; a date that is mostly no-data is said."""
    g = _in_canvas(land, pad=44)
    assert (g[1] == 65535).mean() > 0.55
    said = []
    res = tl.register(g, method="multistep", nodata=65535, on_warning=said.append)
    assert not said, said
    rows = evaluate(res)
    assert res.data_region is not None and rows[1]["data_only"] and rows[1]["mse"] < 0.2 * rows[1]["mse_before"]
    sparse = _in_canvas(land[:, 60:90, 60:90], pad=100)  # 1.7 % of the frame is data
    res = tl.register(sparse, method="hsyn", nodata=65535, on_warning=said.append)
    assert any("frames 0 (98.3 %), 1 (98.3 %) are mostly no-data" in s for s in said), said
    assert res.data_region is not None
    with pytest.raises(ValueError, match="the reference frame 0 is constant"):  # all no-data: nothing to match
        tl.register(np.stack([np.full_like(g[0], 65535), g[1]]), method="multistep", nodata=65535)


def test_a_far_no_data_value_does_not_flatten_float64_data(land):
    """(2026-12-06, diff review) float64 and int32 frames are mapped onto [0, 1] before the cast to float32: with GDAL's
    float no-data (-3.4e38) in that range the land kept one level, and ran without a word. The fill takes the data's
    lowest value first."""
    g = _in_canvas(land, fill=0).astype(np.float64) + 0.5 * np.random.default_rng(0).random((2, 208, 208))
    fill = g < 1
    g[fill] = -3.4028234663852886e+38
    res = tl.register(g, method="multistep", nodata=-3.4028234663852886e+38)
    np.testing.assert_array_equal(res.nodata, fill)
    assert len(np.unique(res.frames[~fill])) > 1000
    i32 = _in_canvas(land, fill=0).astype(np.int32) * 1000
    i32[i32 == 0] = np.iinfo(np.int32).min
    res = tl.register(i32, method="multistep", nodata=np.iinfo(np.int32).min)
    assert len(np.unique(res.frames[~res.nodata])) > 1000


def test_an_empty_no_data_value_asks_for_the_rule(land, tmp_path):
    """``--param nodata=`` (as ``--param mask=`` asks for the whole frame): the file's value is not taken, the rule
    finds the fill."""
    from napari_tlreg.io import load_sequence

    border = _filled(land, 0, np.s_[1:, :, :30])
    seq = load_sequence(_geotiff(tmp_path / "b.tif", border, "65535"))
    res = tl.register(seq, method="multistep", nodata="")
    assert res.params["nodata"] is None and res.nodata is not None and res.nodata[1, :, :30].all()


def test_a_rerun_with_the_value_given_sets_the_frames_contrast_again_and_a_far_fill_run_opens(
        land, tmp_path, make_napari_viewer, qtbot, notes):
    """(2026-12-06, second review) The frame's contrast was set at the first run only: a run that did not find the
    65535 canvas left [765, 65535], and the run with ``nodata=65535`` kept it (the land dark, the overlay all magenta:
    "misalignment"). And a float64 run with GDAL's far float fill, scaled without it, did not open on its image."""
    from napari_tlreg._widgets.register import RegisterWidget

    viewer = make_napari_viewer()
    w = RegisterWidget(viewer)
    g = _in_canvas(land)
    layer = viewer.add_image(g, name="dates")
    w.method_combo.setCurrentIndex(w.method_combo.findData("multistep"))
    editor = w.findChild(object, "param_nodata")
    for text in ("", "65535"):
        editor.setText(text)
        w.run_btn.click()
        qtbot.waitUntil(lambda: not w.running, timeout=60000)
        if not text:
            assert layer.contrast_limits[1] > 60000  # the canvas counted: the fill's 65535 at the top
    lo, hi = layer.contrast_limits
    assert hi < 4000 and lo > 400, (lo, hi)  # the land's own range now
    layer.contrast_limits = (0.0, 5000.0)  # the user's limits stay at the next run
    w.run_btn.click()
    qtbot.waitUntil(lambda: not w.running, timeout=60000)
    assert tuple(layer.contrast_limits) == (0.0, 5000.0)

    far = _in_canvas(land, fill=0).astype(np.float64) + 0.25
    far[far < 1] = -3.4028234663852886e+38
    tl.register(far, method="multistep", nodata=-3.4028234663852886e+38).save(tmp_path / "far")
    viewer.add_image(far, name="far")
    w.image_combo.setCurrentIndex(w.image_combo.findText("far"))
    notes.clear()
    w.open_result(tmp_path / "far")
    qtbot.waitUntil(lambda: not w.busy_with_files, timeout=20000)
    assert not [n for n in notes if n[0] == "error"], notes
    assert w.status_label.text().startswith(f"opened {tmp_path / 'far'}")


def test_a_files_value_no_pixel_holds_is_not_taken_nor_warned_of(land, tmp_path, capsys):
    """(Second review) A full tile of a file that declares 0 (the common case) was told "no pixel of the frames equals
    the no-data value 0" at every run."""
    from napari_tlreg.cli import main
    from napari_tlreg.io import load_sequence

    path = _geotiff(tmp_path / "full.tif", land.round().astype(np.uint16), "0")
    said = []
    res = tl.register(load_sequence(path), method="multistep", on_warning=said.append)
    assert not said and res.params["nodata"] is None, said
    assert main(["register", str(path), "--method", "multistep", "--out", str(tmp_path / "o")]) == 0
    err = capsys.readouterr().err
    assert "no-data" not in err, err


def test_a_date_all_no_data_is_no_worse_and_a_found_fill_over_half_is_said_as_counted(land):
    """(Second review) A date all no-data was compared whole in the worse-than-none check ("worse" by its fill's
    values); a fill the rule found over half of a frame is counted in the figures, and the message said they were
    taken on the data alone."""
    g = _in_canvas(land)
    g = np.concatenate([g, np.full_like(g[:1], 65535)])
    said = []
    tl.register(g, method="hsyn", nodata=65535, on_warning=said.append)
    assert not any("worse" in s for s in said), said
    assert any("frame 2 (100.0 %) is mostly no-data" in s and "none: the method's guess" in s for s in said), said
    strip = np.zeros((2, 200, 200), np.uint16)  # an L-shaped swath strip on a 0 fill: 92 % fill, found by the rule
    strip[:, :160, :10] = land[:, :, :10].round().astype(np.uint16)
    strip[:, 190:, :160] = land[:, :10, :].round().astype(np.uint16)
    said.clear()
    res = tl.register(strip, method="multistep", on_warning=said.append)
    assert res.nodata is not None and res.nodata.mean(axis=(1, 2)).min() > 0.9
    assert res.data_region is None  # counted whole: a found fill over half a frame is taken for a background
    assert any("its figures count the whole frame (give nodata=VALUE" in s for s in said), said


def test_a_hole_of_no_data_inside_a_date_is_said_with_the_value_to_give(land):
    """(Remote-sensing review, 2026-12-07) A cloud mask's 0s inside a date are not found by the rule, which takes a
    fill that touches the frame's border, and counting them as data kept a 0 border beside them in too: the field got
    worse everywhere without a word. Said, with the value to give; not for a fill given, nor for data that reach down
    to the value, nor for a float image's dark cavity."""
    from napari_tlreg.core.nodata import inner_fill

    g = _filled(land, 0, np.s_[1, 60:100, 50:110])  # a 40x60 block of 0 inside date 1
    notes: list[str] = []
    tl.register(g, method="hsyn", on_warning=notes.append)
    said = [n for n in notes if "inside the image" in n]
    assert said == [f"frame 1 holds a block of one value inside the image (2400 px of 0, {100 * 2400 / 160**2:.1f} % "
                    "of the frame; a cloud mask?), counted as data, as is a border of that value beside them: if it "
                    "is no-data, give nodata=0 (--param nodata=0; the form's nodata field)"], notes
    notes.clear()
    res = tl.register(g, method="hsyn", nodata=0, on_warning=notes.append)
    assert not [n for n in notes if "inside the image" in n] and not res.data_region[1, 70, 70]
    # not: a block at a level the data reach (a dark field whose shades run 1, 2, 3... beside it), a float image's
    # cavity at 0
    low = g.copy()
    low[1, 120:130, 10:50] = np.arange(1, 41, dtype=np.uint16)
    assert inner_fill(g) == [(1, 0.0, 2400)] and inner_fill(low) == []
    cavity = np.full((2, 64, 64), 0.6, np.float32) + np.random.default_rng(0).random((2, 64, 64)).astype(np.float32) * .3
    cavity[:, 20:40, 20:40] = 0.0
    notes.clear()
    tl.register(cavity, method="hsyn", on_warning=notes.append)
    assert inner_fill(cavity) != [] and not [n for n in notes if "inside the image" in n]  # found, not said: not DNs
    # (diff review) a phantom of a few flat regions (its blood pool at 200) has no scale to be apart from; int16's
    # -32768 is found (its gap overflowed); boolean frames (a thresholded cine) register, unsaid (they crashed)
    phantom = np.full((2, 64, 64), 30, np.uint8)
    phantom[:, 16:48, 16:48], phantom[:, 24:40, 24:40], phantom[:, 0, :] = 80, 200, 0
    assert inner_fill(phantom) == []
    signed = (land[:, :64, :64] / 3).astype(np.int16)
    signed[1, 20:40, 20:40] = -32768
    assert inner_fill(signed) == [(1, -32768.0, 400)]
    masks = land > np.median(land)
    tl.register(masks, method="hsyn", on_warning=notes.append)
