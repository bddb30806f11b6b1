from __future__ import annotations

import stat
from pathlib import Path

import pytest

from golive.fixtures.description import Credentials, StackDescription, StackFileError, check_url


def test_round_trip_keeps_secrets_in_the_file_only(tmp_path: Path) -> None:
    description = StackDescription(
        provider="local",
        sut="http://127.0.0.1:1",
        users={"admin": Credentials(username="a", password="p")},
        jwt_secret="s" * 40,
    )
    path = tmp_path / "stack.json"
    description.write(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    read = StackDescription.read(path)
    assert read.jwt_secret is not None
    assert read.jwt_secret.get_secret_value() == "s" * 40
    assert "s" * 40 not in description.public_json()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "Invalid JSON"),
        ("{}", "sut: Field required"),
        ('{"sut": "http://x", "replicas": 2}', "replicas: Extra inputs are not permitted"),
        (
            '{"sut": "http://x", "users": {"admin": {"username": "a"}}}',
            "users.admin.password: Field required",
        ),
        ('{"sut": 5}', "sut: Input should be a valid string"),
    ],
)
def test_bad_stack_files_get_one_line_naming_file_and_field(
    tmp_path: Path, content: str, expected: str
) -> None:
    path = tmp_path / "stack.json"
    path.write_text(content)
    with pytest.raises(StackFileError) as caught:
        StackDescription.read(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert "\n" not in message


def test_missing_stack_file(tmp_path: Path) -> None:
    with pytest.raises(StackFileError, match="cannot read"):
        StackDescription.read(tmp_path / "absent.json")


def test_deployment_takes_credentials_from_the_environment() -> None:
    description = StackDescription.for_deployment(
        "https://api.example/", {"GOLIVE_ADMIN_USERNAME": "root", "GOLIVE_ADMIN_PASSWORD": "pw"}
    )
    assert description.sut == "https://api.example"
    assert description.provider == "external"
    assert set(description.users) == {"admin"}


@pytest.mark.parametrize("url", ["localhost:8009", "ftp://x", "http://", "http://a b", "http://host?x=1"])
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(StackFileError, match="not an http"):
        check_url(url)
