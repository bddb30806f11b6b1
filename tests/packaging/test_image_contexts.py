"""`golive images build` puts each build context together from the golive package, so it works from
an installed wheel as from a checkout: every file a Dockerfile copies must be in its context."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from golive.images.catalog import BASE, CATALOG, ImageSpec, assemble_context


def copied_sources(dockerfile: str) -> list[str]:
    sources = []
    for line in dockerfile.replace("\\\n", " ").splitlines():
        match = re.match(r"\s*(COPY|ADD)\s+(.*)", line, re.IGNORECASE)
        if match:
            words = [word for word in shlex.split(match.group(2)) if not word.startswith("--")]
            sources += words[:-1]
    return sources


@pytest.mark.parametrize("spec", [spec for spec in CATALOG if spec is not BASE], ids=lambda spec: spec.name)
def test_every_file_a_dockerfile_copies_is_in_its_context(spec: ImageSpec, tmp_path: Path) -> None:
    assemble_context(spec, tmp_path)
    dockerfile = (tmp_path / spec.dockerfile).read_text()
    generated = {"ca-bundle.pem"} if spec.takes_ca_bundle else set()
    sources = copied_sources(dockerfile)
    assert sources, f"{spec.name}: its Dockerfile copies nothing?"
    missing = [source for source in sources if source not in generated and not (tmp_path / source).exists()]
    assert missing == [], f"{spec.name}: not in the build context: {missing}"
    assert not list(tmp_path.rglob("__pycache__"))


def test_the_backend_image_is_built_from_the_repositorys_dockerfile(tmp_path: Path) -> None:
    backend = next(spec for spec in CATALOG if spec.name == "backend")
    assemble_context(backend, tmp_path)
    repository = Path(__file__).parents[2]
    assert (tmp_path / "Dockerfile").read_text() == (repository / "Dockerfile").read_text()
