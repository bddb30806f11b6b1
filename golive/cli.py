"""The golive command line: one module per command (golive/commands/), registered here in the
order `golive --help` lists them.

A command's module is imported when that command runs, or when all are listed (`--help`, no
command, a name that is none of them): `golive up` need not import what `golive validate`,
`golive report` or `golive drill` do, which was half of its own start-up (0.7 s of CPU of 1.5).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence

import typer

from golive.core.extras import missing_extra

# The commands and groups, in the order `golive --help` lists them, each with its module.
NAMES = ("up", "validate", "report", "selftest", "clean", "drill", "load", "toxiproxy", "pusher", "version")
GROUPS = ("images", "chaos")
MODULES = {name: f"golive.commands.{name}" for name in NAMES} | {
    "images": "golive.images.cli",
    "chaos": "golive.commands.chaos",
}
HELP = "Proves a backend is ready to go live: spins up the stack, tests it, and says GO or NO-GO."


def build(only: str | None = None) -> typer.Typer:
    """The app with every command, or with the one named `only` alone."""
    app = typer.Typer(
        name="golive",
        help=HELP,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )

    @app.callback()
    def _group() -> None:
        """A group even with one command registered (Typer would make a lone command the app)."""

    for name in NAMES + GROUPS:
        if only is None or only == name:
            _register(app, name, listing=only is None)
    return app


def _register(app: typer.Typer, name: str, *, listing: bool) -> None:
    """Adds command or group `name`; when all are listed, one whose extra is not installed is
    listed all the same, and running it names the extra."""
    try:
        module = importlib.import_module(MODULES[name])
    except ModuleNotFoundError as error:
        line = missing_extra(error)
        if not listing or line is None:
            raise
        app.command(name, help=line)(_needs_extra(line))
        return
    if name in GROUPS:
        app.add_typer(getattr(module, f"{name}_app"), name=name)
    else:
        app.command()(getattr(module, name))


def _needs_extra(line: str) -> Callable[[], None]:
    def run() -> None:
        raise SystemExit(f"golive: {line}")

    return run


def command_in(argv: Sequence[str]) -> str | None:
    """The command `argv` (without the program) names, if it names one; None lists them all."""
    for arg in argv:
        if not arg.startswith("-"):
            return arg if arg in NAMES or arg in GROUPS else None
    return None


def __getattr__(name: str) -> typer.Typer:
    """`golive.cli.app`: the whole app, made when asked for (tests read its commands)."""
    if name == "app":
        return build()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    build(command_in(sys.argv[1:]))(prog_name="golive")


if __name__ == "__main__":
    main()
