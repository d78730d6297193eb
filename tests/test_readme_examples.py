"""The README's Python examples run as written (a docs test found the second failing after the first: KeyError)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README, flags=re.S)


def test_the_python_api_example_and_its_run_again_from_the_record_run_as_written(tmp_path, monkeypatch):
    """The "Python API" block, then the block that loads its saved result and registers its source again: the same
    field to the bit (README: "Run it again from the record")."""
    blocks = _blocks()
    api = next(b for b in blocks if b.startswith("import napari_tlreg as tl"))
    again = next(b for b in blocks if b.startswith('res = tl.RegistrationResult.load("results/cardiac")'))
    monkeypatch.chdir(tmp_path)
    space: dict = {}  # pasted as it stands (it used arrays it did not make: NameError, README review)
    exec(compile(api, "README: Python API", "exec"), space)  # noqa: S102 - the README's own code
    assert space["inv"].shape == (2, *space["img"].shape) and space["det"].shape == space["img"].shape
    assert (tmp_path / "results" / "cardiac" / "result.json").is_file()
    exec(compile(again, "README: run it again", "exec"), space)  # noqa: S102
    np.testing.assert_array_equal(space["again"].displacement, space["res"].displacement)


def test_the_dotted_names_the_readme_gives_resolve_after_a_plain_import():
    """``napari_tlreg.api.MAX_VOXELS`` and ``napari_tlreg.train.train`` raised AttributeError after ``import
    napari_tlreg`` (the package loads its parts on first use; these were not among them)."""
    names = sorted(set(re.findall(r"`(napari_tlreg(?:\.[A-Za-z_]+)+)", README)))
    assert "napari_tlreg.api.MAX_VOXELS" in names and "napari_tlreg.train.train" in names
    code = ("import functools, importlib, napari_tlreg, sys\n"
            "assert not {'torch', 'qtpy', 'napari'} & set(sys.modules), 'a plain import stays light'\n"
            "assert {'api', 'io', 'train', 'register'} <= set(dir(napari_tlreg)), dir(napari_tlreg)  # tab completion\n"
            "plain = [n for n in ('napari_tlreg.api.MAX_VOXELS', 'napari_tlreg.train.train', 'napari_tlreg.batch.run_batch')\n"
            "         if not hasattr(functools.reduce(getattr, n.split('.')[1:-1], napari_tlreg), n.split('.')[-1])]\n"
            "bad = []\n"
            "for name in sys.argv[1:]:  # each names something that exists (a module's function: its module imported)\n"
            "    parts = name.split('.')\n"
            "    for i in range(len(parts), 0, -1):\n"
            "        try:\n"
            "            functools.reduce(getattr, parts[i:], importlib.import_module('.'.join(parts[:i])))\n"
            "            break\n"
            "        except (ImportError, AttributeError):\n"
            "            continue\n"
            "    else:\n"
            "        bad.append(name)\n"
            "print(plain, bad)\n")
    out = subprocess.run([sys.executable, "-c", code, *names], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "[] []", (out.stdout, out.stderr[-2000:])


def test_a_sub_clip_and_a_dicom_slice_are_read_again_from_their_record(tmp_path, shared_data):
    """``res.source_sequence()``: the README's "run it again" read ``provenance["source"]`` and ``["slice"]`` alone, so a
    sub-clip's result (``seq[4:12]``) gave back the whole 20 frames, and running it again registered another sequence
    (API review, 2026-12-07)."""
    import pytest

    import napari_tlreg as tl

    seq = tl.load_sequence("cardiac")[4:12]
    assert seq.shape[0] == 8
    res = tl.register(seq, method="voxelmorph", reference=2)
    res.save(tmp_path / "clip")
    back = tl.RegistrationResult.load(tmp_path / "clip")
    again_seq = back.source_sequence()
    np.testing.assert_array_equal(again_seq.frames, seq.frames)
    np.testing.assert_array_equal(again_seq.labels, seq.labels)
    again = tl.register(again_seq, method=back.method, reference=back.reference, normalize=back.normalization,
                        **back.params)
    np.testing.assert_array_equal(again.displacement, res.displacement)
    # a slice position of a DICOM folder
    dicom = shared_data / "sunnybrook" / "dicom_SCD0000101"
    one = tl.load_sequence(dicom, slice=6)[5:9]
    got = tl.register(one, method="voxelmorph").source_sequence()
    assert got.metadata["slice"] == 6 and got.metadata["frames"] == [5, 9, 1]
    np.testing.assert_array_equal(got.frames, one.frames)
    # none recorded (an array), a record that no longer matches its source: said
    with pytest.raises(ValueError, match="no source recorded"):
        tl.register(seq.frames, method="voxelmorph").source_sequence()
    back.provenance["frames"] = [4, 10, 1]
    with pytest.raises(ValueError, match="not the sequence it was registered from"):
        back.source_sequence()
    # (2026-12-07, code review) a record of as many frames of the same size, other frames: refused too (the shapes
    # alone were compared, and evaluate scored a result against the labels of a changed source)
    back.provenance["frames"] = [5, 13, 1]
    with pytest.raises(ValueError, match="holds other frames now than the result registered"):
        back.source_sequence()
    back.provenance["frames"] = [4, 12, 1]
    assert back.source_sequence().shape == (8, *seq.shape[1:])  # its own again
