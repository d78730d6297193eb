"""The shipped pair-engine weights (multistep, HSyN): files match their cards and reach the cards' figures."""
from pathlib import Path

import pytest
import torch

from napari_tlreg.engines.weights import load_shipped, model_card, sha256

ROOT = Path(__file__).resolve().parents[1]
MODELS = {"multistep_satellite128": "multistep", "hsyn_satellite128": "hsyn"}


@pytest.mark.parametrize("name", MODELS)
def test_shipped_weights_match_their_card(name):
    card = model_card(name)
    path = ROOT / "resources" / card["file"]
    assert sha256(path) == card["sha256"] and path.stat().st_size < 5 * 2**20
    assert card["method"] == MODELS[name]
    state, _ = load_shipped(name)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    if name.startswith("hsyn"):  # the inverse network and all three levels are in the file
        assert any(k.startswith("inverse.") for k in state) and any(k.startswith("levels.2.") for k in state)
    else:
        assert card["config"]["c"] == 2.0 and card["config"]["steps"] == 3
    for key in ("data", "iterations", "seed", "command"):
        assert key in card["training"]


@pytest.mark.parametrize("name", MODELS)
def test_shipped_weights_reach_their_card_figures_on_a_quick_subset(name):
    from benchmarks.pairs import evaluate_synthetic

    quick = model_card(name)["figures"]["quick_check"]
    # this card's model by name (the engine's default changing would have measured another against it)
    got = evaluate_synthetic(MODELS[name], n_pairs=quick["n_pairs"], size=quick["size"], seed0=quick["seed0"],
                             **{**quick["params"], "weights": name})
    # both ways, within the card's rounding and another CPU's arithmetic (they match to ~2e-5 px here): 0.05 px above
    # the card let weights 10 % noisier pass, 18-25 % worse on held-out pairs (training review, 2026-12-07)
    assert abs(got["ds"] - quick["ds"]) <= 0.003, got
    assert got["folding_pct"] <= quick["folding_pct"] + 0.01, got
    if "inverse_residual" in quick:
        assert abs(got["inverse_residual"] - quick["inverse_residual"]) <= 0.002, got


@pytest.mark.parametrize("name", MODELS)
def test_the_cards_real_pair_figure_is_the_benchmarks(name):
    """(2026-12-07, training review) The cards' real Sentinel-2 shift was measured before the phase correlation's
    reference changed (1.80, -0.60 -> 1.81, -0.63): 0.167 px where the README and the benchmark say 0.18. Both come
    from ``benchmarks.pairs.real_shift``; the card is refreshed with ``scripts/ship_weights.py --refresh``."""
    import json

    card = model_card(name)["figures"]["real_sentinel2_shift"]
    bench = json.loads((ROOT / "benchmarks" / "results" / "pairs" / "results.json").read_text())["real_shift"][MODELS[name]]
    assert card["phase_correlation_rc"] == [round(v, 2) for v in bench["phase_correlation_rc"]]
    assert card["error_px"] == pytest.approx(bench["error_px"], abs=2e-4)
