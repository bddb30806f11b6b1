"""The distributed load run on Kubernetes (deploy/kubernetes/load/): golive's Locust master and its
workers say only what `golive load` understands (every option one of its own, every variable one
golive or the locustfile reads, or one the container's command line uses), the workers reach the
master where it listens and are as many as it waits for, and only the master holds the accounts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import typer.main
import yaml

from golive import __version__, cli
from golive.loadtests.accounts import accounts_from_environment
from golive.loadtests.run import MASTER_PORT

ROOT = Path(__file__).resolve().parents[2]
LOAD = ROOT / "deploy" / "kubernetes" / "load"
LOCUSTFILE = ROOT / "loadtests" / "locustfile.py"
REFERENCE = re.compile(r"\$\(([A-Z0-9_]+)\)")  # Kubernetes' $(VARIABLE) in a command or its args


def documents(path: Path) -> list[dict[str, Any]]:
    return [document for document in yaml.safe_load_all(path.read_text()) if document]


def objects(kind: str) -> dict[str, dict[str, Any]]:
    found = [document for path in sorted(LOAD.glob("*.yaml")) for document in documents(path)]
    return {document["metadata"]["name"]: document for document in found if document["kind"] == kind}


def pod(name: str) -> dict[str, Any]:
    spec: dict[str, Any] = objects("Deployment")[name]["spec"]["template"]["spec"]
    return spec


def main_container(name: str) -> dict[str, Any]:
    container: dict[str, Any]
    (container,) = pod(name)["containers"]
    return container


def options(container: dict[str, Any]) -> dict[str, str | bool]:
    """`golive load`'s options as the container gives them: flags True, the others their value."""
    args: list[str] = container["args"]
    parsed: dict[str, str | bool] = {}
    for index, arg in enumerate(args):
        if not arg.startswith("--"):
            continue
        following = args[index + 1] if index + 1 < len(args) else None
        parsed[arg] = following if following is not None and not following.startswith("--") else True
    return parsed


def load_options() -> dict[str, bool]:
    """`golive load`'s options, each with whether it is a flag. (Typer carries its own copy of
    Click: its classes are told apart by what they have.) The app with that command alone: built
    when a test asks, not when each xdist worker collects this module."""
    command: Any = typer.main.get_command(cli.build("load"))
    load = command.commands["load"]
    return {
        name: bool(param.is_flag)
        for param in load.params
        if param.param_type_name == "option"
        for name in param.opts
    }


def defined_variables(container: dict[str, Any]) -> set[str]:
    """The variables a container is given, each from a ConfigMap or Secret key that exists."""
    assert "envFrom" not in container, "every variable by its name"
    stores = {
        **{("configMapKeyRef", name): config["data"] for name, config in objects("ConfigMap").items()},
        **{("secretKeyRef", name): secret["stringData"] for name, secret in objects("Secret").items()},
    }
    for variable in container.get("env", []):
        for kind, reference in variable.get("valueFrom", {}).items():
            assert reference["key"] in stores[(kind, reference["name"])], variable["name"]
    return {variable["name"] for variable in container.get("env", [])}


def test_every_manifest_parses_and_kustomize_lists_them_all() -> None:
    (kustomization,) = documents(LOAD / "kustomization.yaml")
    listed = set(kustomization["resources"])
    assert listed == {path.name for path in LOAD.glob("*.yaml")} - {"kustomization.yaml"}
    for name in listed:
        for document in documents(LOAD / name):
            assert {"apiVersion", "kind", "metadata"} <= set(document), name


def test_both_run_golive_load_with_its_own_options() -> None:
    known = load_options()
    for name in ("golive-load-master", "golive-load-worker"):
        container = main_container(name)
        command = " ".join(container["command"])
        assert 'python -m golive load "$@"' in command, name
        for option, value in options(container).items():
            assert option in known, f"{name}: {option} is not an option of golive load"
            assert (value is True) == known[option], f"{name}: {option} {value}"


def test_the_master_runs_the_load_and_the_workers_only_join_it() -> None:
    master = options(main_container("golive-load-master"))
    worker = options(main_container("golive-load-worker"))
    assert master["--master"] is True
    assert {"--target", "--profile", "--run-dir"} <= set(master)
    assert worker["--worker"] is True
    # The run is the master's: nothing of it on a worker's command line.
    assert set(worker) == {"--worker", "--master-host", "--master-port", "--master-timeout", "--run-dir"}


def test_the_master_expects_as_many_workers_as_there_are_replicas() -> None:
    master = options(main_container("golive-load-master"))
    replicas = objects("Deployment")["golive-load-worker"]["spec"]["replicas"]
    assert int(str(master["--expect-workers"])) == replicas
    assert objects("Deployment")["golive-load-master"]["spec"]["replicas"] == 1


def test_the_workers_reach_the_master_where_it_listens() -> None:
    master_container = main_container("golive-load-master")
    master, worker = options(master_container), options(main_container("golive-load-worker"))
    port = int(str(master["--master-bind-port"]))
    assert port == MASTER_PORT
    every_address = "0.0.0.0"  # noqa: S104 (the pod's: the Service's target)
    assert master["--master-bind-host"] == every_address
    assert int(str(worker["--master-port"])) == port
    assert [entry["containerPort"] for entry in master_container["ports"]] == [port]
    service = objects("Service")[str(worker["--master-host"])]
    (service_port,) = service["spec"]["ports"]
    assert (service_port["port"], service_port["targetPort"]) == (port, port)
    labels = objects("Deployment")["golive-load-master"]["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    worker_labels = objects("Deployment")["golive-load-worker"]["spec"]["template"]["metadata"]["labels"]
    assert not service["spec"]["selector"].items() <= worker_labels.items()


def test_a_worker_gives_up_on_a_missing_master_and_is_started_again() -> None:
    worker = main_container("golive-load-worker")
    assert float(str(options(worker)["--master-timeout"])) > 0
    # Idle once its master ended the run (exit 0); a failure ends the container, and the
    # Deployment starts it again to wait for a master anew.
    assert '"$@" && exec sleep infinity' in " ".join(worker["command"])
    # The master stays up after its run, whatever the outcome: Kubernetes must not run it again.
    assert '"$@"; ' in " ".join(main_container("golive-load-master")["command"])


@pytest.mark.parametrize("name", ["golive-load-master", "golive-load-worker"])
def test_every_variable_is_read_by_golive_or_used_by_the_command(name: str) -> None:
    read_by_golive = set(re.findall(r"GOLIVE_[A-Z_]+", LOCUSTFILE.read_text())) | {
        "PYTHONPATH",  # where the init container installed golive
        "HOME",  # pip's and Python's, writable as the unprivileged user
    }
    spec = pod(name)
    for container in spec["initContainers"] + spec["containers"]:
        defined = defined_variables(container)
        used = set(REFERENCE.findall(" ".join(container["command"] + container.get("args", []))))
        assert used <= defined, f"{name}/{container['name']}: {used - defined} undefined"
        if container is spec["containers"][0]:
            assert defined - used - read_by_golive == set(), f"{name}: set but never read"
    assert spec["enableServiceLinks"] is False  # no LOCUST_* variables from the namespace's Services


def test_only_the_master_holds_the_accounts_and_they_are_the_ones_golive_reads() -> None:
    master = main_container("golive-load-master")
    defined_variables(master)  # every key it reads exists
    from_secrets = [
        variable["name"] for variable in master["env"] if "secretKeyRef" in variable.get("valueFrom", {})
    ]
    # What `golive load --target` takes the accounts from.
    accounts = accounts_from_environment(dict.fromkeys(from_secrets, "x"))
    assert accounts.users
    assert accounts.admins
    for container in pod("golive-load-worker")["initContainers"] + pod("golive-load-worker")["containers"]:
        for variable in container.get("env", []):
            assert "secretKeyRef" not in variable.get("valueFrom", {}), variable["name"]


def test_the_target_is_the_backends_service_and_the_release_is_this_one() -> None:
    (settings,) = objects("ConfigMap").values()
    target = urlsplit(settings["data"]["GOLIVE_TARGET"])
    backend = {
        document["metadata"]["name"]: document
        for document in documents(ROOT / "deploy" / "kubernetes" / "deployment.yaml")
        if document["kind"] == "Service"
    }
    assert target.scheme == "http"
    assert target.hostname in backend
    assert (target.port or 80) in {port["port"] for port in backend[target.hostname]["spec"]["ports"]}
    # Master and workers install the same golive (the master hands the workers its run).
    assert settings["data"]["GOLIVE_VERSION"] == __version__
    for name in ("golive-load-master", "golive-load-worker"):
        (install,) = pod(name)["initContainers"]
        assert "golive[load]==$(GOLIVE_VERSION)" in install["command"]
        assert pod(name)["containers"][0]["image"] == install["image"]
