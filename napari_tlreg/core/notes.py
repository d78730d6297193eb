"""What a run, a tracking or a write has to say: to the caller's ``on_warning(message)`` where it gave one (the CLI
prints it, the docks show it, a batch keeps it in its row), else as a ``UserWarning``."""
from __future__ import annotations

import contextlib
import os
import sys
import warnings

# the package's folder as imported (a frame's file name is not resolved: through a symlinked home, a resolved one
# named no frame the package's) and resolved; and contextlib's (atomic_dir's warnings pass through its __exit__)
_PACKAGE = tuple(dict.fromkeys(os.path.dirname(os.path.dirname(p)) + os.sep
                               for p in (os.path.abspath(__file__), os.path.realpath(__file__))))
_SKIPPED = (*_PACKAGE, contextlib.__file__)


def user_stacklevel() -> int:
    """The ``stacklevel`` for a ``warnings.warn`` in the calling function that names the first line outside this
    package (and contextlib's context managers): the user's (a notebook's cell, a script's line), however deep in the
    package the warning is raised (a fixed level named ``api.py``'s wrapper for every warning of ``register``).
    Python 3.12's ``skip_file_prefixes``."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(_SKIPPED):
        frame, level = frame.f_back, level + 1
    return level


def say(on_warning, message: str) -> None:
    """``on_warning(message)``, or ``warnings.warn(message, UserWarning)`` naming the user's line."""
    if on_warning is not None:
        on_warning(message)
    else:
        warnings.warn(message, UserWarning, stacklevel=user_stacklevel())
