"""Benchmarks of napari-tlreg (see the README's benchmark sections); helpers the scripts share."""
from __future__ import annotations

import json
from pathlib import Path


def write_json(path, obj, **dumps) -> Path:
    """``json.dumps(obj, indent=2, **dumps)`` written atomically: a run that fails or is killed while writing leaves
    the previous results file as it was (several scripts merge new sections into it), never half of a new one."""
    from napari_tlreg.io.writers import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(obj, indent=2, **dumps))
    return path
