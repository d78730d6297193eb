"""Smoke tests of the benchmark scripts that run every engine: their tiniest mode runs and reports sane rows.

``--smoke``: one tiny case per dataset / one point, NMSR a couple of iterations, no ANTs or dipy, all work in
one spawned child (the numbers are meaningless; the shape of the report is what is checked).
"""
from __future__ import annotations

import json
import math
import os
import sys
import types

import numpy as np
import pytest

import napari_tlreg as tl


@pytest.fixture
def restore_thread_env(monkeypatch):
    """The scripts set OMP/MKL/ITK thread variables for their children: put them back afterwards."""
    from benchmarks.peers import THREAD_VARS

    for var in THREAD_VARS:
        if var in os.environ:
            monkeypatch.setenv(var, os.environ[var])
        else:
            monkeypatch.delenv(var, raising=False)


def smoke_skip(*run: str) -> str:
    """``--skip`` for ``benchmarks/nmsr.py``: every section but ``run`` (a new section is skipped by every test at once)."""
    from benchmarks.nmsr import SECTIONS

    return ",".join(s for s in SECTIONS if s not in run)


def test_nmsr_benchmark_only_runs_the_sections_named(monkeypatch):
    """``--only pace,cold`` (the time goal on another CPU) skips every other section; a name that is no section is
    one line of error."""
    from benchmarks import nmsr

    seen = []
    monkeypatch.setattr(nmsr, "run_sections", lambda args: seen.append(set(args.skip.split(","))) or 0)
    assert nmsr.main(["--only", "pace,cold"]) == 0
    assert seen == [set(nmsr.SECTIONS) - {"pace", "cold"}]
    with pytest.raises(SystemExit) as exc:
        nmsr.main(["--only", "pace,nope"])
    assert exc.value.code == 2


def test_peers_smoke(tmp_path, restore_thread_env):
    from benchmarks import peers

    assert peers.main(["--smoke", "--out", str(tmp_path)]) == 0
    R = json.loads((tmp_path / "results.json").read_text())
    assert (tmp_path / "peers.png").stat().st_size > 0
    assert list(R["datasets"]) == ["cardiac", "echo", "pairs"]
    assert set(R["skipped"]) <= {"ants", "dipy"}
    for ds, rows in R["datasets"].items():
        assert list(rows) == ["none", *peers.OURS]
        for m, r in rows.items():
            assert r["n_cases"] == 1
            assert 0.0 <= r["folding_pct"] <= 100.0
            assert math.isfinite(r["epe_px"]) and r["epe_px"] >= 0.0
            assert r["peak_mib"] >= 0.0
            assert (r["seconds"] > 0.0) if m != "none" else r["seconds"] == 0.0
            if ds == "pairs":
                assert "dice" not in r and 0.0 <= r["tre_px"] < 50.0
            else:
                assert 0.0 <= r["dice"] <= 1.0
        assert rows["tlrn"]["epe_px"] < rows["none"]["epe_px"] or ds == "echo"  # a trained engine moves towards the truth
    table = R["table_markdown"].splitlines()
    assert len(table) == 2 + 3 * (1 + len(peers.OURS))
    assert any("| tlrn |" in line for line in table)


def test_scaling_smoke(tmp_path, restore_thread_env):
    from benchmarks import peers, scaling

    assert scaling.main(["--smoke", "--out", str(tmp_path)]) == 0
    R = json.loads((tmp_path / "results.json").read_text())
    assert (tmp_path / "scaling.png").stat().st_size > 0
    assert [tuple(p) for p in R["points"]] == [(8, 64)]
    assert set(R["results"]) == {*peers.OURS, "tlrn scale=1", "nmsr (1 it/scale)"} - {"nmsr"}
    for name, rows in R["results"].items():
        r = rows["8x64"]
        assert r["seconds"] > 0.0 and r["peak_mib"] >= 0.0
        assert 0.5 < r["result_mib"] < 5.0  # 8x64x64 float32 arrays: frames, warped, field, Jacobian (+ inverse)
    assert "| tlrn scale=1 |" in R["table_markdown"]


def test_nmsr_benchmark_smoke_and_section_merge(tmp_path, restore_thread_env):
    """``benchmarks/nmsr.py --smoke``: tiny synthetic cases; a later run that skips sections keeps them."""
    from benchmarks import nmsr as bench

    args = ["--smoke", "--no-ants", "--out", str(tmp_path)]
    assert bench.main([*args, "--skip", smoke_skip("synthetic", "landscape", "consecutive", "variants", "fresh", "noise")]) == 0
    R = json.loads((tmp_path / "results.json").read_text())
    rows = R["synthetic"]["echo (bundled)"]
    assert {"none", "nmsr"} <= set(rows)
    assert rows["nmsr"]["mse"] < rows["none"]["mse"] and 0.0 <= rows["nmsr"]["dice"] <= 1.0
    assert set(R["fresh"]) == {"phantom 60000"} and set(R["fresh"]["phantom 60000"]) == {
        "nmsr", "nmsr noise_compensation=False", "nmsr shared network"}
    assert bench.main([*args, "--skip", smoke_skip("landscape", "consecutive", "fresh", "noise")]) == 0
    assert json.loads((tmp_path / "results.json").read_text())["synthetic"] == R["synthetic"]


def test_nmsr_benchmark_maskscale_section_scores_both_scales(tmp_path, restore_thread_env):
    """``--smoke`` of the maskscale section: NMSR's row is given (and scored on) the frames scaled in the mask, as
    ``tl.register`` scales them and ANTs is given them (``scaled``); the earlier scale's row on the whole frame's."""
    from benchmarks import nmsr as bench

    assert bench.main(["--smoke", "--no-ants", "--out", str(tmp_path), "--skip", smoke_skip("maskscale")]) == 0
    section = json.loads((tmp_path / "results.json").read_text())["maskscale"]
    rows = section["cases"]["echo (bundled)"]
    assert set(rows) == {"nmsr", "nmsr, whole-frame scale (before)"} and "worse_than_syncc" not in section
    assert rows["nmsr"]["mse"] != rows["nmsr, whole-frame scale (before)"]["mse"]  # other frames, other figures
    case = bench.first_frames(bench.echo_case())
    res = tl.register(case["frames"], method="nmsr", mask=case["mask"], levels=1, iterations=1, threads=1)
    assert np.array_equal(res.frames, bench.scaled(case["frames"], case["mask"]))
    assert not np.array_equal(res.frames, bench.normalize_sequence(case["frames"]))
    # NMSR's defaults judged against SyN-CC, on the figures each case has (a real clip: no Dice, no EPE)
    rows = {"a": {"nmsr": {"mse": 2e-3, "lncc10": 0.9}, "ants SyNCC": {"mse": 1e-3, "lncc10": 0.8}}}
    assert bench.mask_verdicts(rows) == {"dice": [], "lncc10": [], "mse": ["a"], "epe_px": []}


def test_nmsr_benchmark_wall_errors_measure_the_recovered_twist():
    """``wall_errors``: a field with half the true rotation recovers 50 % of the twist; the truth 100 % and no error."""
    from benchmarks.nmsr import wall_errors

    rr, cc = np.indices((48, 48)) - 23.5
    r = np.hypot(rr, cc)
    labels = np.where(r < 8, 2, np.where(r < 13, 1, 0))[None].repeat(3, 0)
    theta = np.deg2rad(10.0)
    rot = np.stack([(np.cos(theta) - 1) * rr - np.sin(theta) * cc, np.sin(theta) * rr + (np.cos(theta) - 1) * cc])
    gt = np.stack([0 * rot, rot, rot * 0.5])  # frames 1, 2: turned by 10 and ~5 degrees
    exact = wall_errors(gt, gt, labels, [1, 2])
    assert exact["epe_inner_px"] == exact["epe_outer_px"] == 0.0 and abs(exact["twist_pct"] - 100.0) < 1e-6
    half = wall_errors(gt * 0.5, gt, labels, [1, 2])
    assert abs(half["twist_pct"] - 50.0) < 1e-6 and half["epe_outer_px"] > half["epe_inner_px"] > 0.5
    assert wall_errors(gt * 0, gt * 0, labels, [1, 2])["twist_pct"] is None  # nothing turns: no share to report


def test_nmsr_benchmark_realsub_section_reads_similarity_beside_roughness(tmp_path, restore_thread_env):
    """``--smoke`` of the real-echo sweep (and the whole-clip realcc): every row has the similarity and both roughness figures, and the plot is written."""
    from benchmarks import nmsr as bench

    skip = smoke_skip("realcc", "realsub", "noise")
    assert bench.main(["--smoke", "--no-ants", "--out", str(tmp_path), "--skip", skip]) == 0
    rows = json.loads((tmp_path / "results.json").read_text())["echo_real_0_5"]
    assert {"none", "nmsr", "nmsr smooth=1", "nmsr smooth=3, 400 iterations"} <= set(rows)
    assert rows["none"]["grad2"] == rows["none"]["jitter_px"] == 0.0
    assert all(r["grad2"] > 0.0 and r["jitter_px"] > 0.0 and r["lncc10"] > rows["none"]["lncc10"] for n, r in rows.items() if n != "none")
    assert (tmp_path / "nmsr_real.png").stat().st_size > 10_000
    whole = json.loads((tmp_path / "results.json").read_text())["echo_real_syncc"]  # realcc: no ANTs here
    assert set(whole) == {"none", "nmsr"} and whole["nmsr"]["lncc10"] > whole["none"]["lncc10"] and whole["nmsr"]["seconds"] > 0


def test_nmsr_benchmark_pace_alternates_which_method_goes_first(monkeypatch):
    """``pace``: each round times both methods, the first of the pair alternating; the median of the rounds' ratios."""
    from benchmarks import nmsr as bench

    calls, clock = [], iter([10.0, 20.0, 30.0, 10.0, 12.0, 8.0] * 2)
    monkeypatch.setattr(bench, "run_nmsr", lambda case, **kw: calls.append(("nmsr", case["name"])) or {"seconds": next(clock)})
    monkeypatch.setattr(bench, "run_ants", lambda case, **kw: calls.append(("ants", case["name"])) or {"seconds": next(clock)})
    out = bench.pace(bench.real_echo_head(3), [bench.FRESH_OFFSET + 1], rounds=3, use_ants=True)
    assert list(out) == ["echo_real 0-2", "phantom 60001"]
    assert [m for m, name in calls if name == "phantom 60001"] == ["nmsr", "ants", "ants", "nmsr", "nmsr", "ants"]
    row = out["echo_real 0-2"]  # rounds: nmsr 10 / ants 20; ants 30, nmsr 10; nmsr 12 / ants 8
    assert row["nmsr_s"] == [10.0, 10.0, 12.0] and row["syncc_s"] == [20.0, 30.0, 8.0]
    assert row["ratios"] == pytest.approx([0.5, 1 / 3, 1.5]) and row["median_ratio"] == pytest.approx(0.5)


def test_nmsr_benchmark_pace_times_candidates_in_the_same_rounds(monkeypatch):
    """``pace(candidates=...)``: a candidate's NMSR options are timed in every round between the defaults and SyN-CC
    (the order reversed in odd rounds), with its own ratios to SyN-CC; the defaults' row is as without it."""
    from benchmarks import nmsr as bench

    calls, clock = [], iter([10.0, 11.0, 20.0, 30.0, 15.0, 10.0, 12.0, 6.0, 8.0] * 2)
    monkeypatch.setattr(bench, "run_nmsr", lambda case, **kw: calls.append((kw.get("edge_weight", "nmsr"), case["name"]))
                        or {"seconds": next(clock)})
    monkeypatch.setattr(bench, "run_ants", lambda case, **kw: calls.append(("ants", case["name"])) or {"seconds": next(clock)})
    out = bench.pace(bench.real_echo_head(3), [bench.FRESH_OFFSET + 1], rounds=3, use_ants=True, candidates={"cand": {"edge_weight": 2.0}})
    assert [m for m, name in calls if name == "phantom 60001"] == ["nmsr", 2.0, "ants", "ants", 2.0, "nmsr", "nmsr", 2.0, "ants"]
    row = out["echo_real 0-2"]  # rounds: nmsr 10, cand 11, ants 20; ants 30, cand 15, nmsr 10; nmsr 12, cand 6, ants 8
    assert row["nmsr_s"] == [10.0, 10.0, 12.0] and row["syncc_s"] == [20.0, 30.0, 8.0]
    assert row["ratios"] == pytest.approx([0.5, 1 / 3, 1.5]) and row["median_ratio"] == pytest.approx(0.5)
    cand = row["candidates"]["cand"]
    assert cand["s"] == [11.0, 15.0, 6.0] and cand["ratios"] == pytest.approx([0.55, 0.5, 0.75]) and cand["median_ratio"] == pytest.approx(0.55)


def test_nmsr_benchmark_cpucheck_compares_the_verdicts_with_the_stored_ones(tmp_path, restore_thread_env):
    """``cpu_verdicts``: per figure the cases where NMSR is worse than SyN-CC on this CPU and in the stored sections,
    and the ones that changed; a partial run keeps the stored sections' CPU and says its own beside it."""
    from benchmarks import nmsr as bench

    def rows(n, a):
        return {"nmsr": dict(zip(("mse", "lncc10", "dice", "epe_px"), n)), "ants SyNCC": dict(zip(("mse", "lncc10", "dice", "epe_px"), a))}

    R = {"synthetic": {"phantom 1": rows((1, 0.9, 0.98, 0.2), (2, 0.8, 0.97, 0.5)),  # better on all
                       "phantom 2": rows((2, 0.8, 0.97, 0.2), (1, 0.9, 0.98, 0.5))},  # worse but EPE
         "sunnybrook": {"nmsr (ED,ES pair)": {"per_case": {"s0": 0.90, "s1": 0.80}},
                        "ants SyNCC": {"per_case": {"s0": 0.85, "s1": 0.85}}}}
    check = {"cases": {"synthetic: phantom 1": rows((1, 0.9, 0.96, 0.2), (2, 0.8, 0.97, 0.5)),  # Dice now worse
                       "synthetic: phantom 2": rows((2, 0.8, 0.97, 0.2), (1, 0.9, 0.98, 0.5)),
                       "fresh: phantom 9": rows((9, 0, 0, 9), (1, 1, 1, 1))},  # not stored: left out
             "sunnybrook": {"s0": {"nmsr": 0.90, "ants SyNCC": 0.85}, "s1": {"nmsr": 0.86, "ants SyNCC": 0.85}}}
    v = bench.cpu_verdicts(check, R)
    assert v["dice"] == {"here": ["synthetic: phantom 1", "synthetic: phantom 2"], "stored": ["synthetic: phantom 2"],
                         "changed": ["synthetic: phantom 1"]}
    assert v["mse"]["here"] == v["mse"]["stored"] == ["synthetic: phantom 2"] and v["mse"]["changed"] == []
    assert v["epe_px"]["here"] == []
    assert v["sunnybrook dice"] == {"here": [], "stored": ["s1"], "changed": ["s1"]}
    # a partial run (one section) over results made on another CPU: their CPU stays said, this run's beside it
    (tmp_path / "results.json").write_text(json.dumps({"cpu": {"model": "elsewhere"}, "edges": {"kept": 1}}))
    assert bench.main(["--smoke", "--no-ants", "--out", str(tmp_path), "--skip", smoke_skip("cpucheck")]) == 0
    out = json.loads((tmp_path / "results.json").read_text())
    assert out["cpu"] == {"model": "elsewhere"} and out["cpu_of_the_last_partial_run"] == bench.cpu_info()
    assert out["edges"] == {"kept": 1} and out["cpucheck"]["stored_cpu"] == {"model": "elsewhere"}


def test_nmsr_benchmark_spread_perturbs_the_frames_and_counts_against_syncc_seeds(monkeypatch):
    """``nmsr_spread``: each row runs once per perturbation seed on frames that differ from the case's by white noise of
    σ (the same seed: the same noise; another seed: other noise); min / median / max per row beside SyN-CC's spread from
    the results' seeds section, the counts against it, and a partial run keeping the other cases."""
    from benchmarks import nmsr as bench

    frames = np.zeros((3, 16, 16), np.float32)
    seen, dice = [], iter([0.90, 0.94, 0.92, 0.80, 0.81, 0.82, 0.99, 0.97, 0.98, 0.60, 0.70, 0.65] * 2)
    monkeypatch.setattr(bench, "run_nmsr", lambda case, **kw: seen.append((case["name"], kw, case["frames"].copy())) or {"dice": next(dice)})
    R = {"seeds": {"cases": {"phantom 60001": {"min": 0.91, "median": 0.93, "max": 0.95},
                             "phantom 70000": {"min": 0.66, "median": 0.68, "max": 0.70}}}}
    cases = [{"name": "phantom 60001", "frames": frames}, {"name": "phantom 70000", "frames": frames}]
    out = bench.nmsr_spread(cases, R, {"defaults": {}, "cand": {"edge_weight": 1.0}}, seeds=(1, 2, 3), sigma=1e-3)
    assert [(n, kw) for n, kw, _ in seen[:6]] == [("phantom 60001", {})] * 3 + [("phantom 60001", {"edge_weight": 1.0})] * 3
    noise = [f for _, _, f in seen[:3]]
    assert all(0.7e-3 < float(f.std()) < 1.3e-3 for f in noise) and not np.array_equal(noise[0], noise[1])
    assert np.array_equal(noise[0], seen[3][2])  # seed 1 is the same perturbation for every row
    a = out["cases"]["phantom 60001"]
    assert a["defaults"]["dice"] == {"1": 0.90, "2": 0.94, "3": 0.92} and (a["defaults"]["min"], a["defaults"]["median"], a["defaults"]["max"]) == (0.90, 0.92, 0.94)
    assert a["cand"]["median"] == 0.81 and a["syncc"] == {"min": 0.91, "median": 0.93, "max": 0.95}
    s = out["summary"]
    assert s["defaults"]["median_below_syncc_median"] == ["phantom 60001"] and s["defaults"]["median_at_least_syncc_median"] == 1
    assert s["defaults"]["max_below_syncc_min"] == [] and s["cand"]["max_below_syncc_min"] == ["phantom 60001"]
    assert s["cand"]["median_below_syncc_median"] == ["phantom 60001", "phantom 70000"] and s["defaults"]["cases"] == 2
    assert s["defaults"]["median_spread"] == pytest.approx(0.03)  # 0.04 and 0.02
    again = bench.nmsr_spread(cases[:1], {**R, "spread": out}, {"defaults": {}, "cand": {"edge_weight": 1.0}}, seeds=(1, 2, 3), sigma=1e-3)
    assert again["cases"]["phantom 70000"] == out["cases"]["phantom 70000"] and again["summary"]["defaults"]["cases"] == 2


def test_nmsr_benchmark_truth_section_scores_the_true_motion_and_the_noise_free_frames(tmp_path, restore_thread_env):
    """``--smoke --no-ants`` of the truth section: per case the true motion (Dice 1, EPE 0) and NMSR, each on the frames
    and on the noise-free ones; without the noise the true motion matches a phantom far better than with it."""
    from benchmarks import nmsr as bench

    assert bench.main(["--smoke", "--no-ants", "--out", str(tmp_path), "--skip", smoke_skip("truth")]) == 0
    R = json.loads((tmp_path / "results.json").read_text())["truth"]
    assert list(R["cases"]) == ["phantom 50000", "echo 70000"] and "worse_than_syncc" not in R  # no ANTs: nothing to compare
    for rows in R["cases"].values():
        assert list(rows) == ["truth", "nmsr"]
        assert rows["truth"]["dice"] > 0.999 and rows["truth"]["epe_px"] == 0.0 and rows["truth"]["folding_pct"] == 0.0
        assert all(0.0 < r["lncc10_clean"] <= 1.0 and r["mse_clean"] >= 0.0 for r in rows.values())
    truth = R["cases"]["phantom 50000"]["truth"]
    assert truth["mse_clean"] < 0.5 * truth["mse"] and truth["lncc10_clean"] > truth["lncc10"] + 0.05
    # --truth-cases runs some cases and keeps the others' stored figures
    stored = json.loads((tmp_path / "results.json").read_text())
    stored["truth"]["cases"]["phantom 50000"]["nmsr"]["mse"] = -1.0  # a marker: kept only if not re-run
    (tmp_path / "results.json").write_text(json.dumps(stored))
    assert bench.main(["--smoke", "--no-ants", "--out", str(tmp_path), "--skip", smoke_skip("truth"), "--truth-cases", "echo 70000"]) == 0
    again = json.loads((tmp_path / "results.json").read_text())["truth"]["cases"]
    assert list(again) == ["phantom 50000", "echo 70000"] and again["phantom 50000"]["nmsr"]["mse"] == -1.0
    assert again["echo 70000"]["truth"] == R["cases"]["echo 70000"]["truth"]  # re-run: the same figures


def test_noise_free_is_the_same_sequence_without_its_noise():
    """``benchmarks.nmsr.noise_free``: the phantom's own motion and anatomy, without the Rician noise (the difference is
    noise-sized, zero-mean-ish, not structure); the echo's without its fresh speckle; a case that does not move as the
    regenerated sequence does, or shows other anatomy, is refused."""
    from benchmarks import nmsr as bench

    case = bench.phantom_case(3, n_frames=4)
    clean = bench.noise_free(case)
    assert clean.shape == case["frames"].shape and clean.dtype == np.float32
    diff = case["frames"] - clean
    sigma = case["noise_sigma"]
    assert 0.5 * sigma < float(diff.std()) < 2.0 * sigma  # the noise, nothing else
    echo = bench.echo_case_seed(70_000, n_frames=3, size=64)
    clean_echo = bench.noise_free(echo)
    assert clean_echo.shape == echo["frames"].shape and not np.array_equal(clean_echo[1:], echo["frames"][1:])
    assert np.array_equal(clean_echo[:, ~echo["mask"]], echo["frames"][:, ~echo["mask"]])  # outside the fan: 0 in both
    # the same anatomy and speckle, less the fresh speckle of each frame (its weight is 0.15); another seed's is not
    inside = echo["frames"][0][echo["mask"]], clean_echo[0][echo["mask"]]
    assert np.corrcoef(*inside)[0, 1] > 0.95 and np.corrcoef(inside[0], bench.noise_free(bench.echo_case_seed(70_001, 3, 64))[0][echo["mask"]])[0, 1] < 0.7
    with pytest.raises(RuntimeError, match="does not move as the case does"):
        bench.noise_free({**case, "gt": case["gt"] + 0.5})
    # the anatomy is checked at run time too: other labels, noise of another size, an echo's frames shifted
    for other in ({**case, "labels": np.roll(case["labels"], 2, axis=-1)}, {**case, "noise_sigma": 3 * sigma},
                  {**echo, "frames": np.roll(echo["frames"], 7, axis=-1)}):
        with pytest.raises(RuntimeError, match="does not show the case's anatomy"):
            bench.noise_free(other)


def test_nmsr_benchmark_spread_section_runs_alone(tmp_path, restore_thread_env):
    """``--smoke --no-ants`` of the spread section alone: both rows on the phantom, 2 perturbations, SyN-CC's spread
    read from the results' seeds section."""
    from benchmarks import nmsr as bench

    (tmp_path / "results.json").write_text(json.dumps({"seeds": {"cases": {"phantom 60001": {"min": 0.0, "median": 0.5, "max": 1.0}}}}))
    assert bench.main(["--smoke", "--no-ants", "--out", str(tmp_path), "--skip", smoke_skip("spread")]) == 0
    R = json.loads((tmp_path / "results.json").read_text())["spread"]
    assert list(R["cases"]) == ["phantom 60001"] and R["rows"] == list(bench.SPREAD_ROWS) and R["seeds"] == [1, 2]
    entry = R["cases"]["phantom 60001"]
    assert all(set(entry[row]["dice"]) == {"1", "2"} and 0.5 < entry[row]["min"] <= entry[row]["max"] <= 1.0 for row in R["rows"])
    assert entry["syncc"] == {"min": 0.0, "median": 0.5, "max": 1.0} and R["summary"]["defaults"]["cases"] == 1


def test_nmsr_benchmark_nmsr_flag_sets_what_every_row_starts_from(tmp_path, restore_thread_env, monkeypatch):
    """``--nmsr KEY=VALUE``: every NMSR row starts from those options instead of the engine's defaults (a row's own
    options still win), ``nmsr_defaults`` records them, and the next run in the process starts from the engine's again."""
    from benchmarks import nmsr as bench

    calls = []
    register = bench.tl.register
    monkeypatch.setattr(bench.tl, "register", lambda *a, **kw: calls.append(kw) or register(*a, **kw))
    (tmp_path / "results.json").write_text(json.dumps({"seeds": {"cases": {"phantom 60001": {"min": 0.0, "median": 0.5, "max": 1.0}}}}))
    earlier = ["--nmsr", "interpolation=linear", "--nmsr", "edge_weight=0"]
    assert bench.main(["--smoke", "--no-ants", "--out", str(tmp_path), "--skip", smoke_skip("spread"), *earlier]) == 0
    R = json.loads((tmp_path / "results.json").read_text())
    assert R["nmsr_defaults"]["interpolation"] == "linear" and R["nmsr_defaults"]["edge_weight"] == 0
    rows = [(kw["interpolation"], kw["edge_weight"]) for kw in calls]
    assert rows == [("linear", 0)] * 2 + [("cubic", 1.0)] * 2  # the defaults' row, then the cubic candidate's own options
    calls.clear()
    assert bench.main(["--smoke", "--no-ants", "--out", str(tmp_path), "--skip", smoke_skip("spread")]) == 0
    assert len(calls) == 4 and all("edge_weight" not in kw and "interpolation" not in kw for kw in calls[:2])
    assert json.loads((tmp_path / "results.json").read_text())["nmsr_defaults"]["interpolation"] == "cubic"


def test_nmsr_options_judges_each_row_over_the_same_perturbations(tmp_path, monkeypatch):
    """``benchmarks/nmsr_options.py``: the defaults row and each ``--row`` (its options really reach the engine) run
    on every phantom under the same perturbations; min / median / max of their Dice, the times, the iterations each
    scale ran; bad counts refused."""
    from benchmarks import nmsr_options as bench

    calls = []
    run = bench.run_nmsr
    monkeypatch.setattr(bench, "run_nmsr", lambda case, **kw: calls.append((float(case["frames"].sum()), kw)) or run(case, **kw))
    argv = ["--smoke", "--phantoms", "60001", "--perturbations", "2", "--row", "tol=0,patience=3", "--out", str(tmp_path)]
    assert bench.main(argv) == 0
    R = json.loads((tmp_path / "results.json").read_text())
    assert R["rows"] == {"defaults": {}, "tol=0,patience=3": {"tol": 0, "patience": 3}} and R["perturbation_seeds"] == [1, 2]
    rows = R["cases"]["phantom 60001"]
    for r in rows.values():
        assert list(r["dice"]) == ["1", "2"] and r["min"] <= r["median"] <= r["max"] and 0.5 < r["min"] <= 1.0
        assert r["seconds_median"] > 0 and len(r["iterations_per_scale"]) == 4
    assert rows["tol=0,patience=3"]["iterations_per_scale"] != rows["defaults"]["iterations_per_scale"]  # applied
    sums = [f for f, _ in calls]
    assert len(calls) == 4 and sums[0] != sums[1] and sums[:2] == sums[2:]  # two perturbations, the same for both rows
    assert [kw.get("tol") for _, kw in calls] == [None, None, 0, 0] and R["syncc"] == {"phantom 60001": None}
    with pytest.raises(SystemExit):
        bench.main(["--smoke", "--perturbations", "0", "--out", str(tmp_path)])


def test_nmsr_benchmark_seeds_section_spreads_syncc_over_ants_seeds(monkeypatch):
    """``syncc_seed_spread``: SyN-CC once per ANTs seed on each phantom, its min / median / max beside NMSR's Dice
    from the results' phantom sections, the counts against them, and the seed left at the other sections' 1234."""
    import sys
    import types

    from benchmarks import nmsr as bench

    config = types.SimpleNamespace(_random_seed=99)
    ants = types.ModuleType("ants")
    ants.config = config
    monkeypatch.setitem(sys.modules, "ants", ants)
    monkeypatch.setitem(sys.modules, "ants.config", config)
    dice = {"phantom 60001": [0.90, 0.95, 0.92], "phantom 70000": [0.80, 0.70, 0.75]}
    seen = []

    def fake_ants(case, **kw):
        seen.append((case["name"], config._random_seed))
        return {"dice": dice[case["name"]][(1234, 1, 2).index(config._random_seed)]}

    monkeypatch.setattr(bench, "run_ants", fake_ants)
    R = {"fresh": {"phantom 60001": {"nmsr": {"dice": 0.93}}}, "heldout": {"phantom 70000": {"nmsr": {"dice": 0.74}}}}
    out = bench.syncc_seed_spread([{"name": "phantom 60001"}, {"name": "phantom 70000"}], R, seeds=(1234, 1, 2))
    assert seen == [(n, s) for n in ("phantom 60001", "phantom 70000") for s in (1234, 1, 2)]
    assert config._random_seed == 1234
    a, b = out["cases"]["phantom 60001"], out["cases"]["phantom 70000"]
    assert a["dice"] == {"1234": 0.90, "1": 0.95, "2": 0.92} and (a["min"], a["median"], a["max"], a["nmsr"]) == (0.90, 0.92, 0.95, 0.93)
    assert (b["min"], b["median"], b["max"], b["nmsr"]) == (0.70, 0.75, 0.80, 0.74)
    s = out["summary"]
    assert (s["cases"], s["nmsr_at_least_max"], s["nmsr_at_least_median"], s["nmsr_at_least_min"]) == (2, 0, 1, 2)
    assert s["below_median"] == ["phantom 70000"] and s["below_min"] == []
    assert s["largest_spread"] == pytest.approx(0.10)
    # a run on one phantom keeps the other's figures (same seeds), with NMSR's Dice as the results hold it now
    R["heldout"]["phantom 70000"]["nmsr"]["dice"] = 0.76
    again = bench.syncc_seed_spread([{"name": "phantom 60001"}], {**R, "seeds": out}, seeds=(1234, 1, 2))
    assert again["cases"]["phantom 70000"]["median"] == 0.75 and again["cases"]["phantom 70000"]["nmsr"] == 0.76
    assert again["summary"]["nmsr_at_least_median"] == 2 and again["summary"]["below_median"] == []


def test_nmsr_benchmark_sunnyspread_perturbs_relative_to_the_range_seeds_ants_and_checks_the_section(monkeypatch):
    """``sunnybrook_spread``: NMSR once per perturbation on the raw ED,ES frames plus white noise of σ times their 1-99 %
    range (the same seed: the same noise), once unperturbed; SyN-CC once per ANTs seed on the normalised pair, the seed
    left at 1234; both spreads per slice, whether seed 1234 and the unperturbed run give the sunnybrook section's Dice,
    the counts, and a part (``(k, n)``) keeping the other slices' figures."""
    import sys
    import types

    from benchmarks import nmsr as bench

    config = types.SimpleNamespace(_random_seed=99)
    ants = types.ModuleType("ants")
    ants.config = config
    monkeypatch.setitem(sys.modules, "ants", ants)
    monkeypatch.setitem(sys.modules, "ants.config", config)
    rng = np.random.default_rng(0)
    cine = [(rng.random((3, 12, 12)) * 500).astype(np.float32) for _ in range(3)]
    lab = np.zeros((12, 12), bool)
    lab[3:8, 3:8] = True
    names = ["P/s0", "P/s1", "P/s2"]
    monkeypatch.setattr(bench, "sunnybrook_cases", lambda: iter([(n, c, 2, 0, lab, lab) for n, c in zip(names, cine)]))
    seen, nm_dice = [], iter([0.80, 0.84, 0.82, 0.83, 0.60, 0.62, 0.64, 0.62] * 2)

    def fake_nmsr(frames, ed, es):
        seen.append(frames.copy())
        return next(nm_dice), None

    syncc = {"1234": 0.81, "1": 0.79, "2": 0.85}
    area = {1234: 10, 1: 11, 2: 12}  # the stand-in's ES label has this many pixels under each seed ...
    pairs = []

    def fake_ants(pair, ref, labels, **kw):
        pairs.append(pair)
        out = np.zeros((2, 12, 12), np.int32)
        out[1].flat[:area[config._random_seed]] = 1
        return None, out, None, 0.0

    monkeypatch.setattr(bench, "sunnybrook_nmsr", fake_nmsr)
    monkeypatch.setattr(bench, "ants_register", fake_ants)
    by_area = {area[int(k)]: v for k, v in syncc.items()}  # ... and this Dice
    monkeypatch.setattr(bench.metrics, "dice", lambda a, b: by_area[int(a.sum())])
    R = {"sunnybrook": {"nmsr (ED,ES pair)": {"per_case": {"P/s0": 0.83, "P/s1": 0.5}}, "ants SyNCC": {"per_case": {"P/s0": 0.81}}}}
    out = bench.sunnybrook_spread(R, True, limit=2, seeds=(1234, 1, 2), perturbations=(1, 2, 3), sigma=1e-3)
    assert config._random_seed == 1234 and list(out["cases"]) == ["P/s0", "P/s1"]
    raw = cine[0][[2, 0]]
    lo, hi = np.percentile(raw, [1, 99])
    noise = [f - raw for f in seen[:3]]
    assert all(0.7e-3 < float(n.std()) / (hi - lo) < 1.3e-3 for n in noise) and not np.array_equal(noise[0], noise[1])
    raw1 = cine[1][[2, 0]]  # the next slice: seed 1's noise again, scaled to its own range
    assert np.array_equal(seen[3], raw) and np.allclose(seen[4] - raw1, np.random.default_rng(1).normal(
        0.0, 1e-3 * np.subtract(*np.percentile(raw1, [99, 1])), raw.shape), atol=1e-4)
    assert np.allclose(pairs[0], bench.normalize_sequence(raw))
    a, b = out["cases"]["P/s0"], out["cases"]["P/s1"]
    assert (a["nmsr"]["min"], a["nmsr"]["median"], a["nmsr"]["max"], a["nmsr"]["unperturbed"]) == (0.80, 0.82, 0.84, 0.83)
    assert a["syncc"]["dice"] == syncc and a["syncc"]["median"] == 0.81 and a["reproduces_section"] is True
    assert b["reproduces_section"] is False  # the section's NMSR Dice of P/s1 (0.5) is not what this run gave (0.62)
    s = out["summary"]
    assert (s["slices"], s["median_at_least_syncc_median"], s["min_above_syncc_max"]) == (2, 1, 0)
    assert s["median_below_syncc_median"] == ["P/s1"] and s["max_below_syncc_min"] == ["P/s1"]
    assert s["nmsr_median_spread"] == pytest.approx(0.04) and s["syncc_median_spread"] == pytest.approx(0.06)
    again = bench.sunnybrook_spread({**R, "sunnyspread": out}, True, limit=2, part=(1, 2), seeds=(1234, 1, 2),
                                    perturbations=(1, 2, 3), sigma=1e-3)
    assert again["cases"]["P/s0"] == a and again["summary"]["slices"] == 2
    alone = bench.sunnybrook_spread({}, False, limit=1, perturbations=(1,), sigma=1e-3)  # without ANTs: NMSR's spread
    assert alone["cases"]["P/s0"]["syncc"] is None and alone["summary"]["slices"] == 0 and alone["seeds"] == []


@pytest.mark.parametrize("section", ["pace", "cubicpace"])
def test_nmsr_benchmark_pace_sections_run_without_ants(tmp_path, restore_thread_env, section):
    """``--smoke --no-ants`` of a pace section alone: NMSR's real times for the real echo and the phantom, no ratio (the
    cubicpace section: the cubic candidate's times too, in each of its rows)."""
    from benchmarks import nmsr as bench

    skip = smoke_skip("heldout", "realcc", section)
    assert bench.main(["--smoke", "--no-ants", "--out", str(tmp_path), "--skip", skip]) == 0
    pace = json.loads((tmp_path / "results.json").read_text())[section]
    assert set(pace) == {"echo_real 0-2", "phantom 60001"}
    assert all(len(r["nmsr_s"]) == 1 and r["nmsr_s"][0] > 0.0 and r["median_ratio"] is None for r in pace.values())
    for r in pace.values():
        if section == "cubicpace":
            cand = r["candidates"][bench.CUBIC_CANDIDATE]
            assert len(cand["s"]) == 1 and cand["s"][0] > 0.0 and cand["median_ratio"] is None
        else:
            assert "candidates" not in r


def test_nmsr_benchmark_noise_section_is_what_the_engine_sees(tmp_path, restore_thread_env):
    """``--smoke`` of the noise section: a share per case, and the engine's own figure on the same frames."""
    from benchmarks import nmsr as bench
    from napari_tlreg.engines import get_engine

    skip = smoke_skip("heldout", "realcc", "noise")
    assert bench.main(["--smoke", "--no-ants", "--out", str(tmp_path), "--skip", skip]) == 0
    noise = json.loads((tmp_path / "results.json").read_text())["noise"]
    assert {"echo (bundled)", "phantom 50000", "phantom 60000", "echo_real 0-5"} <= set(noise)
    assert noise["phantom 50000"] > 100 * bench.CLEAN_NOISE > noise["echo_real 0-5"] > 0.0
    # on the phantoms, whose noise is known: NMSR's estimate (the median) nearer the truth than Immerkær's mean
    truth = json.loads((tmp_path / "results.json").read_text())["noise_truth"]
    assert {"phantom 50000", "phantom 60000"} <= set(truth)
    for e in truth.values():
        assert e["true"] > 0 and abs(e["nmsr"] / e["true"] - 1) < abs(e["immerkaer_mean"] / e["true"] - 1)
    frames = bench.phantom_case(0)["frames"][:3]
    tl.register(frames, method="nmsr", iterations=0, threads=1)
    assert bench.noise_share(frames) == pytest.approx(100 * get_engine("nmsr").last_noise_ratio, rel=1e-6)
    seq = tl.load_sequence("echo_real")
    mask = bench.real_echo_mask(seq.frames, seq.metadata.get("ultrasound_region_rc"))
    tl.register(seq.frames[:3], method="nmsr", iterations=0, threads=1, mask=mask)
    assert get_engine("nmsr").last_smooth == 3.0  # clean: smooth_clean
    assert bench.noise_share(seq.frames[:3], mask) == pytest.approx(100 * get_engine("nmsr").last_noise_ratio, rel=1e-6)


def test_nmsr_benchmark_roughness_tells_smooth_motion_from_fitted_noise():
    """``roughness``: a field growing linearly in time and space has no jitter and the squared gradient
    of its slope; the same field plus noise that changes from frame to frame scores rougher on both."""
    from benchmarks.nmsr import roughness

    T, H, W = 5, 32, 40
    rr = np.indices((H, W))[0].astype(np.float32)
    smooth = np.zeros((T, 2, H, W), np.float32)
    for t in range(T):
        smooth[t, 0] = 0.05 * t * rr  # row component 0.05·t·row: ∂/∂row = 0.05·t
    mask = np.ones((H, W), bool)
    r = roughness(smooth, mask)
    assert r["jitter_px"] < 1e-6
    assert abs(r["grad2"] - np.mean([(0.05 * t) ** 2 for t in range(1, T)])) < 1e-6
    noisy = smooth + np.random.default_rng(0).normal(0, 0.5, smooth.shape).astype(np.float32) * (np.arange(T) > 0)[:, None, None, None]
    rn = roughness(noisy, mask)
    assert rn["jitter_px"] > 0.5 and rn["grad2"] > r["grad2"] + 0.1
    nan = smooth.copy()
    nan[1:, :, :3] = np.nan  # ANTs' fields are NaN where it sampled outside: those pixels (and derivatives next to them) are left out
    assert abs(roughness(nan, mask)["grad2"] - r["grad2"]) < 1e-6


def test_nmsr_benchmark_heldout_cases_and_where_nmsr_is_worse(tmp_path, restore_thread_env):
    """``heldout`` (``--smoke``, no ANTs): a phantom and an echo of the held-out seeds, registered; ``worse_cases``
    names, per figure, the cases where NMSR is worse than SyN-CC (lower Dice / local CC, higher MSE / endpoint error)."""
    from benchmarks import nmsr as bench

    skip = smoke_skip("heldout")
    assert bench.main(["--smoke", "--no-ants", "--out", str(tmp_path), "--skip", skip]) == 0
    held = json.loads((tmp_path / "results.json").read_text())["heldout"]
    assert list(held) == ["phantom 70000", "echo 70000"]
    assert all(r["nmsr"]["mse"] < r["none"]["mse"] for r in held.values())
    row = {"dice": 0.9, "lncc10": 0.8, "mse": 0.01, "epe_px": 0.5}
    cases = {"a": {"nmsr": row, "ants SyNCC": row},  # a tie is not worse
             "b": {"nmsr": {**row, "dice": 0.89, "epe_px": 0.4}, "ants SyNCC": row},
             "c": {"nmsr": {**row, "mse": 0.02, "lncc10": 0.81}, "ants SyNCC": row}}
    assert bench.worse_cases(cases) == {"dice": ["b"], "lncc10": [], "mse": ["c"], "epe_px": []}


def test_nmsr_benchmark_objective_sets_nmsr_against_the_true_field(tmp_path, restore_thread_env):
    """``objective``: per phantom, the similarity NMSR optimises and the smoothness of the whole field, for the true
    field and NMSR's, beside the Dice of both methods (SyN-CC's read from earlier sections' rows)."""
    from benchmarks import nmsr as bench

    (tmp_path / "results.json").write_text(json.dumps({"fresh": {
        "phantom 50000": {"ants SyNCC": {"dice": 1.0}}, "phantom 60000": {"ants SyNCC": {"dice": 0.0}}}}))
    assert bench.main(["--smoke", "--no-ants", "--out", str(tmp_path), "--skip", smoke_skip("objective")]) == 0
    R = json.loads((tmp_path / "results.json").read_text())["objective"]
    assert list(R["cases"]) == ["phantom 50000", "phantom 60000", "phantom 70000"]
    for r in R["cases"].values():
        assert -1.0 <= r["similarity_truth"] < -0.5 and -1.0 <= r["similarity_nmsr"] < -0.5  # both match the frames
        assert r["grad_l2_truth"] > 0.0 and r["grad_l2_nmsr"] > 0.0 and 0.5 < r["dice_nmsr"] <= 1.0
        assert r["nmsr_matches_better_than_truth"] == (r["similarity_nmsr"] < r["similarity_truth"])
    assert [r["dice_syncc"] for r in R["cases"].values()] == [1.0, 0.0, None]
    assert R["summary"]["below_syncc"] == ["phantom 50000"] and R["summary"]["phantoms"] == 3


#: the sections of rows of NMSR options: their rows, and the cases of ``--smoke``
OPTION_SECTIONS = {
    "radius": ({"radius=6", "radius=4"}, ["echo (bundled)", "phantom 50000", "phantom 60000", "echo_real 0-2"]),
    "symmetric": ({"defaults", "symmetric", "symmetric, every scale"}, ["echo (bundled)", "phantom 50000", "phantom 60000", "phantom 70000"]),
    "edges": ({"defaults", "edge_weight=1"}, ["echo (bundled)", "phantom 50000", "phantom 60000", "phantom 70000"]),
    "cubic": ({"defaults", "interpolation=cubic", "interpolation=cubic, edge_weight=1"},
              ["echo (bundled)", "phantom 50000", "phantom 60000", "phantom 70000"]),
}


@pytest.mark.parametrize("section", list(OPTION_SECTIONS))
def test_nmsr_benchmark_option_sections_run_every_row_and_count_against_syncc(tmp_path, restore_thread_env, section):
    """``--smoke`` of a section of NMSR option rows alone (radius: the paper's window and ANTs'; symmetric: the
    defaults and the loss taken both ways at the finest scale and at every scale, with the held-out phantoms summed
    up on their own, and the same rows on the real echo's first frames; edges: the same with ``edge_weight``; cubic: the
    same with ``interpolation="cubic"``, alone and with ``edge_weight``), run with the earlier defaults
    (``--nmsr``, as the README's option studies were: else an option row would be the defaults row): every row on every
    case, really applied; the count of phantoms at or above SyN-CC's Dice read from the earlier sections' rows
    kept in results.json."""
    from benchmarks import nmsr as bench

    (tmp_path / "results.json").write_text(json.dumps({"fresh": {  # SyN-CC's Dice as an earlier run with ANTs left it
        "phantom 50000": {"ants SyNCC": {"dice": 0.0}}, "phantom 60000": {"ants SyNCC": {"dice": 1.0}}}}))
    skip = smoke_skip(section)
    earlier = [a for k, v in bench.EARLIER_DEFAULTS.items() for a in ("--nmsr", f"{k}={v}")]  # as the README's runs
    assert bench.main(["--smoke", "--no-ants", "--out", str(tmp_path), "--skip", skip, *earlier]) == 0
    R = json.loads((tmp_path / "results.json").read_text())[section]
    assert R is not None and json.loads((tmp_path / "results.json").read_text())["nmsr_defaults"]["edge_weight"] == 0.0
    rows_wanted, cases = OPTION_SECTIONS[section]
    assert list(R["cases"]) == cases
    for rows in R["cases"].values():
        assert set(rows) == rows_wanted and len({r["lncc10"] for r in rows.values()}) == len(rows)
    for v in R["summary"].values():
        assert v["phantoms"] == 2 and v["phantoms_at_least_syncc"] == 1  # above 0.0, below 1.0
        assert v["sunnybrook_at_least_syncc"] is None  # no SyN-CC rows for Sunnybrook in this results.json
    if section in ("symmetric", "edges", "cubic"):  # defaults beside options, on the held-out phantoms and the real echo too
        for v in R["summary"].values():
            assert v["phantom_epe_inner_mean"] > 0.0
            assert v["held_out"]["phantoms"] == 1 and v["held_out"]["phantoms_at_least_syncc"] is None  # no heldout rows here
        assert set(R["time_ratio"]) == rows_wanted - {"defaults"}
        for k, ratio in R["time_ratio"].items():
            assert ratio == pytest.approx(R["summary"][k]["seconds"] / R["summary"]["defaults"]["seconds"])
        assert set(R["real"]) == rows_wanted and len({r["lncc10"] for r in R["real"].values()}) == len(rows_wanted)


def test_nmsr_benchmark_recount_counts_option_studies_against_the_sunnybrook_section(tmp_path, capsys):
    """``--recount`` runs nothing: it counts each option study's Sunnybrook slices at or above SyN-CC's again against
    the sunnybrook section as it is now (re-run alone, it gave ANTs other frames), and leaves everything else as it was."""
    from benchmarks import nmsr as bench

    R = {"sunnybrook": {"ants SyNCC": {"per_case": {"a": 0.90, "b": 0.80, "c": 0.70}}},
         "radius": {"sunnybrook": {"radius=6": {"a": 0.91, "b": 0.79, "c": 0.70}, "radius=4": {}},
                    "summary": {"radius=6": {"sunnybrook_at_least_syncc": 3, "phantoms": 16},
                                "radius=4": {"sunnybrook_at_least_syncc": None}}},
         "seeds": {"cases": {"phantom 1": {"nmsr": 0.9}}, "summary": {"cases": 1}}}
    (tmp_path / "results.json").write_text(json.dumps(R))
    assert bench.main(["--recount", "--out", str(tmp_path)]) == 0
    after = json.loads((tmp_path / "results.json").read_text())
    assert after["radius"]["summary"]["radius=6"] == {"sunnybrook_at_least_syncc": 2, "phantoms": 16}  # a and c; b below
    assert after["radius"]["summary"]["radius=4"]["sunnybrook_at_least_syncc"] is None  # no slices run: nothing counted
    del after["radius"]["summary"], R["radius"]["summary"]
    assert after == R
    assert "slices >= SyN-CC's: 3 -> 2" in capsys.readouterr().out


def test_memory_smoke(tmp_path, restore_thread_env):
    """``benchmarks/memory.py --smoke --fit``: a peak per point from a child, the engine's estimate beside it, and fitted
    constants that hold every measured peak."""
    from benchmarks import memory

    assert memory.main(["--smoke", "--fit", "--rows", "tlrn,nmsr", "--threads", "1", "--out", str(tmp_path)]) == 0
    R = json.loads((tmp_path / "results.json").read_text())
    assert R["rows"]["nmsr"] == {"method": "nmsr", "params": memory.VARIANTS["nmsr"][1]}
    assert R["table_markdown"].splitlines()[2].startswith("| tlrn | ")
    for method in ("tlrn", "nmsr"):
        rows = R["results"][method]
        assert set(rows) == {f"{t}x{s}" for t, s in memory.SMOKE_POINTS}
        for r in rows.values():
            assert r["peak_mib"] > 0 and r["estimate_mib"] > 0 and r["ratio"] == pytest.approx(r["estimate_mib"] / r["peak_mib"])
            c = R["fitted"][method]
            assert sum(ci * fi for ci, fi in zip(c, r["features"])) >= r["peak_mib"] * memory.MiB * (1 - 1e-9)


def test_flicker_smoke(tmp_path, restore_thread_env):
    """``benchmarks/flicker.py --smoke``: a flickering phantom that ``auto`` normalises per frame (and registers better),
    ``auto`` equal to one scale to the bit without flicker, and the natural sequences kept on one scale."""
    from benchmarks import flicker

    assert flicker.main(["--smoke", "--out", str(tmp_path)]) == 0
    R = json.loads((tmp_path / "results.json").read_text())
    F = R["flicker"]
    assert F["auto_equals_sequence_without_flicker"] is True
    assert F["auto_per_frame"] == {"0.0": 0, "0.3": 1}
    assert F["rows"]["tlrn, auto"]["0.3"] < F["rows"]["tlrn, sequence"]["0.3"]
    assert F["rows"]["tlrn, auto"]["0.0"] == F["rows"]["tlrn, sequence"]["0.0"]
    for name, r in R["natural"].items():
        assert r["per_frame"] == (1 if "DICOM" in name else 0), name
    assert R["table_markdown"].startswith("| method, normalize | A = 0 | A = 0.3 | s |")
    with pytest.raises(SystemExit):
        flicker.main(["--methods", "tlrn,nope", "--out", str(tmp_path / "x")])


def test_evaluate_benchmark_times_both_paths_on_the_same_figures(tmp_path, capsys, monkeypatch):
    """``benchmarks/evaluate.py --smoke``: both ways of taking the local CC give the same table; a path that gave
    other figures would fail the run."""
    from benchmarks import evaluate

    assert evaluate.main(["--smoke", "--out", str(tmp_path)]) == 0
    R = json.loads((tmp_path / "results.json").read_text())
    (row,) = R["rows"]
    assert row["size"] == 64 and row["same_figures"] is True and row["separate_s"] > 0 and row["shared_s"] > 0
    assert "| 3 x 64² |" in capsys.readouterr().out
    from napari_tlreg.metrics import lncc_after_before

    off = lambda *a, **k: tuple(x + 1e-9 for x in lncc_after_before(*a, **k))  # noqa: E731
    monkeypatch.setattr(evaluate, "separate_lncc", off)
    assert evaluate.main(["--smoke", "--out", str(tmp_path / "b")]) == 1


def test_gui_responsiveness_runs_and_prints_its_table(qapp, capsys, tmp_path):
    """It replaced the dock's ``_show_result`` with a one-argument stand-in, and crashed once the dock passed two.
    Each run is appended to its results file, which the README's figures are checked against."""
    from benchmarks import gui_responsiveness

    for _ in range(2):
        assert gui_responsiveness.main(["--tile", "1", "--repeat", "1", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "max gap during registration (ms)" in out and "cancel latency (s):" in out
    records = json.loads((tmp_path / "results.json").read_text())["records"]
    assert len(records) == 2 and [r["shape"] for r in records] == [[20, 128, 128]] * 2
    assert len(records[1]["runs"]) == 1 and len(records[1]["cancel_s"]) == 3 and records[1]["preimport"] is True
    assert gui_responsiveness.main(["--tile", "1", "--repeat", "1", "--out", str(tmp_path), "--fresh"]) == 0
    assert len(json.loads((tmp_path / "results.json").read_text())["records"]) == 1
    assert not list(tmp_path.glob("*.tmp"))


def test_peers_checks_its_methods_first_and_runs_without_the_none_row(tmp_path, restore_thread_env):
    """A typo in --methods failed in a child after the other methods had run; without "none" the table's † lookup
    raised KeyError after every measurement. Neither wrote anything."""
    from benchmarks import peers

    with pytest.raises(SystemExit):
        peers.main(["--smoke", "--methods", "none,tlrn,nmrs", "--out", str(tmp_path / "a")])
    assert not (tmp_path / "a").exists()
    assert peers.main(["--smoke", "--methods", "tlrn,nmsr", "--datasets", "cardiac", "--out", str(tmp_path / "b")]) == 0
    R = json.loads((tmp_path / "b" / "results.json").read_text())
    assert list(R["datasets"]["cardiac"]) == ["tlrn", "nmsr"]


def test_results_files_are_replaced_whole(tmp_path, monkeypatch):
    """results.json was written in place: a run killed while writing left half a file where the last results were."""
    from benchmarks import write_json

    path = write_json(tmp_path / "results.json", {"a": 1})
    monkeypatch.setattr(json, "dumps", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        write_json(path, {"a": 2})
    monkeypatch.undo()
    assert json.loads(path.read_text()) == {"a": 1} and [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_nmsr_benchmark_sunnybrook_gives_ants_the_frames_nmsrs_pair_registered(tmp_path, restore_thread_env, monkeypatch):
    """The Sunnybrook section: ANTs registers exactly the ED,ES frames NMSR's pair registered (normalised over the pair;
    it took the pair from the whole cine normalised, a different scaling), and its Dice is scored on its labels."""
    from benchmarks import nmsr as bench

    if not bench.SHARED.is_dir():
        pytest.skip("no shared Sunnybrook data")
    seen, registered = [], []
    register = bench.tl.register
    monkeypatch.setattr(bench.tl, "register", lambda frames, **kw: registered.append(r := register(frames, **kw)) or r)

    def fake_ants(frames, reference=0, labels_ref=None, **kw):
        seen.append(np.array(frames))
        return frames, np.repeat(labels_ref[None], len(frames), 0), np.ones(frames.shape), 0.01

    monkeypatch.setattr(bench, "ants_register", fake_ants)
    monkeypatch.setattr(bench, "have_ants", lambda: True)
    fake = types.ModuleType("ants")  # the script seeds ANTs through ants.config: a stand-in without antspyx
    fake.config = types.ModuleType("ants.config")
    monkeypatch.setitem(sys.modules, "ants", fake)
    monkeypatch.setitem(sys.modules, "ants.config", fake.config)
    assert bench.main(["--smoke", "--out", str(tmp_path), "--skip", smoke_skip("sunnybrook")]) == 0
    assert len(seen) == len(bench.ANTS) and len(registered) == len(bench.SUNNYBROOK_NMSR)
    for frames in seen:
        np.testing.assert_array_equal(frames, registered[0].frames)  # the defaults' pair, as NMSR saw it
    R = json.loads((tmp_path / "results.json").read_text())["sunnybrook"]
    assert set(R) == {"none", *bench.SUNNYBROOK_NMSR, *bench.ANTS}
    assert R["ants SyNCC"]["dice_mean"] == pytest.approx(R["none"]["dice_mean"])  # the fake keeps the ED labels


def fake_antspy(monkeypatch, tmp_path):
    """A stand-in ``ants`` module whose ``registration`` writes its transform files as ANTsPy's does: under
    ``outprefix``, or under a ``mktemp()`` name in the system's temporary folder (here ``tmp_path / "system"``)
    when none is given; ``apply_transforms`` and the Jacobian read those files (failing once they are gone)."""
    import tempfile
    from pathlib import Path

    system = tmp_path / "system"
    system.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system))

    class Img:
        def __init__(self, a):
            self.a = np.asarray(a, np.float32)

        def numpy(self):
            return self.a

    def registration(fixed, moving, type_of_transform, outprefix="", **kw):
        prefix = outprefix or tempfile.mktemp()
        names = [prefix + "1Warp.nii.gz", prefix + "0GenericAffine.mat", prefix + "1InverseWarp.nii.gz"]
        for n in names:
            Path(n).write_bytes(b"transform")
        return {"warpedmovout": Img(moving.a), "fwdtransforms": names[:2], "invtransforms": names[1:]}

    def apply_transforms(fixed, moving, transformlist, **kw):
        assert all(Path(t).read_bytes() == b"transform" for t in transformlist)
        return Img(moving.a)

    def create_jacobian_determinant_image(fixed, tx, *a):
        assert Path(tx).read_bytes() == b"transform"
        return Img(np.ones_like(fixed.a))

    mod = types.SimpleNamespace(from_numpy=lambda a, **kw: Img(a), registration=registration,
                                apply_transforms=apply_transforms,
                                create_jacobian_determinant_image=create_jacobian_determinant_image)
    monkeypatch.setitem(sys.modules, "ants", mod)
    return system


def test_ants_peer_leaves_no_transform_files(monkeypatch, tmp_path):
    """ANTsPy leaves every registration's transform files in the temporary folder unless told where to write them
    (7,380 had piled up in /tmp here): the benchmarks' ANTs peers read them inside a folder of their own, then
    remove it."""
    from benchmarks import pairs
    from benchmarks.tlrn_paper import ants_register

    system = fake_antspy(monkeypatch, tmp_path)
    frames = np.random.default_rng(0).random((3, 8, 8)).astype(np.float32)
    warped, labs, jac, secs, field = ants_register(frames, 0, np.ones((8, 8)), syn="SyNCC", return_field=True)
    assert warped.shape == (3, 8, 8) and labs.shape == (3, 8, 8) and field.shape == (3, 2, 8, 8)
    u, secs, fold = pairs.ants_field(frames[:2])
    assert u.shape == (2, 8, 8) and fold == 0.0
    assert list(system.rglob("*")) == []


def test_fullsize_benchmark_runs_and_the_auto_scale_is_the_pixel_sizes(shared_data, tmp_path, restore_thread_env):
    from benchmarks import fullsize

    assert fullsize.main(["--methods", "tlrn", "--out", str(tmp_path)]) == 0
    out = json.loads((tmp_path / "results.json").read_text())
    rows = out["rows"]
    assert out["cases"] == list(range(2, 11)) and len(rows["none"]["dice"]) == 9
    assert rows["tlrn full, auto (pixel size given)"]["scale"] == [0.5]
    assert rows["tlrn full, auto (pixel size given)"]["dice"] == rows["tlrn full, scale 0.5"]["dice"]
    assert rows["tlrn full, scale 0.25 (size rule)"]["worse"] >= 5 and rows["tlrn full, scale 0.5"]["worse"] == 0
    assert "| tlrn | full, auto (pixel size given) → 0.5 |" in out["table_markdown"]


@pytest.mark.parametrize("method", ["tlrn", "voxelmorph"])
def test_tlrn_benchmark_identity_variants_are_the_models_without_their_bias(method, monkeypatch):
    """The identity section's two ways of taking the models' bias out (benchmarks/tlrn_paper.py): each is zero on one
    frame repeated, where the models' field is not, and on a moving sequence still follows the models' field."""
    from benchmarks.tlrn_paper import _bias_free_velocities
    from napari_tlreg.engines import tlrn as T

    seq = tl.load_sequence("cardiac").frames[:6]
    still = np.stack([seq[0]] * 4)
    models = tl.register(seq, method=method).displacement
    assert np.abs(tl.register(still, method=method).displacement[1:]).mean() > 0.1  # the bias the section measures
    for mode in ("antisymmetric", "null"):
        monkeypatch.setattr(T, "predict_velocities", _bias_free_velocities(mode))
        assert np.abs(tl.register(still, method=method).displacement).max() < 1e-5, mode
        moved = tl.register(seq, method=method).displacement
        assert np.corrcoef(moved[1:].ravel(), models[1:].ravel())[0, 1] > 0.8, mode
        assert not np.allclose(moved, models, atol=0.05)


def test_pairs_benchmark_known_fields_follow_the_pull_convention(shared_data):
    """The smooth and clouds sections of benchmarks/pairs.py score the engines against the field they moved the real
    image by: that field must be the pull field the engines return (frame(x) = reference(x + u(x)))."""
    from benchmarks.pairs import KNOWN_SIZE, _endpoint, _known_pair

    frames, u = _known_pair(lambda r, c: np.stack([np.full_like(r, 3.3), np.full_like(c, -2.7)]))
    assert frames.shape == (2, KNOWN_SIZE, KNOWN_SIZE) and u.shape == (2, KNOWN_SIZE, KNOWN_SIZE)
    inner = (slice(8, -8), slice(8, -8))
    warped = tl.warp(frames[0].astype(np.float64), u.astype(np.float32), order=3)
    # the reference pulled through u is the frame (to interpolation), and the frame is not the reference
    assert np.abs(warped - frames[1])[inner].mean() < 0.1 * np.abs(frames[0] - frames[1])[inner].mean()
    flipped = tl.warp(frames[0].astype(np.float64), -u.astype(np.float32), order=3)  # the push field: not the frame
    assert np.abs(flipped - frames[1])[inner].mean() > 0.5 * np.abs(frames[0] - frames[1])[inner].mean()
    none = _endpoint(frames, u, "none")
    assert none["median"] == pytest.approx(np.hypot(3.3, 2.7)) and none["seconds"] == 0.0


def test_regimes_smoke(tmp_path, restore_thread_env):
    """``benchmarks/regimes.py --smoke``: a still sequence (tlrn's bias, warned of as worse than none; multistep keeps
    its affine) and every other frame inverted (warned of for both engines)."""
    from benchmarks import regimes

    assert regimes.main(["--smoke", "--out", str(tmp_path)]) == 0
    R = json.loads((tmp_path / "results.json").read_text())["cases"]
    still, inverted = R["still"], R["base, every other frame inverted"]
    assert still["none"]["median"] == 0.0 and still["multistep"]["median"] < 0.01
    assert still["tlrn"]["median"] > 0.2 and still["tlrn"]["warnings"] == ["worse"]
    assert all("inverted" in inverted[m]["warnings"] for m in ("tlrn", "multistep"))
    # the truth relative to another reference: a frame against itself is no motion
    truth = regimes.base_motion()
    rel = regimes.relative(truth, 4)
    assert np.abs(rel[4]).max() == 0.0 and np.abs(rel[0] + truth[4]).max() < 0.2
