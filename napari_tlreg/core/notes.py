"""What a run, a tracking or a write has to say: to the caller's ``on_warning(message)`` where it gave one (the CLI
prints it, the docks show it, a batch keeps it in its row), else as a ``UserWarning``."""
from __future__ import annotations

import warnings


def say(on_warning, message: str, stacklevel: int = 2) -> None:
    """``on_warning(message)``, or ``warnings.warn(message, UserWarning)`` with ``stacklevel`` counted as if the caller
    had called ``warnings.warn`` itself."""
    if on_warning is not None:
        on_warning(message)
    else:
        warnings.warn(message, UserWarning, stacklevel=stacklevel + 1)
