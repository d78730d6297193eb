"""TLRN / VoxelMorph engines, the trainer, and the shipped weights."""
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import napari_tlreg as tl
from napari_tlreg.engines.nets import TLRNNet
from napari_tlreg.engines.tlrn import time_chains
from napari_tlreg.engines.weights import load_shipped, model_card, sha256
from napari_tlreg.train import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]


def test_methods_lists_both_and_unknown_method_is_refused():
    m = tl.methods()
    assert {"tlrn", "voxelmorph"} <= set(m)
    with pytest.raises(ValueError, match="known methods: .*tlrn"):
        tl.register(np.zeros((3, 32, 32)), method="nope")


def test_time_chains_any_reference():
    assert time_chains(5, 0) == [[1, 2, 3, 4]]
    assert time_chains(5, 4) == [[3, 2, 1, 0]]
    assert time_chains(5, 2) == [[3, 4], [1, 0]]


def test_voxelmorph_shares_the_backbone_exactly():
    a, b = TLRNNet(residual=True), TLRNNet(residual=False)
    ka = {k for k in a.state_dict() if not k.startswith("units.")}
    assert ka == set(b.state_dict())
    assert any(k.startswith("units.") for k in a.state_dict())


def test_residual_unit_carries_information_over_time_and_pairwise_does_not():
    torch.manual_seed(0)
    for residual in (True, False):
        net = TLRNNet(residual=residual).eval()
        for p in net.parameters():  # make the head non-trivial so outputs differ
            p.data.normal_(0, 0.1)
        ref = torch.rand(1, 1, 32, 32)
        frames = torch.rand(1, 4, 32, 32)
        changed = frames.clone()
        changed[:, 0] = torch.rand(32, 32)
        with torch.no_grad():
            v1, v2 = net(ref, frames), net(ref, changed)
        late_diff = (v1[:, 3] - v2[:, 3]).abs().max().item()
        if residual:
            assert late_diff > 1e-6  # frame 1 influences frame 4 through the latent recurrence
        else:
            assert late_diff == 0.0


@pytest.mark.parametrize("method", ["tlrn", "voxelmorph"])
def test_register_shapes_reference_and_odd_sizes(method):
    seq = tl.load_sequence("lemniscate")
    frames = seq.frames[:6, 3:40, 5:58]  # 37 x 53: not a multiple of 8
    for ref in (0, 3, 5):
        res = tl.register(frames, method=method, reference=ref, device="cpu")
        assert res.displacement.shape == (6, 2, 37, 53)
        assert res.warped.shape == res.jacobian.shape == (6, 37, 53)
        assert np.abs(res.displacement[ref]).max() == 0.0
        assert res.reference == ref and res.method == method
        assert np.isfinite(res.displacement).all()
        for t in set(range(6)) - {ref}:  # each frame to this reference (0.016-0.096 measured; registering to frame 0
            # whatever the reference gave 1.0-11: this test passed with it, as displacement[ref] == 0 is set by the API)
            before = ((frames[ref] - frames[t]) ** 2).mean()
            assert ((res.warped[t] - frames[t]) ** 2).mean() < 0.3 * before, (ref, t)


def test_register_improves_alignment_on_an_unseen_phantom():
    from napari_tlreg.synth.cardiac import cardiac_phantom

    seq = cardiac_phantom(n_frames=8, size=64, seed=987_654)
    res = tl.register(seq.frames, method="tlrn")
    before = ((res.frames - res.frames[0]) ** 2).mean()
    after = ((res.frames - res.warped) ** 2).mean()
    assert after < 0.5 * before
    lab = res.warp_labels(seq.labels[0])
    dice = np.mean([tl.metrics.dice(lab[t] == 1, seq.labels[t] == 1) for t in range(1, 8)])
    assert dice > 0.8


def test_progress_and_cancel():
    import threading

    calls = []
    frames = tl.load_sequence("lemniscate").frames
    tl.register(frames, method="tlrn", reference=5, progress=lambda d, t, m: calls.append((d, t, m)))
    assert calls and calls[-1][:2] == (1, 1)
    ev = threading.Event()
    ev.set()
    with pytest.raises(tl.Cancelled):
        tl.register(frames, method="tlrn", cancel=ev)
    with pytest.raises(tl.Cancelled):
        tl.register(frames, method="tlrn", cancel=lambda: len(calls) > 0)


@pytest.mark.parametrize(
    "frames, match",
    [
        (np.zeros((1, 32, 32)), "at least 2 frames"),
        (np.zeros((32, 32)), r"\(T, H, W\)"),
        (np.zeros((4, 32, 32, 3)), "colour"),
        (np.full((3, 32, 32), np.nan), "NaN"),
        (np.zeros((3, 4, 32)), "too small"),
    ],
)
def test_bad_frames_are_refused_clearly(frames, match):
    with pytest.raises(ValueError, match=match):
        tl.register(frames, method="tlrn")


def test_bad_params_and_reference():
    f = np.random.default_rng(0).random((3, 32, 32))
    with pytest.raises(ValueError, match="out of range"):
        tl.register(f, reference=3)
    with pytest.raises(ValueError, match="no parameter"):
        tl.register(f, sigma=2)
    with pytest.raises(TypeError, match="integer"):
        tl.register(f, steps=2.5)
    with pytest.raises(ValueError, match="huge|exceeds"):
        tl.register(np.broadcast_to(np.float32(0), (10_000, 512, 512)))
    with pytest.raises(ValueError, match="no CUDA" if not torch.cuda.is_available() else "zzz"):
        tl.register(f, device="cuda")


def test_scale_parameter_and_auto_scale():
    from napari_tlreg.engines.tlrn import auto_scale

    assert auto_scale(64, 64, 64) == 1.0 and auto_scale(128, 100, 64) == 0.5 and auto_scale(32, 32, 64) == 1.0
    assert auto_scale(1024, 1024, 64) == 0.25
    seq = tl.load_sequence("cardiac")  # 128 x 128: auto runs the 64-px model at scale 0.5
    auto = tl.register(seq.frames[:6], method="tlrn")
    half = tl.register(seq.frames[:6], method="tlrn", scale=0.5)
    full = tl.register(seq.frames[:6], method="tlrn", scale=1.0)
    np.testing.assert_array_equal(auto.displacement, half.displacement)
    assert full.displacement.shape == half.displacement.shape == (6, 2, 128, 128)
    # both move the same anatomy: the fields agree in direction where the motion is
    m = np.abs(half.displacement[3]).sum(0) > 0.5
    assert m.any()
    assert np.corrcoef(full.displacement[3][:, m].ravel(), half.displacement[3][:, m].ravel())[0, 1] > 0.5
    with pytest.raises(ValueError, match="scale"):
        tl.register(seq.frames[:3], method="tlrn", scale=50.0)


# ---- shipped weights -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["tlrn_cine64", "voxelmorph_cine64", "tlrn_synth64", "voxelmorph_synth64"])
def test_shipped_weights_match_their_card(name):
    card = model_card(name)
    path = ROOT / "resources" / card["file"]
    assert sha256(path) == card["sha256"]
    state, _ = load_shipped(name)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    assert path.stat().st_size < 5 * 2**20
    for key in ("data", "iterations", "seed", "command", "figures"):
        assert key in card["training"] or key in card


def test_tampered_weights_are_refused(tmp_path, monkeypatch):
    import shutil

    from napari_tlreg.engines import weights

    res = tmp_path / "resources"
    shutil.copytree(ROOT / "resources", res)
    card = json.loads((res / "models" / "tlrn_cine64.json").read_text())
    with open(res / card["file"], "r+b") as f:
        f.seek(200)
        f.write(b"\x00\x01\x02\x03")
    monkeypatch.setattr(weights, "resources_dir", lambda: res)
    with pytest.raises(ValueError, match="sha256"):
        weights.load_shipped("tlrn_cine64")


def test_weights_and_cards_are_written_whole_or_not_at_all(tmp_path):
    """``save_weights`` / ``write_model_card`` (the training and shipping scripts'): a failed write keeps the
    previous file as it was and leaves no temporary file; a good one loads with ``weights_only=True``."""
    from napari_tlreg.engines.weights import load_checkpoint, save_weights, write_model_card

    card = tmp_path / "models" / "m.json"
    write_model_card(card, {"name": "m", "figures": {"dice": 0.9}})
    with pytest.raises(TypeError):
        write_model_card(card, {"name": "m", "figures": object()})  # not JSON: fails mid-way
    assert json.loads(card.read_text()) == {"name": "m", "figures": {"dice": 0.9}}
    pt = tmp_path / "weights" / "m.pt"
    save_weights(pt, {"model": {"w": torch.ones(3)}, "config": {}, "method": "nmsr"})
    with pytest.raises(Exception):
        save_weights(pt, {"model": {"w": torch.zeros(3)}, "bad": lambda: 0})  # not picklable
    assert torch.equal(load_checkpoint(pt)["model"]["w"], torch.ones(3))
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["m.json", "m.pt"]


def test_shipped_weights_reach_their_card_figures_on_a_quick_subset():
    """CI check: the model card's figures, re-measured on the first few test phantoms."""
    from benchmarks.tlrn_paper import evaluate_cardiac

    # the synthetic-only models too (review: only the cine models' cards were checked)
    for name, method in (("tlrn_cine64", "tlrn"), ("voxelmorph_cine64", "voxelmorph"),
                         ("tlrn_synth64", "tlrn"), ("voxelmorph_synth64", "voxelmorph")):
        card = model_card(name)
        quick = card["figures"]["quick_check"]
        got = evaluate_cardiac(method, n_sequences=quick["n_sequences"], seed0=quick["seed0"], n_frames=quick["n_frames"],
                               weights=name)
        # within the card's rounding (4 places) and another CPU's arithmetic (the figures match to ~5e-5 here): at 0.01,
        # weights 5 % noisier passed (0.9638 against 0.9677) and scored below ANTs' Dice on the unseen phantoms
        # (training review, 2026-12-07); a card the model moved from, up or down, is re-measured
        assert abs(got["dice_mean"] - quick["dice_mean"]) <= 0.002, (name, got)
        assert got["folding_pct"] <= quick["folding_pct"] + 0.01, (name, got)


def test_every_shipped_weights_file_has_a_card_and_every_card_is_checked():
    """(2026-12-07, training review) The checks' lists were written by hand: a model shipped beside them, or a weights
    file without a card, passed every test. Every file in resources/weights is a card's, and every card's quick
    figures are re-measured by one of the checks (tlrn/voxelmorph here, multistep/hsyn in test_shipped_pairs, nmsr in
    test_nmsr)."""
    import json

    from napari_tlreg._paths import resources_dir

    cards = {p.stem: json.loads(p.read_text()) for p in (resources_dir() / "models").glob("*.json")}
    weights = {p.name for p in (resources_dir() / "weights").glob("*") if p.is_file() and not p.name.startswith(".")}
    assert weights == {Path(c["file"]).name for c in cards.values()}, "a weights file without a card, or a card without one"
    from test_shipped_pairs import MODELS as PAIRS

    checked = {"tlrn_cine64", "voxelmorph_cine64", "tlrn_synth64", "voxelmorph_synth64", *PAIRS, "nmsr_synth"}
    assert set(cards) == checked, f"cards no check re-measures: {sorted(set(cards) - checked)}"
    assert all("quick_check" in c["figures"] for c in cards.values())


# ---- training -----------------------------------------------------------------------------------------
def _tiny(tmp_path, name="w.pt", **kw):
    cfg = dict(method="tlrn", data="synthetic:cardiac", out=str(tmp_path / name), iterations=3, batch=2,
               n_frames=4, size=32, checkpoint_every=2, threads=1, device="cpu")
    cfg.update(kw)
    return TrainConfig(**cfg)


def test_tiny_training_run_checkpoints_resumes_and_is_deterministic(tmp_path):
    seen = []
    out = train(_tiny(tmp_path), progress=lambda d, t, s: seen.append((d, s["mse"])))
    assert [d for d, _ in seen] == [1, 2, 3]
    ck = torch.load(out, weights_only=True)
    assert ck["step"] == 3 and ck["method"] == "tlrn"
    # same seed -> bit-identical weights
    out2 = train(_tiny(tmp_path, "w2.pt"), progress=lambda *a: None)
    ck2 = torch.load(out2, weights_only=True)
    assert all(torch.equal(ck["model"][k], ck2["model"][k]) for k in ck["model"])
    # stop at 2 then resume to 3 == straight to 3
    train(_tiny(tmp_path, "w3.pt", iterations=2), progress=lambda *a: None)
    train(_tiny(tmp_path, "w3.pt", resume=True), progress=lambda *a: None)
    ck3 = torch.load(tmp_path / "w3.pt", weights_only=True)
    assert ck3["step"] == 3
    assert all(torch.allclose(ck["model"][k].float(), ck3["model"][k].float(), atol=1e-6) for k in ck["model"])
    # a user checkpoint is usable by register
    res = tl.register(tl.load_sequence("lemniscate").frames[:4], method="tlrn", weights=str(out))
    assert res.displacement.shape[0] == 4


def test_training_on_a_user_folder(tmp_path):
    from napari_tlreg.io import save_stack

    data = tmp_path / "data"
    seq = tl.load_sequence("cardiac")
    save_stack(data / "a.tif", seq.frames[:10])
    save_stack(data / "b.tif", seq.frames[10:])
    (data / "junk.tif").write_bytes(b"not a tiff")
    nan = seq.frames[:6].copy()
    nan[3, 5, 5] = np.nan  # one pixel made the whole sequence 0 after normalisation, trained on without a word
    save_stack(data / "nan.tif", nan)
    save_stack(data / "one.tif", seq.frames[:1])
    save_stack(data / "zero.tif", np.full((5, 32, 32), 7.0, np.float32))  # trained on with every loss 0, without a word
    torch.use_deterministic_algorithms(False)
    with pytest.warns(UserWarning, match=r"skipped 4 file\(s\): junk.tif \(.*\); nan.tif \(NaN or infinite values\); "
                                         r"one.tif \(1 frame\); zero.tif \(constant\)"):
        out = train(_tiny(tmp_path, data=str(data), method="voxelmorph"), progress=lambda *a: None)
    assert torch.load(out, weights_only=True)["method"] == "voxelmorph"
    assert not torch.are_deterministic_algorithms_enabled()  # the CPU run's deterministic mode did not outlive it
    for name in ("a", "b", "nan", "one", "junk"):
        (data / f"{name}.tif").unlink()
    with pytest.raises(ValueError, match="no readable sequences of 2 or more frames"), pytest.warns(UserWarning, match="zero.tif"):
        train(_tiny(tmp_path, data=str(data)), progress=lambda *a: None)
    with pytest.raises(ValueError, match="not found"):
        train(_tiny(tmp_path, data=str(tmp_path / "missing")), progress=lambda *a: None)


def test_cli_train_under_torchrun_with_two_gloo_processes(tmp_path):
    import socket

    out = tmp_path / "ddp.pt"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with socket.socket() as sock:  # a free port, not a fixed one another run (or a port still closing) may hold
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={port}",
           "-m", "napari_tlreg.cli", "train", "tlrn", "--iterations", "2", "--batch", "1", "--frames", "3",
           "--size", "32", "--device", "cpu", "--threads", "1", "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    ck = torch.load(out, weights_only=True)
    assert ck["step"] == 2


def test_streaming_in_blocks_equals_one_pass_and_reports_progress():
    from napari_tlreg.engines.base import RunContext
    from napari_tlreg.engines.tlrn import load_net, predict_velocities

    net, _ = load_net("", "tlrn_cine64", True, torch.device("cpu"))
    x = torch.rand(23, 32, 40)
    seen = []
    with torch.no_grad():
        whole = predict_velocities(net, x, 6, block=1000)
        blocks = predict_velocities(net, x, 6, RunContext(progress=lambda d, t, m: seen.append((d, t, m))), block=4)
    assert torch.allclose(whole, blocks, atol=1e-5)
    assert seen[0][:2] == (0, 22) and len(seen) == 4 + 2 + 1  # forward chain 16 frames = 4 blocks, backward 6 = 2
    assert seen[-1][:2] == (22, 22)  # the stage ends at its total (API review: it stopped at (16, 22))
    # the frames by their numbers (README review: "frames 1-1 of 19" while frame 19 was registered to reference 18)
    assert [m for *_, m in seen[:6]] == ["frames 7-10 (4 of 22)", "frames 11-14 (8 of 22)", "frames 15-18 (12 of 22)",
                                         "frames 19-22 (16 of 22)", "frames 2-5 (20 of 22)", "frames 0-1 (22 of 22)"]
    # (CLI review: "frames 1-0" for the chain back towards frame 0)


def test_half_resolution_head_geometry():
    """flow_level=1: a field on the pooled half grid comes back on the image grid with the pooling's geometry."""
    from napari_tlreg.engines.nets import velocity_to_displacement

    # constant velocity (2.5, -1) half-grid px -> exactly (5, -2) image px everywhere
    v = torch.tensor([2.5, -1.0]).view(1, 2, 1, 1).expand(1, 2, 16, 20).contiguous()
    u = velocity_to_displacement(v, 0, flow_level=1)
    assert u.shape == (1, 2, 32, 40)
    assert torch.allclose(u, torch.tensor([5.0, -2.0]).view(1, 2, 1, 1).expand_as(u))
    # a linear field sampled at half-grid pixel centres (image coordinate 2i + 0.5) is reproduced
    # at every interior image pixel: no half-pixel shift
    i = torch.arange(16, dtype=torch.float32)
    x_half = 2 * i + 0.5
    v = (0.05 * x_half).view(1, 1, 16, 1).expand(1, 2, 16, 20).contiguous() / 2  # half-grid px
    u = velocity_to_displacement(v, 0, flow_level=1)
    x = torch.arange(32, dtype=torch.float32)
    assert torch.allclose(u[0, 0, 1:-1, 5], 0.05 * x[1:-1], atol=1e-5)


def test_half_resolution_network_warm_starts_from_a_full_one_and_registers_any_size(tmp_path):
    from napari_tlreg.engines.nets import half_resolution_state

    full = TLRNNet(residual=True)
    half = TLRNNet(residual=True, flow_level=1)
    half.load_state_dict(half_resolution_state(full.state_dict()))  # strict: every key fits
    ref, frames = torch.rand(1, 1, 32, 40), torch.rand(1, 3, 32, 40)
    with torch.no_grad():
        v, _ = half.step(ref, frames)
    assert v.shape == (1, 3, 2, 16, 20)
    path = tmp_path / "half.pt"
    torch.save({"model": half.state_dict(), "config": {"flow_level": 1}, "method": "tlrn"}, path)
    seq = tl.load_sequence("lemniscate")
    res = tl.register(seq.frames[:5, 3:40, 5:58], method="tlrn", weights=str(path), reference=2, scale=1.0)
    assert res.displacement.shape == (5, 2, 37, 53)
    assert np.abs(res.displacement[2]).max() == 0.0 and np.isfinite(res.displacement).all()


def test_cosine_learning_rate_schedule_and_resume(tmp_path):
    from napari_tlreg.train import learning_rate

    cfg = TrainConfig(lr=1e-3, iterations=100, lr_schedule="cosine")
    assert learning_rate(cfg, 0) == pytest.approx(1e-3) and learning_rate(cfg, 50) == pytest.approx(5e-4)
    assert learning_rate(cfg, 99) < 1e-6 and learning_rate(TrainConfig(lr=1e-3), 99) == 1e-3
    # interrupted after the step-2 checkpoint, then resumed == straight through, under the schedule too
    a = train(_tiny(tmp_path, "a.pt", lr_schedule="cosine"), progress=lambda *a: None)

    class Stop(Exception):
        pass

    def stop_at_3(done, total, stats):
        if done == 3:
            raise Stop

    with pytest.raises(Stop):
        train(_tiny(tmp_path, "b.pt", lr_schedule="cosine"), progress=stop_at_3)
    assert torch.load(tmp_path / "b.pt", weights_only=True)["step"] == 2
    b = train(_tiny(tmp_path, "b.pt", resume=True, lr_schedule="cosine"), progress=lambda *a: None)
    ka, kb = torch.load(a, weights_only=True)["model"], torch.load(b, weights_only=True)["model"]
    assert all(torch.allclose(ka[k].float(), kb[k].float(), atol=1e-6) for k in ka)
    with pytest.raises(ValueError, match="lr_schedule"):
        train(_tiny(tmp_path, "c.pt", lr_schedule="step"), progress=lambda *a: None)


def test_validation_keeps_the_best_checkpoint_and_resumes_its_history(tmp_path, capsys):
    from napari_tlreg.engines.weights import load_checkpoint
    from napari_tlreg.train import best_path

    seen = []
    cfg = _tiny(tmp_path, "v.pt", iterations=6, val_every=2, val_batches=2, lr=3e-3)
    out = train(cfg, progress=lambda d, t, s: seen.append((d, s.get("val"))))
    ck = load_checkpoint(out)  # weights_only
    hist = ck["val"]["history"]
    assert [h[0] for h in hist] == [2, 4, 6] and [v for d, v in seen if v is not None] == [h[1] for h in hist]
    best_step, best_loss = min(hist, key=lambda h: h[1])
    assert ck["val"]["best_step"] == best_step and ck["val"]["best_loss"] == pytest.approx(best_loss)
    best = load_checkpoint(best_path(out))
    assert best_path(out).name == "v.best.pt" and best["step"] == best_step
    # the best checkpoint's weights give that validation loss again (and register like any checkpoint)
    from napari_tlreg.train import TASKS, VALIDATION_STREAM, make_batch, resolve_config, validation_loss

    rcfg = resolve_config(cfg)
    task = TASKS["tlrn"]
    net_cfg = task.net_config(rcfg)
    net = task.build(net_cfg)
    net.load_state_dict(best["model"])
    batches = [make_batch(rcfg, k, VALIDATION_STREAM, {}) for k in range(2)]
    assert validation_loss(task, net, batches, rcfg, net_cfg, best_step - 1, "cpu") == pytest.approx(best_loss, rel=1e-5)
    assert net.training  # mode restored
    # held-out batches are not training batches
    assert not any(np.array_equal(batches[0], make_batch(rcfg, k, 0, {})) for k in range(6))
    # a run of 4 steps resumed to 6 continues the history
    train(_tiny(tmp_path, "r.pt", iterations=4, val_every=2, val_batches=2, lr=3e-3), progress=lambda *a: None)
    train(_tiny(tmp_path, "r.pt", iterations=6, val_every=2, val_batches=2, lr=3e-3, resume=True), progress=lambda *a: None)
    assert [h[0] for h in load_checkpoint(tmp_path / "r.pt")["val"]["history"]] == [2, 4, 6]
    with pytest.raises(ValueError, match="--val-every"):
        train(_tiny(tmp_path, "bad.pt", val_every=-1), progress=lambda *a: None)
    # the CLI flags
    from napari_tlreg.cli import main

    assert main(["train", "tlrn", "--iterations", "2", "--batch", "1", "--frames", "3", "--size", "32", "--threads", "1",
                 "--device", "cpu", "--val-every", "1", "--val-batches", "1", "--out", str(tmp_path / "c.pt")]) == 0
    best = load_checkpoint(tmp_path / "c.best.pt")["val"]
    assert best["history"][0][0] == 1
    # named where it was written (it was not: the user found w.best.pt by listing the folder)
    assert (f"the lowest held-out loss's weights (step {best['best_step']}, val={best['best_loss']:.5g}) written to "
            f"{tmp_path / 'c.best.pt'}") in capsys.readouterr().out


def test_hsyn_validation_compares_only_within_one_number_of_levels():
    from napari_tlreg.train import TASKS

    task, net_cfg = TASKS["hsyn"], TASKS["hsyn"].default_net
    assert [task.regime(net_cfg, s, 100) for s in (0, 19, 20, 44, 45, 99)] == [1, 1, 2, 2, 3, 3]
    assert TASKS["tlrn"].regime({}, 5, 100) == TASKS["multistep"].regime({}, 99, 100) == 0


# ---- found in review (2026-12-04) ------------------------------------------------------------------------------
@pytest.mark.parametrize("kw, match", [({"checkpoint_every": 0}, r"^train: --checkpoint-every must be at least 1, got 0$"),
                                       ({"threads": -1}, r"^train: --threads must be 0 \(torch's default\) or more, got -1$"),
                                       ({"out": "."}, "it is a folder"),
                                       # one message named iterations, batch, frames and size, and "(got size 32)"
                                       ({"iterations": 0}, r"^train: --iterations must be at least 1, got 0$"),
                                       ({"batch": -5}, r"^train: --batch must be at least 1, got -5$"),
                                       ({"n_frames": 1}, r"^train: --frames must be at least 2, got 1$"),
                                       ({"val_every": -1}, r"^train: --val-every must be 0 \(none\) or more, got -1$"),
                                       ({"val_batches": 0}, r"^train: --val-batches must be at least 1, got 0$")])
def test_training_settings_that_cannot_work_are_refused_before_the_first_step(tmp_path, kw, match):
    """``checkpoint_every=0`` ended in a ZeroDivisionError and ``threads=-1`` in torch's RuntimeError; an ``out``
    that cannot be written was found after the whole run."""
    seen = []
    kw = {k: (str(tmp_path) if v == "." else v) for k, v in kw.items()}
    with pytest.raises(ValueError, match=match):
        train(_tiny(tmp_path, **kw), progress=lambda d, *a: seen.append(d))
    assert seen == []


def test_weights_of_another_network_are_a_clear_error(tmp_path):
    """``--resume`` from another method's weights gave torch's page-long error; ``--init`` with them loaded nothing
    (strict=False) and trained from scratch without a word."""
    other = train(_tiny(tmp_path, "pairs.pt", method="multistep", data="synthetic:satellite", size=32, n_frames=2),
                  progress=lambda *a: None)
    with pytest.raises(ValueError, match="--init .*: these weights do not fit the TLRNNet"):
        train(_tiny(tmp_path, "a.pt", init=str(other)), progress=lambda *a: None)
    import shutil

    shutil.copy(other, tmp_path / "b.pt")
    with pytest.raises(ValueError, match="--resume .*b.pt: a multistep checkpoint; this run trains tlrn$"):
        train(_tiny(tmp_path, "b.pt", resume=True), progress=lambda *a: None)


def test_checkpoints_that_cannot_be_written_or_resumed_say_so_before_training(tmp_path, monkeypatch):
    """An --out that cannot be written failed at the first checkpoint (step 200 by default) with torch's traceback;
    --resume from weights without the optimizer was a KeyError, and from a missing file silently started at 0."""
    import napari_tlreg.train as T

    steps = []
    if Path("/proc/self").is_dir():  # a folder no one may create files in, root included
        with pytest.raises(OSError, match="--out /proc/w.pt: cannot write there"):
            train(_tiny(tmp_path, out="/proc/w.pt"), progress=lambda d, *a: steps.append(d))
        assert not steps  # refused before the first step
    out = train(_tiny(tmp_path, "w.pt", iterations=1), progress=lambda *a: None)
    torch.save({"model": torch.load(out, weights_only=True)["model"]}, tmp_path / "bare.pt")
    with pytest.raises(ValueError, match=r"--resume .*bare.pt: not a trainer checkpoint \(no optimizer, step\); --init"):
        train(_tiny(tmp_path, "bare.pt", resume=True), progress=lambda *a: None)
    with pytest.warns(UserWarning, match="--resume: no checkpoint at .*missing.pt; training from step 0"):
        train(_tiny(tmp_path, "missing.pt", iterations=1, resume=True), progress=lambda *a: None)

    def full_disk(*a, **k):
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 64 vs 0")

    monkeypatch.setattr(T.torch, "save", full_disk)
    with pytest.raises(OSError, match="the checkpoint could not be written .*unexpected pos"):
        train(_tiny(tmp_path, "w4.pt", iterations=1), progress=lambda *a: None)
    assert not (tmp_path / "w4.pt").exists() and not list(tmp_path.glob(".w4.pt*"))


def test_a_folder_of_sequences_does_not_train_on_their_labels(tmp_path):
    from napari_tlreg.io import save_stack
    from napari_tlreg.train import FolderData

    seq = tl.load_sequence("cardiac")
    save_stack(tmp_path / "a.tif", seq.frames[:6])
    save_stack(tmp_path / "a_labels.tif", seq.labels[:6].astype(np.int32))
    assert len(FolderData(tmp_path, 32).seqs) == 1


# ---- found in review (session 29) ----------------------------------------------------------------------------
@pytest.mark.parametrize("method, net, match", [
    ("multistep", {"steps": 2.5}, "steps must be a whole number"),  # trained with 2 steps, the card said 2.5
    ("multistep", {"steps": 0}, r"steps must be in \[1, 100\]"),  # torch's 'stack expects a non-empty TensorList'
    ("tlrn", {"shared": "maybe"}, "shared must be true or false"),  # taken as True
    ("multistep", {"affine_fraction": 3}, r"affine_fraction must be in \[0, 1\]"),
    ("hsyn", {"smc": -1}, r"smc must be in \[0, 1e\+06\]"),
    ("hsyn", {"schedule": [0.5, 0.2]}, "schedule must be in increasing order"),
    ("tlrn", {"enc": [16, 32]}, "enc must be a list of 4 numbers"),
])
def test_network_options_are_checked_before_the_first_step(tmp_path, method, net, match):
    from napari_tlreg.train import resolve_config

    with pytest.raises(ValueError, match=match):
        resolve_config(_tiny(tmp_path, method=method, net=net, size=32, data=None))


@pytest.mark.parametrize("kw, match", [({"size": -8}, "at least 16"), ({"size": 8}, "at least 16"),
                                       ({"method": "multistep", "size": 16}, "at least 32"),
                                       ({"data": "synthetic:foo"}, "unknown synthetic data 'synthetic:foo'")])
def test_sizes_and_data_sources_are_checked_before_the_first_step(tmp_path, kw, match):
    """A negative size failed in numpy, 8 px in BatchNorm's 'more than 1 value per channel', a misspelt synthetic
    source only when a batch first drew it."""
    from napari_tlreg.train import resolve_config

    with pytest.raises(ValueError, match=match):
        resolve_config(_tiny(tmp_path, **{"data": None, **kw}))


def test_tlrn_per_step_units_train_and_register(tmp_path):
    """``shared=false`` (the authors' unit per time step) trained the same single unit as the shared network."""
    out = train(_tiny(tmp_path, "units.pt", net={"shared": False}, n_frames=5, size=32), progress=lambda *a: None)
    ck = torch.load(out, weights_only=True)
    assert ck["config"]["shared"] is False and ck["config"]["n_units"] == 3
    assert sorted({k.split(".")[1] for k in ck["model"] if k.startswith("units.")}) == ["0", "1", "2"]
    x = np.random.default_rng(0).random((6, 32, 32)).astype(np.float32)
    assert tl.register(x, method="tlrn", weights=str(out)).displacement.shape == (6, 2, 32, 32)


def test_weights_trained_again_into_the_same_path_are_loaded_afresh(tmp_path):
    """The engines cached networks by the weights string: a checkpoint trained again into the same path kept
    registering with the old network."""
    from napari_tlreg.engines import tlrn as engine

    path = tmp_path / "w.pt"
    x = np.random.default_rng(0).random((4, 32, 32)).astype(np.float32)
    train(_tiny(tmp_path, "w.pt", size=32), progress=lambda *a: None)
    first = tl.register(x, method="tlrn", weights=str(path)).displacement
    train(_tiny(tmp_path, "w.pt", size=32, seed=7, iterations=3, lr=1e-2), progress=lambda *a: None)
    second = tl.register(x, method="tlrn", weights=str(path)).displacement
    engine._MODELS.clear()
    fresh = tl.register(x, method="tlrn", weights=str(path)).displacement
    assert not np.array_equal(first, fresh) and np.array_equal(second, fresh)


def test_ship_weights_changes_the_file_and_its_card_together(tmp_path, monkeypatch):
    """The weights were replaced first and the card written minutes later, after the figures: an interrupted or
    failed run left new weights beside the old card, whose sha256 then refused them (the default engine broke)."""
    import shutil

    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import ship_weights
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    res = tmp_path / "resources"
    shutil.copytree(ROOT / "resources" / "weights", res / "weights")
    shutil.copytree(ROOT / "resources" / "models", res / "models")
    monkeypatch.setattr(ship_weights, "ROOT", tmp_path)
    monkeypatch.setattr(ship_weights, "WEIGHTS", res / "weights")
    monkeypatch.setattr(ship_weights, "MODELS", res / "models")
    new = train(_tiny(tmp_path, "new.pt", size=32), progress=lambda *a: None)
    before = {p.name: p.read_bytes() for p in [*(res / "weights").iterdir(), *(res / "models").iterdir()]}

    def fails(method, w):
        assert Path(w["weights"]).is_file()  # measured on the staged weights
        raise KeyboardInterrupt

    monkeypatch.setitem(ship_weights.FIGURES, "tlrn", fails)
    with pytest.raises(KeyboardInterrupt):
        ship_weights.main([str(new), "--name", "tlrn_cine64", "--command", "x"])
    after = {p.name: p.read_bytes() for p in [*(res / "weights").iterdir(), *(res / "models").iterdir()]}
    assert after == before  # nothing changed, no staged file left
    monkeypatch.setitem(ship_weights.FIGURES, "tlrn", lambda method, w: {"quick_check": {"w": Path(w["weights"]).name}})
    ship_weights.main([str(new), "--name", "tlrn_cine64", "--command", "x"])
    card = json.loads((res / "models" / "tlrn_cine64.json").read_text())
    assert card["sha256"] == sha256(res / "weights" / "tlrn_cine64.pt") != sha256(ROOT / "resources" / "weights" / "tlrn_cine64.pt")
    assert sorted(p.name for p in (res / "weights").iterdir()) == sorted(before_w for before_w in before if before_w.endswith(".pt"))
    with pytest.raises(SystemExit, match="no figures defined for method 'nmsr'"):
        ship_weights.main(["--refresh", "nmsr_synth"])


def _sunnybrook_full_size(shared_data, i):
    """Slice ``i`` of the held-out patient's crop file at full size (256 px, 1.37 mm pixels, from the DICOM folder)
    with its ED and ES endocardium placed where the crop was taken: ``(frames ED/ES, spacing, endo ED/ES)``."""
    from napari_tlreg.io import load_sequence

    d = np.load(shared_data / "sunnybrook" / "SCD0000101_crop128.npz")
    r0, c0 = (int(v) for v in d["crop_origin_rc"])
    seq = load_sequence(shared_data / "sunnybrook" / "dicom_SCD0000101", slice=int(d["slice_index"][i]))
    np.testing.assert_array_equal(seq.frames[:, r0:r0 + 128, c0:c0 + 128], d["cine"][i])  # the crop's own frames
    ed = int(np.flatnonzero(d["has_epi"][i])[0])
    es = int([t for t in np.flatnonzero(d["has_endo"][i]) if t != ed][0])
    endo = np.zeros((2, *seq.frames.shape[1:]), np.int32)
    endo[:, r0:r0 + 128, c0:c0 + 128] = d["endo"][i][[ed, es]]
    return seq.frames[[ed, es]], seq.spacing, endo


def test_a_full_field_of_view_runs_at_the_pixel_size_the_models_know(shared_data):
    """A 256-px Sunnybrook slice of 1.37 mm pixels ran at 64 px (the size rule: 5.5 mm a pixel, the heart a quarter
    of its size in training): its ED->ES Dice fell below the 128-px crop's, and on slice 5 the warped frames matched
    worse than none, without a word. With its pixel size known the scale is chosen from it (0.5: 2.7 mm a pixel)."""
    import warnings

    from napari_tlreg import metrics

    frames, spacing, endo = _sunnybrook_full_size(shared_data, 1)  # slice position 3
    with pytest.warns(UserWarning, match="matches the frames worse than the reference left as it is"):
        by_size = tl.register(frames, spacing=spacing, scale=0.25)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = tl.register(frames, spacing=spacing)
    assert res.params["scale"] == 0.5
    with pytest.warns(UserWarning, match="matches the frames worse"):  # no pixel size: the size rule, as before
        assert tl.register(frames).params["scale"] == 0.25  # the scale it ran at, recorded
    dice = [metrics.dice(r.warp_labels(endo[0])[1], endo[1]) for r in (res, by_size)]
    assert dice[0] > dice[1] + 0.02 and dice[0] > 0.9, dice


def test_a_field_that_matches_worse_than_none_is_warned_of(shared_data):
    from napari_tlreg.io import load_sequence

    seq = load_sequence(shared_data / "sunnybrook" / "dicom_SCD0000101", slice=5)
    notes = []
    tl.register(seq, reference=18, scale=0.25, on_warning=notes.append)
    import re

    found = re.fullmatch(r"tlrn: the warped reference matches the frames worse than the reference left as it is \(mean "
                         r"MSE (\S+) against (\S+); worse on (\d+) of 19 frames\): this field does not fit these frames; "
                         r"try another method \(nmsr fits the sequence in front of it\)", notes[0]) if notes else None
    assert len(notes) == 1 and found, notes
    assert float(found[1]) > float(found[2]) and int(found[3]) >= 15
    notes.clear()
    tl.register(seq, reference=18, on_warning=notes.append)
    assert notes == []


def test_a_pair_of_dates_worse_than_none_is_pointed_to_the_pair_engines(monkeypatch):
    """(2026-12-07, satellite review) A Sentinel-2 pair whose field matched worse than none was told to try nmsr, two
    lines after the command line had named the pair engines for a pair of dates."""
    from napari_tlreg import api
    from napari_tlreg.api import PAIR_METHOD, worse_message

    monkeypatch.setattr(api, "worse_than_none", lambda *a: (0.02, 0.01, 1, 1))
    rng = np.random.default_rng(0)
    pair = rng.random((2, 32, 32)).astype(np.float32)
    notes = []
    tl.register(pair, method="multistep", spacing=(10.0, 10.0), unit="m", on_warning=notes.append)
    assert notes[0].endswith(f"try another method ({PAIR_METHOD}, for dates of a map)"), notes
    notes.clear()
    tl.register(pair, method=PAIR_METHOD, spacing=(10.0, 10.0), unit="m", on_warning=notes.append)
    assert notes[0].endswith("try another method (multistep, for dates of a map)"), notes
    notes.clear()
    tl.register(pair, method="multistep", spacing=(1.3, 1.3), on_warning=notes.append)  # an ED/ES pair in mm
    assert notes[0].endswith("(nmsr fits the sequence in front of it)"), notes
    assert worse_message("nmsr", 0.02, 0.01, 1, 1).endswith("try another method")
    notes.clear()  # two frames in pixels (plain TIFFs): a map's dates or not, both (2026-12-07, remote-sensing review)
    tl.register(pair, method="multistep", on_warning=notes.append)
    assert notes[0].endswith(f"(nmsr fits the pair in front of it; {PAIR_METHOD} for dates of a map)"), notes
    notes.clear()
    tl.register(pair, method="nmsr", levels=1, iterations=2, on_warning=notes.append)
    assert notes[0].endswith(f"try another method ({PAIR_METHOD} for dates of a map)"), notes


def test_a_sequence_engines_frames_worse_than_none_are_said_in_a_note():
    """(2026-12-07, clinician review) tlrn left frames next to the reference worse than unregistered (the real echo's
    frame 1: MSE 0.0023 against 0.0016) without a word, the mean over the frames being better: the pair engines name
    theirs in a warning, a sequence engine now in a note of the run (the CLI's and the dock's status line)."""
    notes = []
    res = tl.register(tl.load_sequence("echo_real"), method="tlrn", on_warning=notes.append)
    assert notes == []  # no warning: the mean is better
    said = res.provenance["notes"]
    found = re.fullmatch(r"tlrn: frame 1 matches the warped reference worse than the reference left as it is "
                         r"\(MSE (\S+) against (\S+)\), though better on the mean; nmsr fits each frame",
                         said[-1]) if said else None
    assert found and float(found[1]) > 1.2 * float(found[2]), said
    assert "notes" not in tl.register(tl.load_sequence("cardiac"), method="tlrn").provenance  # none worse there


def test_training_that_diverges_or_is_given_no_finite_setting_says_so(tmp_path):
    """(2026-12-07, training review) ``--lr 10`` diverged and killed the process (a NaN field's backward through
    grid_sample: exit 139, no message, no checkpoint); ``--lr inf`` and ``--weight nan`` likewise; ``--weight -5``
    rewarded roughness and wrote its weights. Run in a process of its own: on the code before, it segfaulted."""
    run = subprocess.run([sys.executable, "-m", "napari_tlreg", "train", "tlrn", "--iterations", "40", "--batch", "1",
                          "--frames", "3", "--size", "16", "--threads", "1", "--checkpoint-every", "5", "--lr", "10",
                          "--out", str(tmp_path / "dv.pt")], capture_output=True, text=True, timeout=300)
    assert run.returncode == 2, (run.returncode, run.stderr[-500:])
    assert re.search(r"napari-tlreg train: error: the loss is not finite at step \d+ \(training diverged\): lower --lr; nothing "
                     r"was written", run.stderr), run.stderr[-500:]
    for kw, flag, need in ((dict(lr=math.inf), "--lr", "a finite number above 0"),
                           (dict(weight=math.nan), "--weight", "a finite number, 0 or more"),
                           (dict(weight=-5.0), "--weight", "a finite number, 0 or more")):
        with pytest.raises(ValueError, match=f"train: {flag} must be {need}, got"):
            train(_tiny(tmp_path, "bad.pt", **kw), progress=lambda *a: None)
    assert not (tmp_path / "bad.pt").exists()


def test_a_resume_on_the_command_line_takes_the_checkpoints_own_settings(tmp_path, capsys):
    """(2026-12-07, training review) ``train tlrn --resume --iterations 12 --out w.pt`` was refused for every setting
    the checkpoint holds and the command line left at its default ("--data 'synthetic:mix' -> 'synthetic:cardiac';
    --batch 2 -> 4; --n-frames 4 -> 8; ..."), naming a flag ``--n-frames`` that does not exist. What is not given is
    the checkpoint's; what is given and differs is refused, by the command line's names."""
    from napari_tlreg.cli import main

    out = str(tmp_path / "w.pt")
    base = ["train", "tlrn", "--threads", "1", "--out", out]
    assert main(base + ["--data", "synthetic:mix", "--iterations", "2", "--batch", "2", "--frames", "4", "--size", "32",
                        "--net", "enc=[8,16,16,16]", "--checkpoint-every", "1"]) == 0
    assert main(base + ["--resume", "--iterations", "3"]) == 0
    ckpt = torch.load(out, weights_only=True)
    assert ckpt["step"] == 3 and ckpt["train"]["batch"] == 2 and ckpt["train"]["n_frames"] == 4
    assert ckpt["train"]["data"] == "synthetic:mix" and ckpt["config"]["enc"] == [8, 16, 16, 16]
    capsys.readouterr()
    assert main(base + ["--resume", "--iterations", "4", "--frames", "8"]) == 2
    assert "other settings (--frames 4 -> 8)" in capsys.readouterr().err
    # (diff review) a plain --resume ran to the default 2000 steps, not the 3 planned; one --net option given
    # replaced them all, the others then "changed" to their defaults
    ckpt["train"]["iterations"] = 5  # as a run of 5 planned steps interrupted at step 3 leaves it
    ckpt["train"]["val_every"] = 2  # (third diff review) and its validation, which a plain --resume switched off
    torch.save(ckpt, out)
    assert main(base + ["--resume", "--net", "flow_level=0"]) == 0
    ckpt = torch.load(out, weights_only=True)
    assert ckpt["step"] == 5 and ckpt["train"]["iterations"] == 5 and ckpt["config"]["enc"] == [8, 16, 16, 16]
    assert ckpt["train"]["val_every"] == 2 and [s for s, _ in ckpt["val"]["history"]] == [4, 5]


def test_resume_continues_the_run_it_was_and_ctrl_c_keeps_the_steps_done(tmp_path, capsys):
    """Training review: --resume took changed settings without a word (a run at --size 32 resumed at 48, and the
    checkpoint's record, which register's auto scale reads, rewritten); a resume with nothing left to train said
    "weights written"; Ctrl-C before the first checkpoint (every 200 steps) lost every step, and the --resume that
    followed started from step 0."""
    out = train(_tiny(tmp_path, "w.pt", iterations=2), progress=lambda *a: None)
    with pytest.raises(ValueError, match=r"--resume .*w.pt: the checkpoint was trained with other settings \(--size "
                                         r"32 -> 48; --lr 0.001 -> 0.1\): resume with its own, or start a new run from "
                                         r"its weights with --init"):
        train(_tiny(tmp_path, "w.pt", resume=True, size=48, lr=0.1), progress=lambda *a: None)
    with pytest.raises(ValueError, match=r"--net"):
        train(_tiny(tmp_path, "w.pt", resume=True, net={"flow_level": 1}), progress=lambda *a: None)
    with pytest.raises(ValueError, match=r"the checkpoint is at step 2 already, --iterations is 2: nothing to train"):
        train(_tiny(tmp_path, "w.pt", resume=True, iterations=2), progress=lambda *a: None)
    assert torch.load(out, weights_only=True)["train"]["size"] == 32

    def interrupt_at_2(done, total, stats):
        if done == 2:
            raise KeyboardInterrupt

    cut = tmp_path / "cut.pt"
    with pytest.raises(KeyboardInterrupt):
        train(_tiny(tmp_path, "cut.pt", iterations=3, checkpoint_every=200), progress=interrupt_at_2)
    assert torch.load(cut, weights_only=True)["step"] == 2
    assert "train: interrupted at step 2 of 3: checkpoint written to" in capsys.readouterr().err
    train(_tiny(tmp_path, "cut.pt", iterations=3, checkpoint_every=200, resume=True), progress=lambda *a: None)
    whole = train(_tiny(tmp_path, "whole.pt", iterations=3), progress=lambda *a: None)
    ka, kb = torch.load(whole, weights_only=True)["model"], torch.load(cut, weights_only=True)["model"]
    assert all(torch.allclose(ka[k].float(), kb[k].float(), atol=1e-6) for k in ka)


def test_every_slice_position_of_a_stack_in_a_training_folder_is_trained_on(tmp_path):
    from napari_tlreg.train import FolderData, _training_sequences

    cine = tl.load_sequence("cardiac").frames
    (tmp_path / "data").mkdir()
    np.savez(tmp_path / "data" / "stack.npz", frames=np.stack([cine[:8], cine[8:16], cine[4:12]]))  # (S, T, H, W)
    assert [s.shape for s in _training_sequences(tmp_path / "data")] == [(8, 128, 128)] * 3
    assert len(FolderData(tmp_path / "data", 32).seqs) == 3


def test_the_auto_scale_follows_a_pixel_size_in_mm_only():
    """Without shared data: the pixel-size rule's unit, rounding and cap (review of the change: a rule applied to
    metres, or one that upsampled coarse pixels, passed the data-driven tests)."""
    from napari_tlreg.engines import get_engine
    from napari_tlreg.engines.tlrn import spacing_scale

    assert spacing_scale((1.37, 1.37), "mm") == 0.5 and spacing_scale((0.7, 0.7), "mm") == 0.25
    # non-square pixels: the coarser axis (the mean, 1.5 mm, ran 2 x 1 mm pixels at 0.5: 4 mm rows)
    assert spacing_scale((1.0, 2.0), "mm") == spacing_scale((2.0, 1.0), "mm") == 1.0
    assert spacing_scale((3.0, 0.5), "mm") == 1.0 and spacing_scale((1.2, 0.6), "mm") == 0.5
    assert spacing_scale((10.0, 10.0), "m") is None and spacing_scale(None, "mm") is None
    tlrn = get_engine("tlrn")
    auto = tlrn.validate_params({})
    assert tlrn.for_frames(auto, (2, 256, 256), (1.37, 1.37), "mm")["scale"] == 0.5
    assert tlrn.for_frames(auto, (2, 256, 256), (10.0, 10.0), "m")["scale"] == 0.25  # the size rule
    assert tlrn.for_frames(auto, (2, 256, 256), None, "mm")["scale"] == 0.25
    assert tlrn.for_frames(auto, (2, 128, 128), (8.0, 8.0), "mm")["scale"] == 1.0  # never upsampled
    assert tlrn.for_frames(auto, (2, 64, 64), (1.37, 1.37), "mm")["scale"] == 1.0  # never below the size rule
    assert tlrn.for_frames({**auto, "scale": 0.3}, (2, 256, 256), (1.37, 1.37), "mm")["scale"] == 0.3  # the user's


def test_any_method_whose_field_matches_worse_than_none_is_warned_of(shift_engine):
    """The warning is the API's, not the cine models': the test engine's shifts turned the wrong way."""
    rng = np.random.default_rng(0)
    from scipy.ndimage import gaussian_filter

    base = gaussian_filter(rng.random((48, 48)), 2).astype(np.float32)
    frames = np.stack([np.roll(base, (t, -t), (0, 1)) for t in range(3)])
    notes: list[str] = []
    tl.register(frames, method=shift_engine, on_warning=notes.append)
    assert notes == []
    tl.register(frames, method=shift_engine, gain=-1.0, on_warning=notes.append)
    assert len(notes) == 1 and notes[0].startswith(f"{shift_engine}: the warped reference matches the frames worse "
                                                   "than the reference left as it is (mean MSE ")
    assert "worse on 2 of 2 frames): this field does not fit these frames; try another method (nmsr" in notes[0]


def test_a_resampling_error_is_not_called_worse_than_none():
    """Two identical dates, which ``multistep`` now returns as its affine (1e-6 px off), were "worse than the
    reference left as it is" by an MSE of 1.6e-12, and the user told the field did not fit the frames."""
    from napari_tlreg.api import WORSE_TOLERANCE, worse_than_none

    rng = np.random.default_rng(0)
    frames = torch.from_numpy(rng.random((3, 32, 32)).astype(np.float32))
    same = frames[[0, 0, 0]]
    assert worse_than_none(same, same + 1e-4, 0) is None  # MSE 1e-8
    found = worse_than_none(same, same + 0.01, 0)  # MSE 1e-4: 10x the tolerance
    assert found is not None and found[2:] == (2, 2) and found[0] == pytest.approx(1e-4, rel=1e-3)
    half = same.clone()
    half[1] += 2 * WORSE_TOLERANCE ** 0.5  # one frame worse by 4x the tolerance, the other as it was: 2x on the mean
    assert worse_than_none(same, half, 0)[2:] == (1, 2)
    half[2] += 1e-3  # MSE 1e-6, under the tolerance: not counted as a frame made worse
    assert worse_than_none(same, half, 0)[2:] == (1, 2)


def test_resume_takes_an_older_checkpoint_and_ctrl_c_mid_update_writes_nothing(tmp_path, monkeypatch, capsys):
    """Code read: a checkpoint written before a network option existed (its config without the key) was refused as
    "other --net settings"; a Ctrl-C inside opt.step() saved half-updated weights under the step before."""
    out = train(_tiny(tmp_path, "w.pt", iterations=2), progress=lambda *a: None)
    ck = torch.load(out, weights_only=True)
    ck["config"].pop("n_units")  # as a checkpoint from before that option
    torch.save(ck, out)
    train(_tiny(tmp_path, "w.pt", iterations=3, resume=True), progress=lambda *a: None)
    assert torch.load(out, weights_only=True)["step"] == 3
    calls = []
    real = torch.optim.Adam.step

    def step(self, *a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, *a, **k)

    monkeypatch.setattr(torch.optim.Adam, "step", step)
    with pytest.raises(KeyboardInterrupt):
        train(_tiny(tmp_path, "mid.pt", iterations=3, checkpoint_every=200), progress=lambda *a: None)
    assert not (tmp_path / "mid.pt").exists()
    assert "interrupted while updating the weights: nothing written; the last checkpoint (step 0) stands" in \
        capsys.readouterr().err


def test_sigterm_keeps_the_steps_done_as_ctrl_c_does(tmp_path):
    """SLURM's time limit, `scancel` and `timeout` end a training with SIGTERM, which killed it with every step since
    the last checkpoint lost (every step, before the first): the CLI takes it as an interrupt, so the checkpoint of
    Ctrl-C is written and `--resume` continues from it; exit status 143."""
    import subprocess
    import sys

    script = """
import os, signal, sys
import napari_tlreg.train as T
from napari_tlreg import cli
real = T.train
def terminated_at_2(cfg, progress=None):
    def hook(done, total, stats):
        if done == 2:
            os.kill(os.getpid(), signal.SIGTERM)
    return real(cfg, progress=hook)
T.train = terminated_at_2
sys.exit(cli.main(sys.argv[1:]))
"""
    out = tmp_path / "cut.pt"
    argv = ["train", "tlrn", "--data", "synthetic:cardiac", "--out", str(out), "--iterations", "3", "--batch", "2",
            "--frames", "4", "--size", "32", "--threads", "1"]
    proc = subprocess.run([sys.executable, "-c", script, *argv], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 143, proc.stderr[-2000:]
    assert "train: interrupted at step 2 of 3: checkpoint written to" in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "napari-tlreg train: terminated"
    assert torch.load(out, weights_only=True)["step"] == 2


def test_a_checkpoints_state_is_saved_on_the_cpu_as_torch_keeps_it():
    """(2026-12-05, device and diff reviews) A GPU run's checkpoint held CUDA tensors (a plain ``torch.load`` on a
    machine without one failed); the copy on the CPU keeps the state dict's type and module versions (``_metadata``,
    which ``load_state_dict`` reads), and named tuples."""
    from collections import namedtuple

    from napari_tlreg.train import _on_cpu

    sd = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2)).state_dict()
    out = _on_cpu(sd)
    assert type(out) is type(sd) and out._metadata == sd._metadata and list(out) == list(sd)
    assert all(torch.equal(out[k], sd[k]) and out[k].device.type == "cpu" for k in sd)
    pair = namedtuple("pair", "a b")(torch.zeros(1), [torch.ones(1)])
    moved = _on_cpu(pair)
    assert type(moved) is type(pair) and torch.equal(moved.b[0], torch.ones(1))


def test_train_writes_whole_lines_to_a_log(tmp_path):
    """(2026-12-07, CLI review) With stderr a file (a batch job's log), tqdm's bar was one line of every step's redraw,
    carriage returns apart. A log gets whole lines: at most one every LOG_EVERY_S seconds, and the last step's."""
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "napari_tlreg", "train", "tlrn", "--iterations", "3", "--batch", "1",
                          "--frames", "3", "--size", "32", "--threads", "1", "--val-every", "0",
                          "--out", str(tmp_path / "w.pt")], capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "\r" not in run.stderr
    lines = [ln for ln in run.stderr.splitlines() if ln.startswith("train tlrn: step ")]
    assert len(lines) == 1 and lines[0].startswith("train tlrn: step 3/3 (") and "it/s), mse=" in lines[0], run.stderr


def test_each_engines_weights_help_names_the_model_it_runs_without_one():
    """(2026-12-07, training review) The weights field said "the engine's shipped model" (which one?); its empty
    meaning is the engine's own default model, by name, for every trainable engine."""
    from napari_tlreg.engines import get_engine

    for method in ("tlrn", "voxelmorph", "multistep", "hsyn", "nmsr"):
        engine = get_engine(method)
        assert f"(empty: {engine.default_model})" in engine.help["weights"], method


def test_a_fine_tuning_from_another_engines_weights_says_what_starts_untrained(tmp_path):
    """(2026-12-07, training review) ``train tlrn --init voxelmorph_cine64`` started TLRN's temporal unit from scratch
    without a word: said, with the parts that start untrained."""
    with pytest.warns(UserWarning, match=r"--init voxelmorph_cine64: \d+ of the TLRNNet's \d+ tensors are not in these "
                                         r"weights and start untrained \("):
        train(_tiny(tmp_path, init="voxelmorph_cine64", iterations=1))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # its own weights: every tensor in them, nothing said
        train(_tiny(tmp_path, name="again.pt", init="tlrn_cine64", iterations=1))
