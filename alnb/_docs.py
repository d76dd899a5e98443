"""Docstrings as plain one-line descriptions for the command line."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["summary_line"]


def summary_line(obj: Any) -> str:
    """The first line of ``obj``'s docstring as plain text (``:math:`x``` and double-backtick markup removed).

    Examples
    --------
    >>> def f():
    ...     '''Score :math:`1 - p`; uses ``k``.'''
    >>> summary_line(f)
    'Score 1 - p; uses k.'
    """
    doc = (getattr(obj, "__doc__", None) or "").strip()
    line = doc.splitlines()[0].strip() if doc else ""
    return re.sub(r":[a-z]+:`([^`]*)`", r"\1", line).replace("``", "")
