"""The Debian base image, made where none can be pulled: debootstrap a minimal root file system
from a Debian mirror, and `docker import` it."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import docker

from golive.fixtures.processes import run_tool

SUITE = "bookworm"


class BaseImageError(RuntimeError):
    pass


def create_base_image(client: docker.DockerClient, tag: str, mirror: str, log_path: Path) -> None:
    if os.geteuid() != 0:
        raise BaseImageError("creating the Debian base image needs root (debootstrap): run as root")
    debootstrap = shutil.which("debootstrap") or shutil.which("debootstrap", path="/usr/sbin:/sbin")
    if debootstrap is None:
        raise BaseImageError("debootstrap not found: install it (apt-get install -y debootstrap)")
    root = Path(tempfile.mkdtemp(prefix="golive-rootfs-"))
    try:
        with log_path.open("w") as log:
            argv = [debootstrap, "--variant=minbase", SUITE, str(root), mirror]
            done = run_tool(argv, stdout=log)
            log.write(done.stderr)
        if done.returncode != 0:
            tail = "\n  ".join(log_path.read_text().strip().splitlines()[-8:])
            raise BaseImageError(f"debootstrap {SUITE} from {mirror} failed ({done.returncode}):\n  {tail}")
        _import(client, root, tag)
    finally:
        _remove_root(root)


def _import(client: docker.DockerClient, root: Path, tag: str) -> None:
    repository, _, version = tag.partition(":")
    tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
    assert tar.stdout is not None
    try:
        with tar.stdout:
            client.api.import_image(
                src=tar.stdout, repository=repository, tag=version or "latest", stream_src=True
            )
    except BaseException:
        tar.kill()
        raise
    finally:
        tar.wait()
    if tar.returncode != 0:
        raise BaseImageError(f"tar of the root file system failed ({tar.returncode})")


def _remove_root(root: Path) -> None:
    """debootstrap mounts /proc and /sys inside the tree while it works; a failed run can leave them
    mounted, and removing files through such a mount must never happen."""
    for mountpoint in sorted(_mounts_under(root), reverse=True):
        subprocess.run(["umount", "--lazy", mountpoint], check=False)
    if _mounts_under(root):
        raise BaseImageError(f"{root}: file systems still mounted inside; unmount them, then remove it")
    shutil.rmtree(root, ignore_errors=True)


def _mounts_under(root: Path) -> list[str]:
    with open("/proc/mounts") as mounts:
        return [line.split()[1] for line in mounts if line.split()[1].startswith(f"{root}/")]
