"""Building the catalog's images with the Docker engine, a log per image."""

from __future__ import annotations

import tempfile
import time
from collections import deque
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
                for chunk in stream:
                    text = chunk.get("stream") or (f"{chunk['error']}\n" if "error" in chunk else "")
                    log.write(text)
                    recent.extend(line for line in text.splitlines() if line.strip())
                    if "error" in chunk:
                        tail = "\n  ".join([*recent, f"(whole log: {log_path})"])
                        raise ImageBuildError(f"{spec.tag} did not build:\n  {tail}")
            except docker.errors.DockerException as error:
                raise ImageBuildError(f"{spec.tag}: {error}") from None
