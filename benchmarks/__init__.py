"""Benchmarks of napari-tlreg (see the README's benchmark sections); helpers the scripts share."""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path


def write_json(path, obj, **dumps) -> Path:
    """``json.dumps(obj, indent=2, **dumps)`` written atomically: a run that fails or is killed while writing leaves
    the previous results file as it was (several scripts merge new sections into it), never half of a new one."""
    from napari_tlreg.io.writers import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(obj, indent=2, **dumps))
    return path


@contextlib.contextmanager
def ants_registration(fixed, moving, type_of_transform: str, **options):
    """``ants.registration(fixed, moving, type_of_transform, **options)`` with its transform files written into a
    temporary folder that is removed once the block that reads them (``apply_transforms``, the Jacobian) ends.
    Without an ``outprefix`` ANTsPy names them with ``mktemp()`` and leaves them: 3 files in the system's
    temporary folder per registration, thousands per benchmark run."""
    import ants

    with tempfile.TemporaryDirectory(prefix="tlreg_ants_") as folder:
        yield ants.registration(fixed=fixed, moving=moving, type_of_transform=type_of_transform,
                                outprefix=os.path.join(folder, "pair_"), **options)
