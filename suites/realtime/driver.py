"""pusher-js clients for tests: each a Node process running node/client.mjs, configured and
commanded over its stdin, observed through the JSON lines it prints (see client.mjs for both).

A reader thread moves the lines into a queue, so a test waits for what it needs with a deadline
and never sleeps; everything a client printed stays in `lines`, for assertions and for failure
messages. Closing a client disconnects it, and kills it if it does not exit promptly."""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from golive.fixtures.node import NodeProject

NODE_DIR = Path(__file__).parent / "node"
CLIENT = "client.mjs"
WAIT_SECONDS = 10.0  # for one observation; client.mjs stops itself after 20 s in any case
EXIT_SECONDS = 5.0

Observation = dict[str, Any]
Predicate = Callable[[Observation], bool]


class ClientFailed(AssertionError):
    pass


class PusherJsClient:
    def __init__(self, node: NodeProject, config: dict[str, Any], stderr_path: Path, name: str) -> None:
        self.name = name
        self.lines: list[Observation] = []
        self._stderr_path = stderr_path
        self._stderr: TextIO = stderr_path.open("w")
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._eof = False
        self.process = subprocess.Popen(
            [node.node, CLIENT],
            cwd=node.directory,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            bufsize=1,
        )
        self._reader = threading.Thread(target=self._read, name=f"pusher-js-{name}", daemon=True)
        self._reader.start()
        with contextlib.suppress(OSError):  # Node died at once: wait_for reports it, with its stderr
            self._send(config)

    # --- talking to the process --------------------------------------------------------------

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def _send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()

    def trigger(self, channel: str, event: str, data: Any) -> Observation:
        """A client event (pusher-js `channel.trigger`); what pusher-js answered."""
        since = len(self.lines)
        self._send({"op": "trigger", "channel": channel, "event": event, "data": data})
        return self.wait_for(lambda line: line["type"] == "triggered" and line["event"] == event, since=since)

    def disconnect(self) -> int:
        """Disconnects pusher-js cleanly and waits for Node to exit; its exit status."""
        if self.process.poll() is None:
            with contextlib.suppress(OSError):  # it exited meanwhile: wait() tells how
                self._send({"op": "disconnect"})
        try:
            returncode = self.process.wait(EXIT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise ClientFailed(
                f"{self.name} did not exit {EXIT_SECONDS}s after a disconnect\n{self}"
            ) from None
        self._pull_all()
        return returncode

    def close(self) -> None:
        """However the test went: no Node process outlives it. A client that does not exit after
        a disconnect is killed, and the test fails in its teardown."""
        try:
            if self.process.poll() is None:
                self.disconnect()
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            for pipe in (self.process.stdin, self.process.stdout):
                if pipe is not None:
                    with contextlib.suppress(OSError):
                        pipe.close()
            self._reader.join(EXIT_SECONDS)
            self._stderr.close()

    # --- observations ------------------------------------------------------------------------

    def _take(self, line: str | None) -> None:
        if line is None:
            self._eof = True
            return
        try:
            parsed = json.loads(line)
        except ValueError:
            parsed = None
        self.lines.append(parsed if isinstance(parsed, dict) else {"type": "unparsed", "line": line})

    def _pull_all(self) -> None:
        while True:
            try:
                self._take(self._queue.get_nowait())
            except queue.Empty:
                return

    def wait_for(
        self, predicate: Predicate, *, since: int = 0, timeout: float = WAIT_SECONDS, what: str = ""
    ) -> Observation:
        """The first observation from `lines[since:]` on that `predicate` accepts, waiting for
        more as long as the deadline allows. Fails at once when the client reports an error or
        exits."""
        deadline = time.monotonic() + timeout
        checked = since
        while True:
            for index in range(checked, len(self.lines)):
                line = self.lines[index]
                if predicate(line):
                    return line
                if line["type"] == "error":
                    raise ClientFailed(f"{self.name} failed waiting for {what or 'an observation'}\n{self}")
            checked = max(checked, len(self.lines))
            if self._eof:
                raise ClientFailed(f"{self.name} exited before {what or 'the observation'} came\n{self}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ClientFailed(f"{self.name}: no {what or 'such observation'} within {timeout}s\n{self}")
            with contextlib.suppress(queue.Empty):
                self._take(self._queue.get(timeout=remaining))
            self._pull_all()

    def wait_ready(self) -> None:
        self.wait_for(lambda line: line["type"] == "ready", what="ready")

    def of_type(self, kind: str) -> list[Observation]:
        return [line for line in self.lines if line["type"] == kind]

    def events(self, channel: str | None = None, event: str | None = None) -> list[Observation]:
        return [
            line
            for line in self.of_type("event")
            if (channel is None or line["channel"] == channel) and (event is None or line["event"] == event)
        ]

    def __str__(self) -> str:
        shown = "\n".join(f"  {json.dumps(line)}" for line in self.lines[-40:])
        stderr = self._stderr_path.read_text(errors="replace").splitlines()[-20:]
        return f"{self.name} printed:\n{shown}\nits stderr (last lines):\n" + "\n".join(
            f"  {line}" for line in stderr
        )


def channel_spec(name: str, *bind: str) -> dict[str, Any]:
    return {"name": name, "bind": list(bind)}


class ClientFactory:
    """Starts clients for one test and closes them all after it."""

    def __init__(self, node: NodeProject, base_config: dict[str, Any], log_dir: Path) -> None:
        self._node = node
        self._base = base_config
        self._log_dir = log_dir
        self._clients: list[PusherJsClient] = []

    def __call__(
        self,
        token: str | None,
        channels: Sequence[dict[str, Any]] = (),
        *,
        signin: bool = False,
        user_events: tuple[str, ...] = (),
    ) -> PusherJsClient:
        """A client that subscribed to `channels` (and signed in) as the token's user, once it
        is ready: every subscription and the sign-in succeeded or failed."""
        name = f"client-{len(self._clients)}"
        config = {
            **self._base,
            "token": token,
            "channels": list(channels),
            "signin": signin,
            "userEvents": list(user_events),
        }
        client = PusherJsClient(self._node, config, self._log_dir / f"{name}.stderr", name)
        self._clients.append(client)
        client.wait_ready()
        return client

    def close_all(self) -> None:
        errors: list[BaseException] = []
        for client in self._clients:
            try:
                client.close()
            except Exception as error:  # close the others all the same
                errors.append(error)
        if errors:
            raise errors[0]
