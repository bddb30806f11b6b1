"""Node packages outside a checkout: installed once into golive's cache from the lock file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from golive.fixtures.node import node_for

PACKAGE = Path(__file__).parents[1] / "toxiproxy" / "node"


def test_an_installed_golive_gets_the_package_into_its_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    bare = tmp_path / "node"  # as in a wheel: the scripts and the lock file, no node_modules
    bare.mkdir()
    for name in ("package.json", "package-lock.json", "conformance.mjs"):
        shutil.copy(PACKAGE / name, bare / name)
    monkeypatch.delenv("GOLIVE_CACHE_DIR", raising=False)  # the session's: XDG_CACHE_HOME is tested here
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    project = node_for(bare, "toxiproxy-node-client")
    assert project.directory.is_relative_to(tmp_path / "cache" / "golive" / "node")
    assert (project.directory / "node_modules" / "toxiproxy-node-client").is_dir()
    assert (project.directory / "conformance.mjs").is_file()
    assert not (bare / "node_modules").exists()
    assert node_for(bare, "toxiproxy-node-client") == project  # once per lock file


def test_without_npm_it_says_what_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(PACKAGE / "package-lock.json", tmp_path / "package-lock.json")
    monkeypatch.delenv("GOLIVE_CACHE_DIR", raising=False)  # the session's: XDG_CACHE_HOME is tested here
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name: None if name == "npm" else real_which(name))
    if real_which("node") is None:
        pytest.skip("Node is not installed")
    with pytest.raises(pytest.skip.Exception, match="npm is missing to install it"):
        node_for(tmp_path, "toxiproxy-node-client")
