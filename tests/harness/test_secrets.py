"""What a run leaves on disk, read as another user would: no secret is readable but by its owner,
and a password in a URL is never printed nor written in clear."""

from __future__ import annotations

import json
import os
import pwd
import signal
import stat
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from golive.core.redaction import redact, redact_all
from tests.harness.golive import first_line, run_golive, spawn_up, stop
from tests.harness.leaks import new_marker


def secrets_of(stack: dict[str, Any], stack_file: Path) -> set[str]:
    """Every secret golive made for this stack, from what `up --json` and stack.json say."""
    found = {user["password"] for user in stack["users"].values()}
    found.add(stack["pusher"]["secret"])
    found |= {str(urlsplit(stack[name]).password) for name in ("postgres", "postgres_admin")}
    found.add(json.loads(stack_file.read_text())["jwt_secret"])
    assert all(len(secret) >= 16 for secret in found), found
    return found


def readable_by(user: str, paths: list[Path]) -> list[str]:
    """The paths `user` can open, tried in a child that became that user (not guessed from modes)."""
    entry = pwd.getpwnam(user)
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe, then leaves at once
        os.close(read_end)
        could_open = []
        try:
            os.setgroups([])
            os.setgid(entry.pw_gid)
            os.setuid(entry.pw_uid)
            for path in paths:
                try:
                    with open(path, "rb") as handle:
                        handle.read(1)
                    could_open.append(str(path))
                except OSError:
                    pass
        finally:
            os.write(write_end, json.dumps(could_open).encode())
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as reader:
        answer = reader.read()
    os.waitpid(child, 0)
    opened: list[str] = json.loads(answer)
    return opened


@pytest.mark.skipif(os.geteuid() != 0, reason="becoming another user needs root")
def test_a_run_directory_keeps_its_secrets_from_other_users(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    process = spawn_up(run_dir, new_marker())
    try:
        stack = first_line(process)
        secrets = secrets_of(stack, run_dir / "stack.json")
    finally:
        stop(process, signal.SIGINT)
    assert process.returncode == 0
    tmp_path.chmod(0o755)  # pytest's own tmp dirs are 0700: only the run dir may keep others out
    everything = [run_dir, *sorted(run_dir.rglob("*"))]
    assert stat.S_IMODE(run_dir.stat().st_mode) == 0o700
    holders = [
        path
        for path in everything
        if path.is_file() and any(s in path.read_text(errors="replace") for s in secrets)
    ]
    assert run_dir / "stack.json" in holders
    for path in holders:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, f"{path} holds a secret and others may read it"
    assert readable_by("nobody", [path for path in everything if path.is_file()]) == []
    run_json = (run_dir / "run.json").read_text()
    assert not [secret for secret in secrets if secret in run_json]
    assert json.loads(run_json)["commands"]["up"]["stack"] == "stack.json"


def test_the_redactor_takes_passwords_out_of_urls_in_any_text() -> None:
    assert redact("postgresql://app:s3cret@db:5432/x") == "postgresql://app:***@db:5432/x"
    assert redact("postgresql://db/x") == "postgresql://db/x"
    assert (
        redact("--target=https://ops:p%40ss@host/api and more")
        == "--target=https://ops:***@host/api and more"
    )
    assert redact_all({"a": ["redis://:pw@h:1/0", 3]}) == {"a": ["redis://:***@h:1/0", 3]}


def test_a_password_in_the_target_url_is_printed_and_recorded_redacted(
    tmp_path: Path, golive_unused_port: int
) -> None:
    target = f"http://ops:hunter2hunter2@127.0.0.1:{golive_unused_port}"
    done = run_golive("validate", "--target", target, "--run-dir", str(tmp_path / "run"), timeout=120)
    assert done.returncode == 1
    assert "does not answer GET /health" in done.stderr
    assert f"http://ops:***@127.0.0.1:{golive_unused_port}" in done.stderr
    written = "".join(
        path.read_text() for path in (tmp_path / "run").rglob("*.json") if path.name != "stack.json"
    )
    assert "ops:***@" in written
    for text in (done.stdout, done.stderr, written):
        assert "hunter2hunter2" not in text
