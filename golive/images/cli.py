"""`golive images build|list`: local images where no registry is reachable."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from golive.core.console import err, fail
from golive.core.rundir import RunDir, RunDirError
from golive.fixtures.providers.docker.engine import DockerUnavailable, connect
from golive.fixtures.providers.docker.settings import DockerSettings
from golive.images.apt_sources import mirror_for
from golive.images.build import Builder, ImageBuildError, build_each
from golive.images.catalog import BY_NAME, CATALOG, ImageSpec, UnknownImage, closure, host_ca_bundle
from golive.images.debian import SUITE

images_app = typer.Typer(
    help="Local images for the docker provider and the backend (for machines without a registry).",
    no_args_is_help=True,
)


@images_app.command("build")
def build(
    names: Annotated[
        list[str] | None,
        typer.Argument(help=f"images to build, with what they build on: {', '.join(BY_NAME)} (default: all)"),
    ] = None,
    mirror: Annotated[
        str | None,
        typer.Option(
            "--mirror",
            envvar="GOLIVE_DEBIAN_MIRROR",
            help="Debian mirror for the base image (default: the one this machine's apt sources use)",
        ),
    ] = None,
    rebuild_base: Annotated[
        bool, typer.Option("--rebuild-base", help="debootstrap the base again even if it exists")
    ] = False,
    ca_bundle: Annotated[
        Path | None,
        typer.Option(
            "--ca-bundle",
            exists=True,
            dir_okay=False,
            help="certificates pip in the images trusts (default: $PIP_CERT, $REQUESTS_CA_BUNDLE, "
            "$SSL_CERT_FILE; else pip's own)",
        ),
    ] = None,
    run_dir: Annotated[
        Path | None, typer.Option("--run-dir", help="build logs here (default: a new run directory)")
    ] = None,
) -> None:
    """Build golive's images: a Debian base (debootstrap + docker import, when missing), then
    Postgres, Redis, Python, the fault proxy and the backend on it, up to three side by side.
    Layers are cached: a second build takes seconds."""
    try:
        specs = closure(names or [])
    except UnknownImage as error:
        raise fail("images build", str(error), 2) from None
    bundle = ca_bundle or host_ca_bundle(os.environ)
    if bundle is not None and not bundle.is_file():
        raise fail("images build", f"{bundle}: no such CA bundle (from the environment)", 2)
    try:
        client = connect()
    except DockerUnavailable as error:
        raise fail("images build", str(error)) from None
    try:
        run = RunDir.create("images", run_dir)
    except RunDirError as error:
        raise fail("images build", str(error), 2) from None
    builder = Builder(client, run.path, mirror or mirror_for(SUITE), bundle)

    def starting(spec: ImageSpec) -> None:
        err.print(f"  {spec.tag:<32} {escape(spec.purpose)} ...", soft_wrap=True)

    try:
        for built in build_each(
            partial(builder.build, rebuild_base=rebuild_base), specs, started=starting, stop=builder.stop
        ):
            size = built.size_bytes / 1e6
            err.print(f"  [green]✓[/] {built.spec.tag:<30} {built.how} in {built.seconds} s, {size:.0f} MB")
    except ImageBuildError as error:
        run.finish(1, outcome=str(error))
        raise fail("images build", str(error)) from None
    except KeyboardInterrupt:
        run.finish(130, outcome="interrupted")
        raise fail("images build", "interrupted: the builds under way were stopped", 130) from None
    run.finish(0, images=[spec.tag for spec in specs])
    settings = [f"{spec.setting}={spec.tag}" for spec in specs if spec.setting]
    if settings:
        err.print("The docker provider uses them when told to:")
        err.print(f"  export {' '.join(settings)}", soft_wrap=True)
    err.print(f"Build logs: {run.path}")


def _with_tag(image: str) -> str:
    """As the engine lists it: `name` means `name:latest`."""
    return image if ":" in image.rsplit("/", 1)[-1] else f"{image}:latest"


@images_app.command("list")
def list_images() -> None:
    """golive's images on the engine, and the images the docker provider would run."""
    try:
        client = connect()
    except DockerUnavailable as error:
        raise fail("images list", str(error)) from None
    present = {tag: image for image in client.images.list() for tag in image.tags}
    table = Table("image", "for", "on this engine", box=None)
    for spec in CATALOG:
        image = present.get(spec.tag)
        size = f"yes, {int(image.attrs.get('Size', 0)) / 1e6:.0f} MB" if image else "no"
        table.add_row(spec.tag, spec.purpose, size)
    err.print(table)
    try:
        settings = DockerSettings()
    except ValueError as error:
        raise fail("images list", str(error), 2) from None
    err.print("The docker provider runs:")
    for service, setting in (
        ("postgres", settings.postgres_image),
        ("redis", settings.redis_image),
        ("toxiproxy", settings.toxiproxy_image),
    ):
        source = "set" if f"GOLIVE_{service.upper()}_IMAGE" in os.environ else "default"
        state = "on this engine" if _with_tag(setting) in present else "not on this engine"
        err.print(f"  {service:<10} {setting} ({source}; {state})")
