"""Where every golive command speaks: progress and errors on stderr, results on stdout."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

from golive.core.redaction import redact

err = Console(stderr=True, highlight=False)


def fail(command: str, message: str, code: int = 1) -> typer.Exit:
    """Prints `golive COMMAND: message` (never markup from the message, nor a password from a URL
    in it) and the exit to raise."""
    err.print(f"[bold red]golive {command}:[/] {escape(redact(message))}", soft_wrap=True)
    return typer.Exit(code)
