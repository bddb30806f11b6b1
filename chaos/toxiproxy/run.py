"""Running the proxy server: its API on a host and port (or an inherited socket), proxies from a
config file (/populate's format, toxics included), and a seed for reproducible toxicity."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import socket
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import uvicorn

from golive.chaos.toxiproxy.api import create_api
from golive.chaos.toxiproxy.server import ApiError, ToxiproxyServer


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m chaos.toxiproxy", description="Toxiproxy-compatible proxy"
    )
    parser.add_argument("--host", default="127.0.0.1", help="API address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8474, help="API port (default 8474)")
    parser.add_argument("--fd", type=int, help="serve the API on this inherited listening socket instead")
    parser.add_argument("--config", type=Path, help="JSON file in /populate's format, applied at start")
    parser.add_argument("--seed", type=int, help="makes toxicity, jitter and slicing reproducible")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    server = ToxiproxyServer(seed=args.seed)
    if args.config is not None:
        try:
            _, error = await server.populate(json.loads(args.config.read_text()))
        except ValueError as problem:
            raise SystemExit(f"toxiproxy: {args.config}: not JSON: {problem}") from None
        except ApiError as problem:
            error = problem
        if error is not None:
            raise SystemExit(f"toxiproxy: {args.config}: {error.message}")
    config = uvicorn.Config(
        create_api(server), host=args.host, port=args.port, log_level="warning", access_log=False
    )
    sockets = [socket.socket(fileno=args.fd)] if args.fd is not None else None
    try:
        await uvicorn.Server(config).serve(sockets=sockets)
    finally:
        for proxy in server.proxies.values():
            await proxy.stop()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    # uvicorn shuts down on SIGINT/SIGTERM, then re-raises the signal to the handler it found:
    # make that one a quiet exit, so a stopped proxy exits 0.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(serve(args))
    except KeyboardInterrupt:
        pass
    except OSError as error:
        raise SystemExit(f"toxiproxy: {error}") from None


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where it is installed (the data plane's speed depends on it), asyncio otherwise."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
