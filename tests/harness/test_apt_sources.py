"""The Debian mirror for `golive images build`, read from the machine's apt sources in both formats."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import docker
import pytest

from golive.images.apt_sources import Source, mirror_for, parse_deb822, parse_one_line
from golive.images.build import Builder, ImageBuildError
from golive.images.catalog import BASE
from golive.images.debian import SUITE

ONE_LINE = """\
# the machine's mirror
deb [arch=amd64 signed-by=/usr/share/keyrings/debian.gpg] http://mirror.internal/debian/ bookworm main contrib
deb-src http://mirror.internal/debian bookworm main
deb http://mirror.internal/debian-security bookworm-security main  # security
"""

DEB822 = """\
Types: deb
# a comment inside a stanza
URIs: http://apt.internal/debian
Suites: bookworm
  bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb deb-src
URIs: http://off.internal/debian
Suites: trixie
Components: main
Enabled: no
"""


def test_one_line_sources_skip_options_and_comments() -> None:
    assert parse_one_line(ONE_LINE) == [
        Source(("deb",), ("http://mirror.internal/debian/",), ("bookworm",)),
        Source(("deb-src",), ("http://mirror.internal/debian",), ("bookworm",)),
        Source(("deb",), ("http://mirror.internal/debian-security",), ("bookworm-security",)),
    ]


def test_deb822_stanzas_read_continuations_and_skip_disabled_ones() -> None:
    assert parse_deb822(DEB822) == [
        Source(("deb",), ("http://apt.internal/debian",), ("bookworm", "bookworm-updates")),
    ]


def test_the_mirror_is_a_binary_source_of_the_suite_itself(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    assert mirror_for("bookworm", tmp_path) is None
    (tmp_path / "sources.list.d" / "security.list").write_text(ONE_LINE.splitlines()[3] + "\n")
    (tmp_path / "sources.list.d" / "other.list.disabled").write_text(
        "deb http://ignored/debian bookworm main\n"
    )
    assert mirror_for("bookworm", tmp_path) is None
    (tmp_path / "sources.list.d" / "debian.sources").write_text(DEB822)
    assert mirror_for("bookworm", tmp_path) == "http://apt.internal/debian"
    assert mirror_for("trixie", tmp_path) is None
    (tmp_path / "sources.list").write_text(ONE_LINE)
    assert mirror_for("bookworm", tmp_path) == "http://mirror.internal/debian"


class _NoImages:
    """A Docker client with no image at all: enough to reach the base image's build."""

    class images:
        @staticmethod
        def get(tag: str) -> None:
            raise docker.errors.ImageNotFound(tag)


def test_without_a_mirror_the_base_image_is_refused_with_what_to_give(tmp_path: Path) -> None:
    # No apt source serves the suite and no --mirror: one line saying so, never a guessed host.
    builder = Builder(cast(docker.DockerClient, _NoImages()), tmp_path, mirror_for(SUITE, tmp_path))
    with pytest.raises(ImageBuildError) as refused:
        builder.build(BASE)
    assert str(refused.value).endswith("give --mirror URL")
    assert f"serves Debian {SUITE}" in str(refused.value)
