"""`golive clean`: what earlier golive runs whose process is gone left behind; with `--cache`,
golive's cache of Postgres clusters too (the next local stack rebuilds it)."""

from __future__ import annotations

import contextlib
import shutil
from typing import Annotated

import typer
from rich.markup import escape

from golive.core.console import err
from golive.core.extras import missing_extra
from golive.core.rundir import mark_killed, run_dir_of
from golive.fixtures.providers import ProviderError
from golive.fixtures.providers.local.cluster_cache import ClusterCache
from golive.fixtures.providers.local.scratch import scratch_dirs


def clean(
    every: Annotated[
        bool, typer.Option("--all", help="also containers of golive runs still going (stops them)")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="only list what would be removed")] = False,
    cache: Annotated[
        bool,
        typer.Option(
            "--cache", help="also the cache of initialized Postgres clusters (the next stack rebuilds it)"
        ),
    ] = False,
) -> None:
    """Remove what earlier golive runs left behind: the temp dirs (Postgres data, Redis) of runs
    that were killed, their run.json marked so; what killed runs left in the Postgres cluster
    cache (and, with --cache, the cache); containers and networks (found by label)."""
    _clean_scratch_dirs(dry_run)
    _clean_cluster_cache(dry_run, everything=cache)
    _clean_containers(dry_run, every=every)


def _clean_containers(dry_run: bool, *, every: bool) -> None:
    try:
        # Imported here: without golive[docker] there is no container of golive's to remove.
        from docker.models.networks import Network

        from golive.fixtures.providers.docker.engine import OWNER_LABEL, connect, labels_of, leftovers, remove
    except ModuleNotFoundError as error:
        line = missing_extra(error)
        if line is None:
            raise
        err.print(f"golive clean: no container looked for: {escape(line)}", soft_wrap=True)
        return
    try:
        client = connect()
    except ProviderError as error:
        # Without an engine there is no container to remove: the temp dirs were the work.
        err.print(f"golive clean: no container looked for: {escape(str(error))}", soft_wrap=True)
        return
    found = leftovers(client, every=every)
    for resource in found:
        if not dry_run:
            remove(resource)
        kind = "network" if isinstance(resource, Network) else "container"
        owner = labels_of(resource).get(OWNER_LABEL, "?")
        verb = "would remove" if dry_run else "removed"
        err.print(f"  {verb} {kind} {resource.name} (run of pid {owner})")
    done = "to remove" if dry_run else "removed"
    err.print(f"golive clean: {len(found)} container(s) and network(s) {done}")


def _clean_scratch_dirs(dry_run: bool) -> None:
    """Only dirs marked by a golive process that is gone (never those of a run still going)."""
    abandoned = [scratch for scratch in scratch_dirs() if scratch.abandoned]
    for scratch in abandoned:
        pid = scratch.owner.split(":", 1)[0]
        if dry_run:
            err.print(f"  would remove {scratch.path} (run of pid {pid}, gone)")
            continue
        shutil.rmtree(scratch.path, ignore_errors=True)
        if scratch.path.exists():
            err.print(
                f"  [red]x[/] could not remove {scratch.path} (run of pid {pid}): remove it as its owner"
            )
            continue
        run_dir = run_dir_of(scratch.log_dir)
        with contextlib.suppress(OSError, ValueError):
            if run_dir is not None:
                mark_killed(run_dir, scratch.owner, "killed; golive clean removed what it left")
        err.print(f"  removed {scratch.path} (run of pid {pid}, gone)")
    done = "to remove" if dry_run else "removed"
    err.print(f"golive clean: {len(abandoned)} temp dir(s) of killed runs {done}")


def _clean_cluster_cache(dry_run: bool, *, everything: bool) -> None:
    """Half-built or half-removed entries of killed runs always; every entry with --cache."""
    clusters = ClusterCache.at_home()
    found = clusters.abandoned()
    entries = clusters.entries() if everything else []
    verb = "would remove" if dry_run else "removed"
    for path in [*found, *entries]:
        err.print(f"  {verb} {path} ({clusters.size(path) / 1e6:.0f} MB)")
    if not dry_run:
        clusters.remove([*found, *entries])
    done = "to remove" if dry_run else "removed"
    if everything:
        err.print(f"golive clean: {len(entries)} cached Postgres cluster(s) {done} ({clusters.root})")
    elif found:
        err.print(f"golive clean: {len(found)} leftover(s) of killed runs in {clusters.root} {done}")
