"""``python -m napari_tlreg ...``: the ``napari-tlreg`` command."""
from .cli import main

raise SystemExit(main())
