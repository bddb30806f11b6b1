"""The images golive can build, what each is for, and what it is built from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPOSITORY = HERE.parent.parent


@dataclass(frozen=True)
class ImageSpec:
    name: str
    tag: str
    purpose: str
    context: Path
    dockerfile: str = "Dockerfile"
    base: str | None = None  # another spec's name, handed to the Dockerfile as BASE_IMAGE
    setting: str | None = None  # the docker provider's setting that can name this image
    takes_ca_bundle: bool = False  # its context gets ca-bundle.pem (see python/Dockerfile)


BASE = ImageSpec("base", "golive/debian:bookworm", "Debian 12 (debootstrap, minbase)", HERE)
CATALOG: tuple[ImageSpec, ...] = (
    BASE,
    ImageSpec(
        "postgres", "golive/postgres:15", "Postgres 15, as the official image is configured",
        HERE / "postgres", base="base", setting="GOLIVE_POSTGRES_IMAGE",
    ),
    ImageSpec(
        "redis", "golive/redis:7", "Redis 7, as the official image starts it",
        HERE / "redis", base="base", setting="GOLIVE_REDIS_IMAGE",
    ),
    ImageSpec(
        "python", "golive/python:3.11", "Python 3.11 with pip", HERE / "python", base="base",
        takes_ca_bundle=True,
    ),
    ImageSpec(
        "toxiproxy", "golive/toxiproxy:2", "golive's Toxiproxy-compatible proxy",
        REPOSITORY, dockerfile="golive/images/toxiproxy/Dockerfile", base="python",
        setting="GOLIVE_TOXIPROXY_IMAGE",
    ),
    ImageSpec(
        "backend", "golive/reference-backend:local", "the reference backend (Dockerfile)",
        REPOSITORY, base="python",
    ),
)  # fmt: skip
BY_NAME = {spec.name: spec for spec in CATALOG}


def host_ca_bundle(environ: Mapping[str, str]) -> Path | None:
    """The CA bundle this host's pip trusts, when it was told one (a proxy that inspects TLS)."""
    for name in ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        if environ.get(name):
            return Path(environ[name])
    return None


class UnknownImage(ValueError):
    pass


def closure(names: list[str]) -> list[ImageSpec]:
    """The named images and the images they are built from, in build order (all when none named)."""
    unknown = [name for name in names if name not in BY_NAME]
    if unknown:
        raise UnknownImage(f"unknown image {unknown[0]!r}: choose from {', '.join(BY_NAME)}")
    wanted = set(names or BY_NAME)
    for spec in reversed(CATALOG):
        if spec.name in wanted and spec.base is not None:
            wanted.add(spec.base)
    return [spec for spec in CATALOG if spec.name in wanted]
