"""docker-compose.yml stays a valid, production-shaped topology (parsed; Docker cannot run here)."""

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from creditgate.infra.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
SERVICES = {"postgres", "temporal", "temporal-ui", "migrate", "api", "worker"}
APP_SERVICES = ("migrate", "api", "worker")
SECRETS = ("CREDITGATE_API_KEY", "CREDITGATE_STRIPE_API_KEY", "CREDITGATE_STRIPE_WEBHOOK_SECRET")
# ${VAR:?message}: compose refuses to start while VAR is unset or empty.
REQUIRED_REF = re.compile(r"^\$\{(?P<var>[A-Z_][A-Z0-9_]*):\?[^}]+\}$")
ANY_REF = re.compile(r"\$\{[^}]*\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = compose["services"]
    return result


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):  # the "KEY=value" list form
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def _published(service: dict[str, Any]) -> set[tuple[int, int]]:
    """(host port, container port) pairs of the short ``[ip:]host:container`` syntax."""
    pairs = set()
    for entry in service.get("ports", []):
        *_, host, container = str(entry).split(":")
        pairs.add((int(host), int(container)))
    return pairs


def test_all_services_exist(services: dict[str, Any]) -> None:
    assert set(services) == SERVICES


def test_app_services_share_the_creditgate_env(
    compose: dict[str, Any], services: dict[str, Any]
) -> None:
    envs = [_env(services[name]) for name in APP_SERVICES]
    assert envs[0] == envs[1] == envs[2] == _env({"environment": compose["x-creditgate-env"]})
    env = envs[0]
    assert env["CREDITGATE_ENV"] == "production"
    assert re.fullmatch(r"postgresql://creditgate:\$\{[^}]+\}@postgres:5432/creditgate",
                        env["CREDITGATE_DATABASE_URL"])  # fmt: skip
    assert env["CREDITGATE_TEMPORAL_ADDRESS"] == "temporal:7233"
    assert env["CREDITGATE_TEMPORAL_NAMESPACE"] == "default"
    assert env["CREDITGATE_STRIPE_API_BASE"] == "https://api.stripe.com"


def test_env_names_are_settings_fields(services: dict[str, Any]) -> None:
    fields = {f"CREDITGATE_{name.upper()}" for name in Settings.model_fields}
    for name in APP_SERVICES:
        names = set(_env(services[name]))
        assert names <= fields, f"{name}: not Settings fields: {names - fields}"


def test_secrets_are_required_host_references(services: dict[str, Any]) -> None:
    env = _env(services["api"])
    for secret in SECRETS:
        match = REQUIRED_REF.match(env[secret])
        assert match, f"{secret} must be a ${{VAR:?message}} reference, not {env[secret]!r}"
        assert match["var"] == secret
    for password in (
        _env(services["postgres"])["POSTGRES_PASSWORD"],
        _env(services["temporal"])["POSTGRES_PWD"],
    ):
        assert REQUIRED_REF.match(password)
    for ref in ANY_REF.findall(env["CREDITGATE_DATABASE_URL"]):
        assert REQUIRED_REF.match(ref)


def test_no_literal_secrets_in_the_file() -> None:
    text = COMPOSE.read_text()
    assert not re.search(r"\b(sk|rk)_(live|test)_[A-Za-z0-9]+", text)
    assert not re.search(r"\bwhsec_[A-Za-z0-9]+", text)


def test_start_order(services: dict[str, Any]) -> None:
    for name in ("api", "worker"):
        assert services[name]["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"},
            "temporal": {"condition": "service_healthy"},
        }
    for name in ("migrate", "temporal"):
        assert services[name]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert services["migrate"]["restart"] == "no"


def test_healthchecks(services: dict[str, Any]) -> None:
    for name in ("postgres", "temporal", "api"):
        test = services[name]["healthcheck"]["test"]
        assert test and test[0] in ("CMD", "CMD-SHELL"), name
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert "/healthz" in " ".join(services["api"]["healthcheck"]["test"])


def test_published_ports(services: dict[str, Any]) -> None:
    assert (8000, 8000) in _published(services["api"])
    assert (8233, 8080) in _published(services["temporal-ui"])
    assert _published(services["temporal"]) <= {(7233, 7233)}
    assert not _published(services["postgres"])


def test_temporal_uses_postgres(services: dict[str, Any]) -> None:
    env = _env(services["temporal"])
    assert env["DB"] == "postgres12"
    assert env["POSTGRES_SEEDS"] == "postgres"
    assert env["DB_PORT"] == "5432"
    assert _env(services["temporal-ui"])["TEMPORAL_ADDRESS"] == "temporal:7233"


def test_app_images_build_from_the_repo(services: dict[str, Any]) -> None:
    assert (ROOT / "Dockerfile").is_file()
    assert (ROOT / ".dockerignore").is_file()
    for name in APP_SERVICES:
        build = services[name]["build"]
        context = build if isinstance(build, str) else build.get("context")
        assert context == "."
    commands = {name: services[name]["command"] for name in APP_SERVICES}
    assert commands["migrate"] == ["creditgate", "migrate"]
    assert commands["worker"] == ["python", "-m", "worker"]
    assert commands["api"][:2] == ["uvicorn", "api.main:app"]


def test_dockerfile_runs_as_non_root() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", dockerfile, re.M)
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
    assert users and users[-1] not in ("root", "0")
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".env" in ignored and ".git" in ignored
