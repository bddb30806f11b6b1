"""Load profiles: one readable YAML file (loadtests/profiles.yaml, or the operator's own), checked
into objects before anything starts, with errors that name the file, the profile and the field."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import Field, ValidationError, field_validator

from golive.core.documents import DocumentError, first_problem, read_yaml
from golive.core.load_evidence import LoadProfile
from golive.loadtests.thresholds import Threshold, ThresholdError, parse_all

DEFAULT_FILE = Path(__file__).with_name("profiles.yaml")
JOURNEYS = ("health", "creator", "bursty", "dashboard", "admin")
_DURATION = re.compile(r"^(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?$")


class ProfileError(ValueError):
    pass


def seconds(text: str | int | float) -> float:
    """`90`, `90s`, `2m`, `1h30m` -> seconds."""
    if isinstance(text, int | float):
        return float(text)
    if text.strip().isdigit():
        return float(text.strip())
    matched = _DURATION.match(text.strip())
    if not text.strip() or matched is None:
        raise ValueError(f"{text!r} is not a duration like 30s, 2m or 1h30m")
    return float(int(matched["h"] or 0) * 3600 + int(matched["m"] or 0) * 60 + int(matched["s"] or 0))


class Profile(LoadProfile):
    """A profile's fields as load.json records them (golive.core.load_evidence), checked, with
    every journey coming when the profile names none."""

    journeys: dict[str, Annotated[int, Field(ge=0)]] = Field(
        default_factory=lambda: dict.fromkeys(JOURNEYS, 1)
    )

    @field_validator("run_time")
    @classmethod
    def _duration(cls, value: str | int) -> str | int:
        if seconds(value) <= 0:
            raise ValueError("must be longer than 0 s")
        return value

    @field_validator("journeys")
    @classmethod
    def _known_journeys(cls, value: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(value) - set(JOURNEYS))
        if unknown:
            raise ValueError(f"unknown journey {', '.join(unknown)} (known: {', '.join(JOURNEYS)})")
        if not any(value.values()):
            raise ValueError("every journey has weight 0: nobody would come")
        return value

    @property
    def seconds(self) -> float:
        return seconds(self.run_time)

    @property
    def account_count(self) -> int:
        return self.accounts or self.users

    @property
    def backend_env(self) -> dict[str, str]:
        return {
            name: str(value).lower() if isinstance(value, bool) else str(value)
            for name, value in self.backend.items()
        }

    def parsed_thresholds(self) -> list[Threshold]:
        return parse_all(self.thresholds)


def load_profiles(path: Path = DEFAULT_FILE) -> dict[str, Profile]:
    try:
        document = read_yaml(path)
    except DocumentError as error:
        raise ProfileError(str(error)) from None
    if not isinstance(document, dict) or not document:
        raise ProfileError(f"{path}: expected a mapping of profile names to profiles")
    profiles = {}
    for name, body in document.items():
        if not isinstance(body, dict):
            raise ProfileError(f"{path}: profile {name!r}: expected a mapping")
        try:
            profile = Profile.model_validate({**body, "name": str(name)})
            profile.parsed_thresholds()
        except ValidationError as error:
            raise ProfileError(f"{path}: profile {name!r}: {first_problem(error)}") from None
        except ThresholdError as error:
            raise ProfileError(f"{path}: profile {name!r}: thresholds: {error}") from None
        profiles[str(name)] = profile
    return profiles


def load_profile(name: str, path: Path = DEFAULT_FILE) -> Profile:
    profiles = load_profiles(path)
    if name not in profiles:
        raise ProfileError(f"{path}: no profile {name!r} (there are: {', '.join(profiles)})")
    return profiles[name]


def profile_with(
    name: str, path: Path, users: int | None, run_time: str | None, replicas: int | None
) -> Profile:
    """A profile of the profiles file with the options given instead of its own values;
    ProfileError for the file, ValidationError for an option."""
    profile = load_profile(name, path)
    overrides = {"users": users, "run_time": run_time, "replicas": replicas}
    chosen = {key: value for key, value in overrides.items() if value is not None}
    return Profile.model_validate({**profile.model_dump(), **chosen}) if chosen else profile
