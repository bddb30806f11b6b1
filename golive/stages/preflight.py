"""Every input of a command checked before anything starts: a bad setting or a chaos experiment
that names no proxy of the stack is one line on the console and exit 2, in a moment, rather
than a failure after the whole stack started (or an "error" with its reason in a journal)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsError
from pydantic_settings.sources.utils import parse_env_vars

from golive.chaos.experiment import Experiment
from golive.core.documents import located_problem
from golive.fixtures.backend import Backend
from golive.fixtures.stack import PROXIES, STACK_SETTINGS, backend_environment

# Valid stand-ins for what the stack sets once its services run (their ports are not known yet).
_STAND_INS = {
    "DATABASE_URL": "postgresql://golive:stand-in@127.0.0.1:1/golive",
    "REDIS_URL": "redis://127.0.0.1:1/0",
    "AI_SERVICE_URL": "http://127.0.0.1:1",
    "PUSHER_APP_ID": "1",
    "PUSHER_KEY": "stand-in",
    "PUSHER_SECRET": "stand-in",
    "PUSHER_HOST": "127.0.0.1",
    "PUSHER_PORT": "1",
    "PUSHER_SSL": "false",
}
assert set(_STAND_INS) == set(STACK_SETTINGS)


class _GivenEnvironment(EnvSettingsSource):
    """The backend's own reading of variables, from a given mapping instead of os.environ."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._given = dict(environ)
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            self._given, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )


def settings_problems(environ: Mapping[str, str], overrides: Mapping[str, str]) -> list[str]:
    """What the backend would refuse of the settings a stack would give it: one line per variable."""
    candidate = backend_environment(environ, _STAND_INS, overrides)
    backend = Backend.current()
    settings: type[BaseSettings] = backend.attribute("settings", "Settings")

    class Given(settings):  # type: ignore[valid-type,misc]
        @classmethod
        def settings_customise_sources(
            cls, settings_cls: type[BaseSettings], *sources: PydanticBaseSettingsSource, **_: Any
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (_GivenEnvironment(settings_cls, candidate),)

    try:
        Given()
    except (ValidationError, SettingsError) as error:
        describe = backend.optional("settings", "describe_settings_error") or _described
        lines: list[str] = describe(error)
        return lines
    return []


def _described(error: ValidationError | SettingsError) -> list[str]:
    """The first bad variable, for a backend that does not word its settings' errors itself."""
    if isinstance(error, SettingsError):
        return [str(error)]
    field, message = located_problem(error)
    return [f"{field.upper() or 'settings'}: {message}"]


def experiment_problems(
    experiments: Sequence[Experiment], environ: Mapping[str, str], overrides: Mapping[str, str]
) -> list[str]:
    """Faults on proxies the stack does not have, and settings its backend would refuse."""
    problems = []
    for experiment in experiments:
        for step in [*experiment.method, *experiment.rollbacks]:
            if step.fault is not None and step.fault.proxy not in PROXIES:
                problems.append(
                    f"chaos experiment {experiment.name}: no proxy {step.fault.proxy!r} "
                    f"(the stack's proxies: {', '.join(PROXIES)})"
                )
        for problem in settings_problems(environ, {**overrides, **experiment.env}):
            problems.append(f"chaos experiment {experiment.name}: backend: {problem}")
    return problems
