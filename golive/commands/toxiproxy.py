"""`golive toxiproxy`: the Toxiproxy-compatible fault proxy on its own."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from golive.chaos.toxiproxy.run import main as run_toxiproxy


def toxiproxy(
    host: Annotated[str, typer.Option("--host", help="API address")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="API port")] = 8474,
    config: Annotated[
        Path | None,
        typer.Option("--config", exists=True, dir_okay=False, help="proxies to create, /populate's JSON"),
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="makes partial toxicity reproducible")] = None,
) -> None:
    """Run the Toxiproxy-compatible fault proxy (any Toxiproxy client can drive it)."""
    argv = ["--host", host, "--port", str(port)]
    argv += ["--config", str(config)] if config else []
    argv += ["--seed", str(seed)] if seed is not None else []
    run_toxiproxy(argv)  # uvicorn stops it cleanly on SIGINT or SIGTERM
