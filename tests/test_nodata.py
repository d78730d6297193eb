"""No-data of satellite dates (a 0 border, a 65535 fill) in the intensity scaling and in ``evaluate``'s image match:
left out where it lies apart from the data's values; a fill the data share (an echo's black fan) is kept as it was."""
from __future__ import annotations

import numpy as np
import pytest

import napari_tlreg as tl
from napari_tlreg.core.nodata import apart_fill, compared_pixels, data_pixels
from napari_tlreg.io.bundled import load_sample
from napari_tlreg.core.normalize import intensity_range, normalize, normalize_sequence
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
    lo, hi = intensity_range(g)
    assert lo == pytest.approx(np.percentile(land, 1), rel=0.02) and hi == pytest.approx(np.percentile(land, 99), rel=0.02)
    scaled = normalize_sequence(g)
    inside = scaled[:, 40:, 40:]  # land only
    # before: the 0 border put the land at [0.2, 1], the 65535 fill at [0, 0.035] (256 px, a 40-column border)
    assert inside.min() == 0.0 and inside.max() == 1.0
    assert np.all(scaled[where] == (0.0 if fill == 0 else 1.0))  # the fill clipped to an end
    assert normalize(g, 0, "auto")[1] == "sequence"  # no "flicker" read into a fill


def test_a_fill_the_data_share_is_kept_as_before():
    echo = load_sample("echo").frames.astype(np.float32)  # black outside the fan, and black speckle inside
    assert not data_pixels(echo).all()  # its fan's outside is no-data to the pair engines ...
    assert apart_fill(echo) is None  # ... but data pixels take its value
    assert intensity_range(echo) == tuple(float(v) for v in np.percentile(echo, [1, 99]))
    inside = np.full((2, 64, 64), 0.0, np.float32)  # a 0 border beside data that reaches 0 too
    inside[:, 20:, 20:] = np.random.default_rng(0).uniform(0, 10, (2, 44, 44))
    inside[:, 30, 30] = 0.0
    assert not data_pixels(inside).all() and apart_fill(inside) is None


def test_data_pixels_finds_a_border_fill_not_a_dark_spot(land):
    g = _filled(land, 0, np.s_[:, :, :30]).astype(np.float32)
    g[:, 80:84, 80:84] = 0  # a dark spot inside the scene: data
    v = data_pixels(g)
    assert not v[:, :, :30].any() and v[:, :, 30:].all()


def test_evaluate_leaves_a_pair_engines_no_data_out(land):
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
    valid = compared_pixels(res.frames, 0, res.warp_images)
    assert valid is not None and not valid[:, :, :30].any()


def test_the_overlay_shows_no_grid_nor_warped_reference_over_a_dates_no_data(land):
    from napari_tlreg._widgets import layers as L

    g = _filled(land, 0, np.s_[1:, :, :30])  # the second date's border
    res = tl.register(g, method="multistep")
    assert res.data_region is not None and not res.data_region[1, :, :30].any()
    layers = {kw["name"]: data for data, kw, _ in L.result_layers(res, "pair")[0]}
    warped, grid, arrows = layers["pair warped reference"], layers["pair grid"], layers["pair displacement"]
    # before: the land warped onto the border read magenta (misaligned) and the grid ran over it
    assert not warped[1, :, :30].any() and warped[1, :, 40:].any()
    assert not grid[1, :, :30].any() and grid[1, :, 40:].any()
    on_border = (arrows[:, 0, 0] == 1) & (arrows[:, 0, 2] < 30)
    assert not on_border.any() and ((arrows[:, 0, 0] == 1) & (arrows[:, 0, 2] >= 40)).any()
    assert ((arrows[:, 0, 0] == 0) & (arrows[:, 0, 2] < 30)).any()  # the reference has data there
    checker = L.warped_layer(res, "pair", checker=True)[0]
    assert np.isfinite(checker).all()
