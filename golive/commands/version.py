"""`golive version`."""

from __future__ import annotations

from golive import __version__


def version() -> None:
    """Print golive's version."""
    print(__version__)
