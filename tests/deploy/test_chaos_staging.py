"""The staging deployment with Toxiproxy (deploy/kubernetes/staging-chaos/, docker-compose.chaos.yml):
its proxies are golive's, every proxy is reachable where the backend is told to look for it, and
the proxy list is one a Toxiproxy server takes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from golive.core import http_clients
from golive.fixtures.stack import PROXIES
from golive.fixtures.toxiproxy import ToxiproxyService
from golive.system_under_test.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
STAGING = ROOT / "deploy" / "kubernetes" / "staging-chaos"
SETTINGS = {name.upper() for name in Settings.model_fields}


def proxies() -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = json.loads((STAGING / "toxiproxy.json").read_text())
    return listed


def port_of(proxy: str) -> int:
    (listen,) = [entry["listen"] for entry in proxies() if entry["name"] == proxy]
    return int(listen.rsplit(":", 1)[1])


def documents(path: Path) -> list[dict[str, Any]]:
    return [document for document in yaml.safe_load_all(path.read_text()) if document]


def staging_settings() -> dict[str, str]:
    """The backend's settings in staging: the ConfigMap, and the secrets' URLs by their variable."""
    (config,) = documents(STAGING / "backend-settings.yaml")
    secrets = {
        doc["metadata"]["name"]: doc["stringData"] for doc in documents(STAGING / "secrets.example.yaml")
    }
    return {
        **config["data"],
        "DATABASE_URL": secrets["backend-secrets"]["database-url"],
        "REDIS_URL": secrets["backend-secrets"]["redis-url"],
    }


def test_the_proxies_are_golives() -> None:
    assert [entry["name"] for entry in proxies()] == list(PROXIES)
    assert all(entry["enabled"] for entry in proxies())


def test_every_proxy_is_served_by_the_container_and_the_service() -> None:
    deployment, service = documents(STAGING / "toxiproxy.yaml")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    container_ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    service_ports = {port["name"]: (port["port"], port["targetPort"]) for port in service["spec"]["ports"]}
    for proxy in PROXIES:
        assert container_ports[proxy] == port_of(proxy)
        assert service_ports[proxy] == (port_of(proxy), port_of(proxy))
    assert container_ports["api"] == 8474
    assert "--config=/config/toxiproxy.json" in container["args"]
    (mount,) = container["volumeMounts"]
    assert mount["mountPath"] == "/config"


@pytest.mark.parametrize(
    ("setting", "proxy"),
    [("DATABASE_URL", "postgres"), ("REDIS_URL", "redis"), ("AI_SERVICE_URL", "upstream")],
)
def test_the_backend_reaches_each_dependency_through_its_proxy(setting: str, proxy: str) -> None:
    for settings in (staging_settings(), compose_backend_environment()):
        location = urlsplit(settings[setting])
        assert (location.hostname, location.port) == ("toxiproxy", port_of(proxy)), settings[setting]


def test_the_backend_reaches_pusher_through_its_proxy() -> None:
    for settings in (staging_settings(), compose_backend_environment()):
        assert (settings["PUSHER_HOST"], int(settings["PUSHER_PORT"])) == ("toxiproxy", port_of("pusher"))


def test_every_variable_set_is_a_setting_of_the_backend() -> None:
    assert set(staging_settings()) <= SETTINGS
    assert set(compose_backend_environment()) <= SETTINGS


def test_kustomize_brings_the_backend_toxiproxy_and_its_proxy_list() -> None:
    (kustomization,) = documents(STAGING / "kustomization.yaml")
    for resource in kustomization["resources"]:
        assert (STAGING / resource).is_file(), resource
    (generator,) = kustomization["configMapGenerator"]
    assert generator["name"] == "toxiproxy-config"
    assert generator["files"] == ["toxiproxy.json"]


def compose_backend_environment() -> dict[str, str]:
    overlay = yaml.safe_load((ROOT / "docker-compose.chaos.yml").read_text())
    (volume,) = overlay["services"]["toxiproxy"]["volumes"]
    assert (ROOT / volume.split(":")[0]).resolve() == (STAGING / "toxiproxy.json").resolve()
    environment: dict[str, str] = overlay["services"]["backend"]["environment"]
    assert overlay["services"]["migrate"]["environment"] == environment
    return environment


def test_a_toxiproxy_server_takes_the_list(tmp_path: Path) -> None:
    service = ToxiproxyService(tmp_path).start()
    try:
        # On loopback here: the list's own 0.0.0.0 is the container's.
        listed = [{**entry, "listen": "127.0.0.1:0"} for entry in proxies()]
        created = http_clients.post(f"{service.url}/populate", json=listed, timeout=10)
    finally:
        service.stop()
    assert created.status_code == 201, created.text
    assert sorted(proxy["name"] for proxy in created.json()["proxies"]) == sorted(PROXIES)
