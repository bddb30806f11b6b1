"""The golive command line: one module per command (golive/commands/), registered here in the
order `golive --help` lists them.

A command's module is imported when that command runs, or when all are listed (`--help`, no
command, a name that is none of them): `golive up` need not import what `golive validate`,
`golive report` or `golive drill` do, which was half of its own start-up (0.7 s of CPU of 1.5).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import typer

# The commands and groups, in the order `golive --help` lists them.
NAMES = ("up", "validate", "report", "selftest", "clean", "drill", "load", "toxiproxy", "pusher", "version")
GROUPS = ("images", "chaos")
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

    def wanted(name: str) -> bool:
        return only is None or only == name

    if wanted("up"):
        from golive.commands.up import up

        app.command()(up)
    if wanted("validate"):
        from golive.commands.validate import validate

        app.command()(validate)
    if wanted("report"):
        from golive.commands.report import report

        app.command()(report)
    if wanted("selftest"):
        from golive.commands.selftest import selftest

        app.command()(selftest)
    if wanted("clean"):
        from golive.commands.clean import clean

        app.command()(clean)
    if wanted("drill"):
        from golive.commands.drill import drill

        app.command()(drill)
    if wanted("load"):
        from golive.commands.load import load

        app.command()(load)
    if wanted("toxiproxy"):
        from golive.commands.toxiproxy import toxiproxy

        app.command()(toxiproxy)
    if wanted("pusher"):
        from golive.commands.pusher import pusher

        app.command()(pusher)
    if wanted("version"):
        from golive.commands.version import version

        app.command()(version)
    if wanted("images"):
        from golive.images.cli import images_app

        app.add_typer(images_app, name="images")
    if wanted("chaos"):
        from golive.commands.chaos import chaos_app

        app.add_typer(chaos_app, name="chaos")
    return app


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
