"""`golive pusher`: the Pusher Channels emulator on its own."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from golive.fixtures.pusher.run import DEFAULT_PORT
from golive.fixtures.pusher.run import main as run_pusher


def pusher(
    host: Annotated[str, typer.Option("--host", help="address")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="port")] = DEFAULT_PORT,
    app_id: Annotated[
        str | None, typer.Option("--app-id", envvar="PUSHER_APP_ID", help="digits (made up if unset)")
    ] = None,
    key: Annotated[str | None, typer.Option("--key", envvar="PUSHER_KEY", help="app key")] = None,
    secret: Annotated[
        str | None,
        typer.Option("--secret", envvar="PUSHER_SECRET", help="app secret (better: $PUSHER_SECRET)"),
    ] = None,
    webhook_url: Annotated[str | None, typer.Option("--webhook-url", help="where webhooks go")] = None,
    batch_webhooks: Annotated[
        bool, typer.Option("--batch-webhooks", help="several events per webhook request")
    ] = False,
    activity_timeout: Annotated[
        int, typer.Option("--activity-timeout", min=1, help="seconds of silence before a ping")
    ] = 120,
    timestamp_window: Annotated[
        int, typer.Option("--timestamp-window", min=0, help="HTTP API clock skew allowed, s; 0: any")
    ] = 600,
    no_client_events: Annotated[
        bool, typer.Option("--no-client-events", help="refuse client events (Pusher's default)")
    ] = False,
) -> None:
    """Run the Pusher Channels emulator: pusher-js and the server SDKs connect to it as to Pusher."""
    argv = ["--host", host, "--port", str(port), "--activity-timeout", str(activity_timeout)]
    argv += ["--timestamp-window", str(timestamp_window)]
    for option, value in (("--app-id", app_id), ("--key", key), ("--webhook-url", webhook_url)):
        argv += [option, value] if value else []
    argv += ["--batch-webhooks"] if batch_webhooks else []
    argv += ["--no-client-events"] if no_client_events else []
    if secret:
        os.environ["PUSHER_SECRET"] = secret  # not on argv, where `ps` would show it
    run_pusher(argv)
