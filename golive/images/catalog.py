"""The images golive can build, what each is for, and what it is built from."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# Build contexts are put together from the golive package itself (a checkout's golive/ and an
# installed wheel hold the same files), so `golive images build` works wherever golive is installed.
PACKAGE = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ImageSpec:
    name: str
    tag: str
    purpose: str
    # (path in the build context, path in the golive package): a file, or a folder copied whole;
    # "." puts a folder's contents at the context's root. An absolute source is taken as it is.
    files: tuple[tuple[str, str], ...] = ()
    dockerfile: str = "Dockerfile"
    base: str | None = None  # another spec's name, handed to the Dockerfile as BASE_IMAGE
    setting: str | None = None  # the docker provider's setting that can name this image
    takes_ca_bundle: bool = False  # its context gets ca-bundle.pem (see python/Dockerfile)


BASE = ImageSpec("base", "golive/debian:bookworm", "Debian 12 (debootstrap, minbase)")
CATALOG: tuple[ImageSpec, ...] = (
    BASE,
    ImageSpec(
        "postgres", "golive/postgres:15", "Postgres 15, as the official image is configured",
        files=((".", "images/postgres"),), base="base", setting="GOLIVE_POSTGRES_IMAGE",
    ),
    ImageSpec(
        "redis", "golive/redis:7", "Redis 7, as the official image starts it",
        files=((".", "images/redis"),), base="base", setting="GOLIVE_REDIS_IMAGE",
    ),
    ImageSpec(
        "python", "golive/python:3.11", "Python 3.11 with pip",
        files=((".", "images/python"),), base="base", takes_ca_bundle=True,
    ),
    ImageSpec(
        "toxiproxy", "golive/toxiproxy:2", "golive's Toxiproxy-compatible proxy",
        files=(
            ("Dockerfile", "images/toxiproxy/Dockerfile"),
            ("requirements.txt", "system_under_test/requirements.txt"),
            ("golive/__init__.py", "__init__.py"),
            ("golive/chaos/__init__.py", "chaos/__init__.py"),
            ("golive/chaos/toxiproxy", "chaos/toxiproxy"),
        ),
        base="python", setting="GOLIVE_TOXIPROXY_IMAGE",
    ),
    ImageSpec(
        "backend", "golive/reference-backend:local", "the reference backend (its Dockerfile)",
        files=(("Dockerfile", "system_under_test/Dockerfile"), ("system_under_test", "system_under_test")),
        base="python",
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


def assemble_context(spec: ImageSpec, context: Path) -> None:
    """Copies the spec's files from the golive package into `context` (an empty folder)."""
    for destination, source in spec.files:
        origin, target = PACKAGE / source, context / destination
        if origin.is_dir():
            shutil.copytree(origin, target, ignore=_NOT_CONTEXT, dirs_exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(origin, target)


_NOT_CONTEXT = shutil.ignore_patterns("__pycache__", "*.pyc", "node_modules")
