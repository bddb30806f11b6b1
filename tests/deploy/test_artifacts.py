"""The deployment artifacts (Dockerfile, docker-compose.yml, deploy/kubernetes/) say only what the
backend understands: every variable they set is a setting, every required setting is set, probes
and ports are the app's, and every secret they read is defined. (Building and running the image is
the containers suite's, where a Docker engine exists.)"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from golive.fixtures.openapi import openapi_document
from golive.system_under_test.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = sorted((ROOT / "deploy" / "kubernetes").glob("*.yaml"))
SETTINGS = {name.upper() for name in Settings.model_fields}
# Required whatever the configuration; the Pusher ones while PUSHER_ENABLED (the default).
REQUIRED = {name.upper() for name, field in Settings.model_fields.items() if field.is_required()} | {
    "PUSHER_APP_ID",
    "PUSHER_KEY",
    "PUSHER_SECRET",
}
PORT = 8009


def documents(path: Path) -> list[dict[str, Any]]:
    return [document for document in yaml.safe_load_all(path.read_text()) if document]


def manifests(kind: str) -> list[dict[str, Any]]:
    return [document for path in MANIFESTS for document in documents(path) if document["kind"] == kind]


def containers() -> list[dict[str, Any]]:
    pods = [workload["spec"]["template"]["spec"] for workload in manifests("Deployment") + manifests("Job")]
    return [container for pod in pods for container in pod.get("initContainers", []) + pod["containers"]]


def app_paths() -> set[str]:
    return set(openapi_document()["paths"])


def test_every_manifest_parses_as_kubernetes_objects() -> None:
    assert MANIFESTS
    for path in MANIFESTS:
        for document in documents(path):
            assert {"apiVersion", "kind", "metadata"} <= set(document), path.name


def test_the_deployment_is_the_guides() -> None:
    (deployment,) = manifests("Deployment")
    assert deployment["spec"]["replicas"] == 3
    (backend,) = deployment["spec"]["template"]["spec"]["containers"]
    assert backend["ports"] == [{"containerPort": PORT}]
    for probe in ("livenessProbe", "readinessProbe"):
        assert backend[probe]["httpGet"] == {"path": "/health", "port": PORT}
    assert "/health" in app_paths()


def test_every_variable_set_is_a_setting_and_every_required_one_is_set() -> None:
    configured = {name for config in manifests("ConfigMap") for name in config["data"]}
    (deployment,) = manifests("Deployment")
    (backend,) = deployment["spec"]["template"]["spec"]["containers"]
    names = {variable["name"] for variable in backend["env"]} | configured
    assert names - SETTINGS == set()
    assert REQUIRED - names == set()
    for container in containers():
        assert {variable["name"] for variable in container.get("env", [])} - SETTINGS == set()


def test_every_secret_read_is_defined() -> None:
    defined = {
        (secret["metadata"]["name"], key) for secret in manifests("Secret") for key in secret["stringData"]
    }
    read = {
        (variable["valueFrom"]["secretKeyRef"]["name"], variable["valueFrom"]["secretKeyRef"]["key"])
        for container in containers()
        for variable in container.get("env", [])
        if "secretKeyRef" in variable.get("valueFrom", {})
    }
    assert read
    assert read - defined == set()
    assert ("pusher-secret", "app-id") in read  # the guide's own secret, under its own name
    configs = {config["metadata"]["name"] for config in manifests("ConfigMap")}
    for container in containers():
        assert {source["configMapRef"]["name"] for source in container.get("envFrom", [])} <= configs


def test_the_compose_file_sets_what_the_backend_needs() -> None:
    (compose,) = documents(ROOT / "docker-compose.yml")
    services = compose["services"]
    assert set(services) == {"backend", "migrate", "postgres", "redis"}
    environment = services["backend"]["environment"]
    assert set(environment) - SETTINGS == set()
    assert REQUIRED - set(environment) == set()
    assert services["backend"]["ports"] == [f"{PORT}:{PORT}"]
    assert services["backend"]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert services["migrate"]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert all("healthcheck" in services[name] for name in ("backend", "postgres", "redis"))
    assert f"127.0.0.1:{PORT}/health" in " ".join(services["backend"]["healthcheck"]["test"])


def test_the_dockerfile_runs_the_app_on_the_probed_port_from_a_chosen_base() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^ARG BASE_IMAGE=\S+$", dockerfile, re.MULTILINE)
    assert re.search(r"^FROM \$\{BASE_IMAGE\}$", dockerfile, re.MULTILINE)
    assert f"EXPOSE {PORT}" in dockerfile
    # HOST and PORT where the platform sets them (golive --image), else every interface on PORT.
    command = dockerfile.split("\nCMD ", 1)[1]
    assert "uvicorn system_under_test.main:app" in command
    assert f'--host \\"${{HOST:-0.0.0.0}}\\" --port \\"${{PORT:-{PORT}}}\\"' in command
    assert f"http://127.0.0.1:${{PORT:-{PORT}}}/health" in dockerfile
    # The slim base has no curl, which the guide's health check calls.
    healthcheck = dockerfile.split("\nHEALTHCHECK", 1)[1].split("\n\n", 1)[0]
    assert "exec python -c" in healthcheck
    assert "curl" not in healthcheck


def test_the_images_requirements_are_the_projects_ranges() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pinned = set(project["dependencies"]) | set(project["optional-dependencies"]["backend"])
    lines = (ROOT / "system_under_test" / "requirements.txt").read_text().splitlines()
    requirements = [line for line in lines if line and not line.startswith("#")]
    assert requirements
    assert set(requirements) - pinned == set()


@pytest.mark.parametrize(
    "module", ["fastapi", "sqlalchemy", "asyncpg", "alembic", "redis", "pusher", "argon2"]
)
def test_the_images_requirements_cover_what_the_backend_imports(module: str) -> None:
    lines = (ROOT / "system_under_test" / "requirements.txt").read_text()
    distribution = {"argon2": "argon2-cffi"}.get(module, module)
    assert re.search(rf"^{re.escape(distribution)}(\[|>|=)", lines, re.MULTILINE)
