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


#: a run's time left is said from this much of it done and this many seconds in (before, one slow first step or a
#: fast one gave a figure out by minutes)
TIME_LEFT_FROM = (0.03, 5.0)


def time_left(elapsed_s: float, done: int, total: int) -> str | None:
    """"about N s left" (in 5 s steps) under a minute, "about N min left" under 90 minutes, "about N.N h left" beyond,
    for a run ``done`` of ``total`` steps in ``elapsed_s`` seconds, at the pace so far; None before
    :data:`TIME_LEFT_FROM` (too soon to say), when done, or without a count."""
    if total <= 0 or done <= 0 or done >= total:
        return None
    frac = done / total
    if frac < TIME_LEFT_FROM[0] or elapsed_s < TIME_LEFT_FROM[1]:
        return None
    left = elapsed_s * (1.0 - frac) / frac
    seconds = max(5, int(round(left / 5.0)) * 5)
    if seconds < 60:  # (58 s was "about 60 s left")
        return f"about {seconds} s left"
    minutes = left / 60.0
    return f"about {int(round(minutes))} min left" if minutes < 90 else f"about {minutes / 60:.1f} h left"
