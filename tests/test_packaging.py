"""Packaging and plugin glue: the wheel, a clean install of it, the npe2 manifest, the cheap
top-level import, the import-linter contracts, the npe2 hooks, and napari's canvas on Xvfb."""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest

import napari_tlreg
from napari_tlreg import _hooks

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DATA_FOLDERS = ("resources", "sample_sequences")
SAMPLE_NAMES = ("lemniscate", "cardiac", "echo", "satellite", "echo_real")
HEAVY = ("qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "napari", "magicgui", "superqt", "torch")


def _files(folder: Path) -> list[str]:
    """Shipped files of a data folder, relative, without placeholders and caches."""
    if not folder.is_dir():
        return []
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.name != ".gitkeep" and "__pycache__" not in p.parts
    )


def _run(cmd, **kw) -> subprocess.CompletedProcess:
    kw.setdefault("cwd", REPO_ROOT)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=kw.pop("timeout", 600), **kw)


def _io_has(*names: str) -> None:
    """Fail, naming what napari_tlreg.io lacks of ``names`` (these skipped while it was being written: a reader
    removed would have read as "skipped", not red; code review, 2026-12-07)."""
    import napari_tlreg.io as io

    missing = [n for n in names if not hasattr(io, n)]
    assert not missing, f"napari_tlreg.io does not provide {', '.join(missing)}"


def _samples_written() -> None:
    """Fail where the bundled samples are missing (no files in sample_sequences/)."""
    _io_has("load_sequence", "samples")
    assert _files(REPO_ROOT / "sample_sequences"), "the bundled samples are missing (sample_sequences/ is empty)"


def _widget_module_exists() -> bool:
    return importlib.util.find_spec("napari_tlreg._widgets.register") is not None


# ---------------------------------------------------------------------------------------------
# (a) the wheel
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # --no-isolation: use the hatchling of this venv (the test extra has it): no download.
    r = _run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(REPO_ROOT)])
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    wheels = list(out.glob("napari_tlreg-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.mark.slow
def test_wheel_has_manifest_and_entry_points(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        assert "napari_tlreg/napari.yaml" in names
        assert "napari_tlreg/_hooks.py" in names
        assert "napari_tlreg/_paths.py" in names
        ep_file = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        entry_points = z.read(ep_file).decode()
    assert "[napari.manifest]" in entry_points
    assert "napari-tlreg = napari_tlreg:napari.yaml" in entry_points
    assert "napari-tlreg = napari_tlreg.cli:main" in entry_points
    assert not any(n.startswith(("tests/", "resources/", "sample_sequences/")) for n in names)


@pytest.mark.slow
@pytest.mark.parametrize("folder", DATA_FOLDERS)
def test_wheel_ships_data_folder(wheel, folder):
    # The folder must exist in the checkout even while empty (a .gitkeep keeps it in git):
    # hatchling's force-include fails on a missing folder, and with it `pip install -e .`.
    assert (REPO_ROOT / folder).is_dir(), f"{folder}/ is missing from the checkout"
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    files = _files(REPO_ROOT / folder)
    missing = [f for f in files if f"napari_tlreg/{folder}/{f}" not in names]
    assert not missing, f"not in the wheel: {missing}"
    assert files, f"{folder}/ has no files: nothing shipped"


def test_model_cards_hold_no_path_of_the_machine_that_trained_them():
    """(2026-12-07, packaging review) The shipped cards said where the trainer wrote its checkpoints
    ("/tmp/exp3/tlrn_card5.pt"); ship_weights now keeps a file's name only, and the cards were mended so."""
    import json
    import re

    sys.path.insert(0, str(REPO_ROOT / "scripts"))
    try:
        from ship_weights import _file_names
    finally:
        sys.path.remove(str(REPO_ROOT / "scripts"))
    cards = sorted((REPO_ROOT / "resources" / "models").glob("*.json"))
    assert cards
    for card in cards:
        text = card.read_text()
        assert not re.search(r'"(?:/tmp|/work|/home|/Users|[A-Za-z]:\\\\)', text), card.name
        json.loads(text)
    record = {"out": "/tmp/exp3/a.pt", "stages": [{"init": "/tmp/b/c.pt", "lr": 1e-4}], "init": ""}
    assert _file_names(record) == {"out": "a.pt", "stages": [{"init": "c.pt", "lr": 1e-4}], "init": ""}


# ---------------------------------------------------------------------------------------------
# (b) the wheel installed into a fresh venv (dependencies borrowed from this venv via a .pth)
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fresh_venv(wheel, tmp_path_factory) -> Path:
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    r = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    assert r.returncode == 0, r.stderr
    py = venv / "bin" / "python"
    site = Path(
        _run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    )
    # Dependencies (torch, numpy, ...) come from this venv's site-packages, appended after the
    # fresh one's: a path line in a .pth does not process that folder's own .pth files, so the
    # editable install of the source tree stays invisible.
    (site / "_tlreg_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    r = _run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index",
              "--quiet", str(wheel)])
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return venv


def _in_fresh(venv: Path, code: str, tmp_path: Path) -> dict:
    # cwd outside the source tree, so "" on sys.path cannot find ./napari_tlreg.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    r = _run([str(venv / "bin" / "python"), "-c", textwrap.dedent(code), str(venv), str(REPO_ROOT)],
             cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_wheel_installs_into_fresh_venv(fresh_venv, tmp_path):
    info = _in_fresh(fresh_venv, """
        import json, pathlib, sys
        venv, repo = (pathlib.Path(a).resolve() for a in sys.argv[1:3])
        import napari_tlreg
        from napari_tlreg import _paths
        pkg = pathlib.Path(napari_tlreg.__file__).resolve()
        out = {"pkg": str(pkg), "in_venv": pkg.is_relative_to(venv), "in_repo": pkg.is_relative_to(repo),
               "manifest": (pkg.parent / "napari.yaml").is_file(),
               "heavy": [m for m in %r if m in sys.modules]}
        for name in ("resources", "sample_sequences"):
            d = _paths._find(name)
            out[name] = str(d)
            out[name + "_in_venv"] = d.resolve().is_relative_to(venv)
        print(json.dumps(out))
    """ % (HEAVY,), tmp_path)
    assert info["in_venv"] and not info["in_repo"], info["pkg"]
    assert info["manifest"]
    assert info["heavy"] == [], f"import napari_tlreg pulled in {info['heavy']}"
    for name in DATA_FOLDERS:
        assert info[name + "_in_venv"], f"{name} resolved to {info[name]}, not the installed copy"
    assert (fresh_venv / "bin" / "napari-tlreg").exists(), "console script not installed"


@pytest.mark.slow
def test_installed_copy_loads_a_bundled_sample(fresh_venv, tmp_path):
    _samples_written()
    info = _in_fresh(fresh_venv, """
        import json, pathlib, sys
        venv = pathlib.Path(sys.argv[1]).resolve()
        import napari_tlreg
        seq = napari_tlreg.load_sequence("cardiac")
        mods = [m.__file__ for m in list(sys.modules.values())
                if getattr(m, "__name__", "").startswith("napari_tlreg") and getattr(m, "__file__", None)]
        print(json.dumps({"shape": list(seq.frames.shape), "dtype": str(seq.frames.dtype),
                          "outside": [f for f in mods if not pathlib.Path(f).resolve().is_relative_to(venv)]}))
    """, tmp_path)
    assert len(info["shape"]) == 3 and info["shape"][0] >= 2
    assert info["dtype"] == "float32"
    assert info["outside"] == [], "modules loaded from outside the fresh venv"


# ---------------------------------------------------------------------------------------------
# (c) the npe2 manifest
# ---------------------------------------------------------------------------------------------
def test_npe2_validate():
    r = _run([sys.executable, "-m", "npe2", "validate", "napari-tlreg"])
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.slow
def test_npe2_validate_imports_every_python_name():
    assert _widget_module_exists(), "napari_tlreg._widgets.register (RegisterWidget) is missing"
    r = _run([sys.executable, "-m", "npe2", "validate", "--imports", "napari-tlreg"])
    assert r.returncode == 0, r.stdout + r.stderr


def _manifest():
    from npe2 import PluginManifest

    return PluginManifest.from_file(Path(napari_tlreg.__file__).parent / "napari.yaml")


def test_manifest_matches_hooks_and_samples():
    mf = _manifest()
    assert mf.name == "napari-tlreg"
    for cmd in mf.contributions.commands:
        module, _, attr = cmd.python_name.partition(":")
        if module == "napari_tlreg._hooks":
            assert callable(getattr(_hooks, attr, None)), cmd.python_name
    keys = {s.key for s in mf.contributions.sample_data}
    assert keys == set(SAMPLE_NAMES)
    widgets = {w.display_name: w.command for w in mf.contributions.widgets}
    assert widgets == {"Register sequence": "napari-tlreg.register_widget",
                       "Landmarks & TRE": "napari-tlreg.landmarks_widget",
                       "Evaluation plots": "napari-tlreg.plots_widget"}
    _samples_written()
    assert keys == set(napari_tlreg.samples()), "napari.yaml's sample_data and io.bundled() differ"


# ---------------------------------------------------------------------------------------------
# (d) cheap imports
# ---------------------------------------------------------------------------------------------
def _imported_after(code: str) -> list[str]:
    r = _run([sys.executable, "-c", code + f"\nimport sys; print([m for m in {HEAVY!r} if m in sys.modules])"])
    assert r.returncode == 0, r.stderr
    return eval(r.stdout.strip().splitlines()[-1])


def test_top_level_import_is_light():
    assert _imported_after("import napari_tlreg") == []


def test_hooks_import_neither_qt_nor_napari():
    heavy = _imported_after("import napari_tlreg._hooks")
    assert heavy == [], heavy


def test_load_sequence_needs_no_qt():
    _io_has("load_sequence")
    heavy = _imported_after("import napari_tlreg; napari_tlreg.load_sequence")
    assert not [m for m in heavy if m != "torch"], heavy


# ---------------------------------------------------------------------------------------------
# (e) import-linter contracts
# ---------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_import_linter_contracts():
    exe = BIN / "lint-imports"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "importlinter.cli"]
    r = _run(cmd + ["--no-cache"])
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]


# ---------------------------------------------------------------------------------------------
# npe2 hooks on their own (plain tuples, no napari)
# ---------------------------------------------------------------------------------------------
def _toy_sequence(landmarks=True, labels=True, spacing=(1.5, 2.0)):
    from napari_tlreg.io import Sequence

    frames = np.random.default_rng(0).random((4, 12, 10)).astype(np.float32)
    lab = np.zeros(frames.shape, np.int32)
    lab[0, 3:7, 2:5] = 1
    lm = np.array([[0, 0, 3.0, 4.0], [0, 2, 3.5, 4.5], [1, 0, 8.0, 6.0]])
    return Sequence(frames=frames, labels=lab if labels else None, spacing=spacing,
                    landmarks=lm if landmarks else None, name="toy")


def test_sequence_to_layers_tuples():
    layers = _hooks.sequence_to_layers(_toy_sequence())
    assert [t for _, _, t in layers] == ["image", "labels", "points"]
    (img, img_kw, _), (lab, lab_kw, _), (pts, pts_kw, _) = layers
    assert img.shape == (4, 12, 10) and img_kw["name"] == "toy"
    assert tuple(img_kw["scale"]) == (1.0, 1.5, 2.0) == tuple(lab_kw["scale"]) == tuple(pts_kw["scale"])
    assert lab.dtype == np.int32 and lab.shape == img.shape
    np.testing.assert_array_equal(pts, [[0, 3.0, 4.0], [2, 3.5, 4.5], [0, 8.0, 6.0]])
    np.testing.assert_array_equal(pts_kw["features"]["id"], [0, 0, 1])

    only = _hooks.sequence_to_layers(_toy_sequence(landmarks=False, labels=False, spacing=None))
    assert len(only) == 1 and tuple(only[0][1]["scale"]) == (1.0, 1.0, 1.0)


def test_reader_claims_only_its_files(tmp_path):
    assert _hooks.get_reader(str(tmp_path / "a.tif")) is not None
    assert _hooks.get_reader(str(tmp_path / "a.nii.gz")) is not None
    assert _hooks.get_reader([str(tmp_path / "a.npz"), str(tmp_path / "b.tiff")]) is not None
    assert _hooks.get_reader(str(tmp_path / "a.png")) is None
    (tmp_path / "a.svg").write_bytes(b"")  # a folder of files none of ours: napari's own or another's
    (tmp_path / "notes.txt").write_text("x")
    assert _hooks.get_reader(str(tmp_path)) is None
    # (viewer QA review) an empty folder, or one of folders only (a patient's series), is claimed to say why it opens
    # nothing: napari said "refused the file" when the user chose napari-tlreg, else that no plugin reads it
    from napari_tlreg.io import SequenceReadError

    for folder, why in (("empty", r"^empty: the folder is empty"), ("patient", r"^patient: holds no image files, only "
                                                                             r"folders \(s1, s2\): open one of them")):
        (tmp_path / folder).mkdir()
        if folder == "patient":
            (tmp_path / folder / "s1").mkdir()
            (tmp_path / folder / "s2").mkdir()
        reader = _hooks.get_reader(str(tmp_path / folder))
        assert reader is not None
        with pytest.raises(SequenceReadError, match=why):
            reader(str(tmp_path / folder))
    (tmp_path / "hidden").mkdir()  # hidden files only (a .DS_Store): empty
    (tmp_path / "hidden" / ".DS_Store").write_bytes(b"x")
    assert _hooks.get_reader(str(tmp_path / "hidden")) is not None
    for zarr in ("img.zarr", "plain"):  # an OME-Zarr's folder (hidden metadata, folders): napari's, not ours
        (tmp_path / zarr / "0").mkdir(parents=True)
        (tmp_path / zarr / ".zgroup").write_text("{}")
        assert _hooks.get_reader(str(tmp_path / zarr)) is None, zarr
    dicom_dir = REPO_ROOT.parent / "shared" / "data" / "sunnybrook" / "dicom_SCD0000101"
    if dicom_dir.is_dir():
        assert _hooks.get_reader(str(dicom_dir)) is not None


def test_points_with_ids_reads_features():
    import pandas as pd

    rows = _hooks.points_with_ids([[1, 2, 3], [4, 5, 6]], {"features": pd.DataFrame({"id": [7, 9]})})
    np.testing.assert_array_equal(rows, [[7, 1, 2, 3], [9, 4, 5, 6]])
    rows = _hooks.points_with_ids(np.array([[2.0, 3.0]]), {})  # 2-D points, no ids
    np.testing.assert_array_equal(rows, [[0, 0, 2, 3]])


@pytest.mark.parametrize("suffix", [".tif", ".nii.gz"])
def test_image_writer_round_trips_through_reader(tmp_path, suffix):
    _io_has("save_stack", "load_sequence")
    seq = _toy_sequence(landmarks=False, labels=False)
    path = tmp_path / f"stack{suffix}"
    written = _hooks.write_image(str(path), seq.frames, {"scale": (1.0, 1.5, 2.0)})
    assert Path(written[0]).is_file()
    reader = _hooks.get_reader(written[0])
    assert reader is not None
    (data, kw, kind), *_ = reader(written[0])
    assert kind == "image"
    np.testing.assert_allclose(data, seq.frames, rtol=1e-5, atol=1e-5)
    assert tuple(kw["scale"]) == pytest.approx((1.0, 1.5, 2.0))


@pytest.mark.parametrize("suffix", [".tif", ".nii.gz"])
def test_labels_writer_round_trips_through_reader_as_labels(tmp_path, suffix):
    """A Labels layer saved by the plugin reopened as a float Image layer."""
    labels = np.zeros((3, 20, 24), np.int32)
    labels[:, 4:9, 5:12], labels[1:, 12:18, 2:6] = 1, 7
    written = _hooks.write_labels(str(tmp_path / f"lab{suffix}"), labels, {"scale": (1.0, 1.5, 2.0)})
    (data, kw, kind), *rest = _hooks.get_reader(written[0])(written[0])
    assert kind == "labels" and not rest and data.dtype.kind == "i"
    np.testing.assert_array_equal(data, labels)
    assert tuple(kw["scale"]) == pytest.approx((1.0, 1.5, 2.0)) and kw["name"] == "lab"
    image = _hooks.write_image(str(tmp_path / f"img{suffix}"), labels, {})  # the same integers, saved as an image
    assert _hooks.get_reader(image[0])(image[0])[0][2] == "image"


def test_a_result_folders_fields_are_left_to_napari(tmp_path):
    """The reader took ``displacement.tif`` of a result folder and failed on its (T, 2, H, W) shape."""
    import napari_tlreg as tl

    res = tl.register(_toy_sequence(landmarks=False, labels=False).frames, method="multistep")
    folder = res.save(tmp_path / "r")
    assert _hooks.get_reader(str(folder / "displacement.tif")) is None
    assert _hooks.get_reader(str(folder / "frames.tif")) is not None  # the frames are a sequence


def test_points_writer_writes_id_t_row_col(tmp_path):
    _io_has("save_points_csv")
    import pandas as pd

    path = tmp_path / "lm.csv"
    written = _hooks.write_points(str(path), np.array([[0, 3.0, 4.0], [2, 5.0, 6.0]]),
                                  {"features": pd.DataFrame({"id": [4, 4]})})
    text = Path(written[0]).read_text()
    assert text.splitlines()[0] == "id,t,row,col"
    from napari_tlreg.io import load_points_csv  # (row, col) in order and the layer's ids kept (a substring passed)

    np.testing.assert_array_equal(load_points_csv(written[0]), [[4, 0, 3.0, 4.0], [4, 2, 5.0, 6.0]])


@pytest.mark.slow
@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_sample_hooks_give_layer_tuples(name):
    _samples_written()
    layers = getattr(_hooks, f"sample_{name}")()
    data, kw, kind = layers[0]
    assert kind == "image" and np.asarray(data).ndim == 3 and kw["name"]
    assert len(kw["scale"]) == 3 and kw["scale"][0] == 1.0
    masks = [(d, k) for d, k, t in layers[1:] if t == "labels" and k["name"].endswith(" mask")]
    for data2, kw2, kind2 in layers[1:]:
        assert kind2 in ("labels", "points", "image")
        if kind2 == "image":  # the colour frames of a colour file, for display: hidden, the grey image's scale
            assert kw2["rgb"] is True and kw2["visible"] is False and kw2["name"] == kw["name"] + " colour"
            assert np.asarray(data2).shape[:-1] == np.asarray(data).shape and tuple(kw2["scale"]) == tuple(kw["scale"])
        elif kind2 == "labels" and kw2["name"].endswith(" mask"):  # a region (the echo sector): 2-D, hidden
            assert np.asarray(data2).shape == np.asarray(data).shape[1:] and tuple(kw2["scale"]) == tuple(kw["scale"][1:])
            assert kw2["visible"] is False
            # shown, a white veil (napari's default dark brown at 0.25 was all but invisible on the echo's fan)
            assert tuple(kw2["colormap"][1]) == (1.0, 1.0, 1.0, 1.0) and kw2["opacity"] >= 0.3
        elif kind2 == "labels":
            assert np.asarray(data2).shape == np.asarray(data).shape
        else:
            assert np.asarray(data2).shape[1] == 3 and len(kw2["features"]["id"]) == len(data2)
    from napari_tlreg.io import load_sequence

    sector = load_sequence(name).metadata.get("mask")
    assert len(masks) == (sector is not None) and (name != "echo" or sector is not None)
    if masks:
        assert np.array_equal(masks[0][0] != 0, sector)


# ---------------------------------------------------------------------------------------------
# napari itself, on Xvfb
# ---------------------------------------------------------------------------------------------
def test_napari_canvas_under_xvfb(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((3, 16, 16)))
    assert len(viewer.layers) == 1
    # Draw once through OpenGL: fails where the canvas has no GL context (Qt "offscreen").
    shot = viewer.screenshot(canvas_only=True, flash=False)
    assert shot.ndim == 3 and shot.shape[-1] == 4


@pytest.mark.slow
def test_napari_opens_sample_and_docks_widget(make_napari_viewer):
    _samples_written()
    viewer = make_napari_viewer()
    viewer.open_sample("napari-tlreg", "lemniscate")
    assert viewer.layers and viewer.layers[0].data.ndim == 3
    assert _widget_module_exists(), "napari_tlreg._widgets.register (RegisterWidget) is missing"
    dock, widget = viewer.window.add_plugin_dock_widget("napari-tlreg", "Register sequence")
    assert type(widget).__name__ == "RegisterWidget"


# ---------------------------------------------------------------------------------------------
# the scripts
# ---------------------------------------------------------------------------------------------
def test_scripts_parse_and_ci_runs_the_test_command():
    for script in ("scripts/run.sh", "scripts/test.sh", "scripts/setup_system.sh", "scripts/_venv.sh", ".ci/run"):
        r = _run(["bash", "-n", script])
        assert r.returncode == 0, f"{script}: {r.stderr}"
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert "exec bash scripts/test.sh" in ci
    readme = (REPO_ROOT / "README.md").read_text()
    assert "bash scripts/test.sh" in readme and "bash scripts/run.sh" in readme


# ---- found in review (2026-12-04) ------------------------------------------------------------------------------
def test_a_venv_without_pip_is_made_again(tmp_path):
    """Where ensurepip is missing (Debian's python3 without python3-venv) ``venv`` leaves a venv without pip behind,
    and every later run failed on it ("No module named pip") until it was deleted by hand."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (venv / ".tlreg-made").touch()  # made by the script (a TLREG_VENV it did not make is left alone: below)
    script = (f"set -euo pipefail; TLREG_VENV={venv}; source {REPO_ROOT / 'scripts' / '_venv.sh'}; "
              "_tlreg_pip() { echo \"pip $*\"; }; tlreg_ensure_venv napari")  # pip itself stubbed: no install
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "creating virtual environment" in proc.stderr
    assert subprocess.run([str(venv / "bin" / "python"), "-c", "import pip"]).returncode == 0


def test_a_new_venv_takes_torchs_cpu_build_first(tmp_path):
    """(2026-12-07, packaging review) On a fresh Linux machine `bash scripts/run.sh` took torch from PyPI, whose Linux
    wheel is the CUDA build (~2.5 GB more; this machine's wheel folder hid it): the set-up installs the pinned torch
    from PyTorch's CPU index first, unless the venv has torch (a CUDA build put there first is kept) or
    TLREG_TORCH_INDEX is empty."""
    import tomllib

    pin = next(d for d in tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
               if d.startswith("torch"))
    venv = tmp_path / "venv"
    script = (f"set -euo pipefail; TLREG_VENV={venv}; source {REPO_ROOT / 'scripts' / '_venv.sh'}; "
              "_tlreg_pip() { echo \"pip $*\"; }; tlreg_ensure_venv napari")  # pip itself stubbed: no install
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHON", "TLREG_TORCH_INDEX")}
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    pips = [line for line in proc.stdout.splitlines() if line.startswith("pip install")]
    assert pips[1].endswith(f"--index-url https://download.pytorch.org/whl/cpu {pin}") and pin == "torch==2.13.0", pips
    assert pips[2].endswith("-e .[napari]"), pips
    (venv / ".tlreg-install-stamp").unlink(missing_ok=True)
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=300,
                          env={**env, "TLREG_TORCH_INDEX": "", "TLREG_FORCE_INSTALL": "1"})
    assert proc.returncode == 0 and "download.pytorch.org" not in proc.stdout, proc.stdout
    # (diff review) a torch of another version was kept, and the editable install took PyPI's CUDA build for it; a
    # build of the pinned version (CUDA's, put there first) is kept
    (site,) = venv.glob("lib/python3.*/site-packages")

    def set_up_over(version: str, **more) -> str:
        """The set-up's output over a venv whose torch (its metadata alone) is ``version``."""
        for old in site.glob("torch-*.dist-info"):
            shutil.rmtree(old)
        info = site / f"torch-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: torch\nVersion: {version}\n")
        proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=300, env={**env, **more})
        assert proc.returncode == 0 and "-e .[napari]" in proc.stdout, (version, proc.stdout, proc.stderr)
        return proc.stdout

    for version, replaced in (("2.12.0+cpu", True), ("2.13.0+cu126", False)):
        out = set_up_over(version, TLREG_FORCE_INSTALL="1")
        assert ("download.pytorch.org/whl/cpu torch==2.13.0" in out) == replaced, (version, out)
    # (README review) a build named by TLREG_TORCH_INDEX replaces another build of the pinned version (a CPU torch
    # was kept under the GPU line of the README), and naming another index installs again (the stamp was current)
    cu = "https://download.pytorch.org/whl/cu126"
    for version, replaced in (("2.13.0+cpu", True), ("2.13.0+cu126", False)):
        out = set_up_over(version, TLREG_TORCH_INDEX=cu)
        assert (f"--index-url {cu} torch==2.13.0+cu126" in out) == replaced, (version, out)


def test_a_venv_of_a_python_below_311_is_made_again_and_an_unusable_PYTHON_is_said(tmp_path):
    """(Session 51 review) a ``.venv`` made by hand with Python 3.10 was kept (it has pip), and every run failed with
    pip's "requires a different Python: 3.10.13 not in '>=3.11'"; ``PYTHON=`` set to an interpreter that cannot be used
    was passed over for another without a word. (The 3.10 venv is a stand-in: a ``python`` that imports pip and says
    it is below 3.11.)"""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    fake = venv / "bin" / "python"
    py310 = '#!/bin/sh\ncase "$*" in *version_info*) exit 1;; *split*) echo 3.10.13;; *) exit 0;; esac\n'
    fake.write_text(py310)
    fake.chmod(0o755)
    (venv / "notes.txt").write_text("mine")
    script = (f"set -euo pipefail; TLREG_VENV={venv}; source {REPO_ROOT / 'scripts' / '_venv.sh'}; "
              "_tlreg_pip() { echo \"pip $*\"; }; tlreg_ensure_venv napari")  # pip itself stubbed: no install
    env = {k: v for k, v in os.environ.items() if k != "PYTHON"}
    # (diff review) a TLREG_VENV the script did not make is the user's: refused, not emptied by venv --clear
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=300,
                          env={**env, "PYTHON": sys.executable})
    assert proc.returncode != 0 and "it was not made here: delete it, or set TLREG_VENV to another folder" in proc.stderr
    assert (venv / "notes.txt").read_text() == "mine" and fake.read_text() == py310
    (venv / ".tlreg-install-stamp").write_text("napari 0\n")  # installed into once: still the user's (second review)
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=300,
                          env={**env, "PYTHON": sys.executable})
    assert proc.returncode != 0 and (venv / "notes.txt").read_text() == "mine"
    (venv / ".tlreg-made").touch()  # one the script made: made again
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=300,
                          env={**env, "PYTHON": sys.executable})
    assert proc.returncode == 0, proc.stderr
    assert f"{venv} has no pip or a Python below 3.11 (3.10.13): made again" in proc.stderr
    assert "creating virtual environment" in proc.stderr
    version = subprocess.run([str(venv / "bin" / "python"), "-c", "import sys, pip; print(sys.version_info >= (3, 11))"],
                             capture_output=True, text=True)
    assert version.stdout.strip() == "True"
    other, old = tmp_path / "other", tmp_path / "python3.10"
    old.write_text(py310)  # (the venv's stand-in is a real venv now)
    old.chmod(0o755)
    for python, said in ((str(tmp_path / "no-such-python"), "no such interpreter"),
                         (str(old), "not a Python >= 3.11 with the venv and ensurepip modules (3.10.13)")):
        proc = subprocess.run(["bash", "-c", script.replace(str(venv), str(other))], capture_output=True, text=True,
                              timeout=300, env={**env, "PYTHON": python})
        assert proc.returncode != 0 and f"PYTHON={python}: {said}" in proc.stderr, proc.stderr
        assert not (other / "bin" / "python").exists()


def test_system_setup_takes_a_renamed_package_for_installed(tmp_path):
    """(Session 51 review) Ubuntu 24.04 and Debian 13 ship ``libglib2.0-0t64`` for ``libglib2.0-0``: ``dpkg -s`` of the
    old name says "not installed", so every run of the test command ran apt-get again (a sudo prompt each time).
    A dpkg that knows only the new name: no apt-get; one that knows neither: apt-get installs the old name."""
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    calls = tmp_path / "apt-calls"
    tools = {
        "dpkg": 'case "$2" in libglib2.0-0) exit 1;; libglib2.0-0t64) [ -n "$NO_GLIB" ] && exit 1;; esac\n'
                'echo "Status: install ok installed"',
        "apt-get": f'echo "$*" >> {calls}',
        "sudo": 'exec "$@"',
    }
    for name, body in tools.items():
        (bin_ / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_ / name).chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_}:{os.environ['PATH']}"}
    proc = _run(["bash", "scripts/setup_system.sh"], env=env)
    assert proc.returncode == 0 and proc.stderr == "" and not calls.exists(), proc.stderr
    proc = _run(["bash", "scripts/setup_system.sh"], env={**env, "NO_GLIB": "1"})
    assert proc.returncode == 0, proc.stderr
    assert calls.read_text().splitlines()[-1].endswith("--no-install-recommends libglib2.0-0")


def test_the_sdist_holds_what_its_tests_import_and_python_matches_napari():
    """The sdist shipped tests/ without the benchmarks/ they import; ``requires-python`` said 3.10, which napari 0.9
    does not support."""
    import re
    import tomllib

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    include = set(project["tool"]["hatch"]["build"]["targets"]["sdist"]["include"])
    imported = set()
    for test in (REPO_ROOT / "tests").glob("*.py"):
        imported |= set(re.findall(r"^\s*(?:from|import) (benchmarks|napari_tlreg)\b", test.read_text(), re.M))
    assert "tests" in include and imported <= include
    # ... and the files the tests read: the scripts (parsed, run), CI's script, docs/nmsr.md (its figures)
    read = set(re.findall(r'REPO_ROOT / "([^"/]+)', "".join(t.read_text() for t in (REPO_ROOT / "tests").glob("*.py"))))
    read |= set(re.findall(r'ROOT / "([^"/]+)', "".join(t.read_text() for t in (REPO_ROOT / "tests").glob("*.py"))))
    assert {"scripts", ".ci", "docs"} <= include and {r for r in read if (REPO_ROOT / r).exists()} <= include | {
        "pyproject.toml"}, read - include
    assert not any(c.startswith("License ::") for c in project["project"]["classifiers"])  # PEP 639: `license` says it
    assert project["project"]["requires-python"] == ">=3.11"


def test_the_readers_layers_leave_napari_units_alone():
    """Tried (session 35) and reverted: layers in mm made napari 0.9 show "Inconsistent units across layers" as a
    warning notification at every layer change (6 a run) as soon as one layer in pixels (a console add_labels, a file
    of napari's own reader, a sample in metres) lay beside them. The physical size lives in the scale and metadata."""
    from napari_tlreg.io import Sequence

    layers = _hooks.sequence_to_layers(Sequence(np.zeros((3, 8, 8), np.float32), spacing=(1.5, 1.5), unit="mm"))
    assert "units" not in layers[0][1] and tuple(layers[0][1]["scale"]) == (1.0, 1.5, 1.5)
