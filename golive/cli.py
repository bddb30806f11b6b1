"""The golive command line: one module per command (golive/commands/), registered here in the
order `golive --help` lists them."""

from __future__ import annotations

import typer

from golive.commands.chaos import chaos_app
from golive.commands.clean import clean
from golive.commands.drill import drill
from golive.commands.load import load
from golive.commands.pusher import pusher
from golive.commands.report import report
from golive.commands.selftest import selftest
from golive.commands.toxiproxy import toxiproxy
from golive.commands.up import up
from golive.commands.validate import validate
from golive.commands.version import version
from golive.images.cli import images_app

app = typer.Typer(
    name="golive",
    help="Proves a backend is ready to go live: spins up the stack, tests it, and says GO or NO-GO.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
for command in (up, validate, report, selftest, clean, drill, load, toxiproxy, pusher, version):
    app.command()(command)
app.add_typer(images_app, name="images")
app.add_typer(chaos_app, name="chaos")


def main() -> None:
    app(prog_name="golive")


if __name__ == "__main__":
    main()
