"""Building the catalog's images with the Docker engine, a log per image."""

from __future__ import annotations

import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors

from golive.images.catalog import BASE, BY_NAME, ImageSpec, assemble_context
from golive.images.debian import SUITE, BaseImageError, create_base_image


class ImageBuildError(RuntimeError):
    pass


@dataclass(frozen=True)
class Built:
    spec: ImageSpec
    seconds: float
    size_bytes: int
    how: str  # "built", "imported", "present"


class Builder:
    def __init__(
        self, client: docker.DockerClient, log_dir: Path, mirror: str | None, ca_bundle: Path | None = None
    ) -> None:
        self.client = client
        self.log_dir = log_dir
        self.mirror = mirror
        self.ca_bundle = ca_bundle
        self._stopping = threading.Event()

    def stop(self) -> None:
        """Builds under way end at their next line of output (the engine drops a build whose
        client went away); Ctrl-C need not wait for them to finish."""
        self._stopping.set()

    def present(self, tag: str) -> bool:
        try:
            self.client.images.get(tag)
        except docker.errors.ImageNotFound:
            return False
        return True

    def size(self, tag: str) -> int:
        return int(self.client.images.get(tag).attrs.get("Size", 0))

    def build(self, spec: ImageSpec, *, rebuild_base: bool = False) -> Built:
        started = time.perf_counter()
        log_path = self.log_dir / f"image-{spec.name}.log"
        if spec is BASE:
            if self.present(spec.tag) and not rebuild_base:
                how = "present"
            elif self.mirror is None:
                raise ImageBuildError(
                    f"{spec.tag}: no apt source of this machine serves Debian {SUITE} "
                    "(/etc/apt/sources.list, /etc/apt/sources.list.d/): give --mirror URL"
                )
            else:
                try:
                    create_base_image(self.client, spec.tag, self.mirror, log_path)
                except (BaseImageError, docker.errors.DockerException) as error:
                    raise ImageBuildError(f"{spec.tag}: {error}") from None
                how = "imported"
        else:
            with tempfile.TemporaryDirectory(prefix="golive-context-") as context:
                assemble_context(spec, Path(context))
                if spec.takes_ca_bundle:
                    bundle = self.ca_bundle.read_bytes() if self.ca_bundle else b""
                    (Path(context) / "ca-bundle.pem").write_bytes(bundle)
                self._docker_build(spec, log_path, Path(context))
            how = "built"
        return Built(spec, round(time.perf_counter() - started, 1), self.size(spec.tag), how)

    def _docker_build(self, spec: ImageSpec, log_path: Path, context: Path) -> None:
        args = {"BASE_IMAGE": BY_NAME[spec.base].tag} if spec.base else {}
        recent: deque[str] = deque(maxlen=8)
        with log_path.open("w") as log:
            try:
                stream = self.client.api.build(
                    path=str(context), dockerfile=spec.dockerfile, tag=spec.tag,
                    buildargs=args, rm=True, forcerm=True, decode=True,
                )  # fmt: skip
                try:
                    for chunk in stream:
                        if self._stopping.is_set():
                            raise ImageBuildError(f"{spec.tag}: stopped")
                        text = chunk.get("stream") or (f"{chunk['error']}\n" if "error" in chunk else "")
                        log.write(text)
                        log.flush()  # a long build's log can be followed as it is written
                        recent.extend(line for line in text.splitlines() if line.strip())
                        if "error" in chunk:
                            tail = "\n  ".join([*recent, f"(whole log: {log_path})"])
                            raise ImageBuildError(f"{spec.tag} did not build:\n  {tail}")
                finally:
                    # Its connection goes now, not when the error's traceback does: the engine
                    # drops a build whose client went away.
                    stream.close()
            except docker.errors.DockerException as error:
                raise ImageBuildError(f"{spec.tag}: {error}") from None


# Builds at once: they wait on the engine, the apt mirror and PyPI more than on the CPU. Postgres,
# Redis and Python are built from the base side by side, then the fault proxy and the backend from
# Python: the catalog's first build, 197 s one after another (this 2-core machine).
WORKERS = 3


def build_each(
    build: Callable[[ImageSpec], Built],
    specs: Sequence[ImageSpec],
    *,
    started: Callable[[ImageSpec], None],
    stop: Callable[[], None],
    workers: int = WORKERS,
) -> Generator[Built, None, None]:
    """Builds `specs` (every base before the images built on it, as `closure` orders them), each
    once its base is built and a worker is free, and yields each as it is built. After a failure
    nothing more starts; the builds under way end, then the first failure is raised. Interrupted
    (Ctrl-C, or the caller stops iterating), it calls `stop` and waits for the builds to end."""
    names = {spec.name for spec in specs}
    waiting = list(specs)
    running: dict[Future[Built], ImageSpec] = {}
    built: set[str] = set()
    failure: ImageBuildError | None = None
    with ThreadPoolExecutor(workers, thread_name_prefix="golive-image") as pool:
        try:
            while running or (waiting and failure is None):
                for spec in list(waiting) if failure is None else []:
                    if len(running) < workers and (spec.base not in names or spec.base in built):
                        waiting.remove(spec)
                        started(spec)
                        running[pool.submit(build, spec)] = spec
                if not running:  # only when a base among `specs` comes after what is built on it
                    raise ImageBuildError(f"{waiting[0].tag}: its base {waiting[0].base} is not built first")
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    spec = running.pop(future)
                    try:
                        result = future.result()
                    except ImageBuildError as error:
                        failure = failure or error
                        continue
                    built.add(spec.name)
                    yield result
        except BaseException:
            stop()
            raise
    if failure is not None:
        raise failure
