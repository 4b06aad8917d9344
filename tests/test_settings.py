"""Settings: ``CREDITGATE_*`` environment variables, development defaults, production refusals,
and how the ``creditgate`` command reports invalid settings."""

import hashlib
import hmac
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from api.auth import ApiKey
from api.main import create_app
from creditgate.infra.settings import Settings
from creditgate.payments import stripe_events

CREDITGATE = Path(sys.executable).parent / "creditgate"

# A production configuration that uses no development default.
PRODUCTION = {
    "CREDITGATE_ENV": "production",
    "CREDITGATE_API_KEY": "cg_live_3f9a0c2b7d41e6a5f80c9d2b7e13a4f6",
    "CREDITGATE_DATABASE_URL": "postgresql://creditgate:secret@db.internal:5432/creditgate",
    "CREDITGATE_STRIPE_API_KEY": "sk_live_51Habcdef",
    "CREDITGATE_STRIPE_WEBHOOK_SECRET": "whsec_9b8a7c6d5e",
    "CREDITGATE_PORTAL_SECRET": "portal_5e1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b",
    "CREDITGATE_STRIPE_PUBLISHABLE_KEY": "pk_live_51Habcdef",
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No CREDITGATE_* variable from the outside and no stray .env file in the working dir."""
    for name in list(os.environ):
        if name.startswith("CREDITGATE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield


def set_env(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize(
    ("variable", "value", "attribute", "expected"),
    [
        ("CREDITGATE_ENV", "production", "env", "production"),
        ("CREDITGATE_API_KEY", "cg_live_3f9a0c2b7d", "api_key", "cg_live_3f9a0c2b7d"),
        (
            "CREDITGATE_DATABASE_URL",
            "postgresql://u:p@db:5432/cg",
            "database_url",
            "postgresql://u:p@db:5432/cg",
        ),
        ("CREDITGATE_TEMPORAL_ADDRESS", "temporal:7233", "temporal_address", "temporal:7233"),
        ("CREDITGATE_TEMPORAL_NAMESPACE", "billing", "temporal_namespace", "billing"),
        ("CREDITGATE_TEMPORAL_TASK_QUEUE", "cg-queue", "temporal_task_queue", "cg-queue"),
        ("CREDITGATE_TEMPORAL_UI_PORT", "18233", "temporal_ui_port", 18233),
        ("CREDITGATE_STRIPE_API_KEY", "sk_live_51Habcdef", "stripe_api_key", "sk_live_51Habcdef"),
        (
            "CREDITGATE_STRIPE_API_BASE",
            "http://localhost:12111",
            "stripe_api_base",
            "http://localhost:12111",
        ),
        (
            "CREDITGATE_STRIPE_WEBHOOK_SECRET",
            "whsec_9b8a7c6d5e",
            "stripe_webhook_secret",
            "whsec_9b8a7c6d5e",
        ),
        ("CREDITGATE_API_HOST", "0.0.0.0", "api_host", "0.0.0.0"),
        ("CREDITGATE_API_PORT", "18000", "api_port", 18000),
        ("CREDITGATE_SIGNUP_WAIT_SECONDS", "2.5", "signup_wait_seconds", 2.5),
        ("CREDITGATE_API_KEEP_ALIVE_SECONDS", "120", "api_keep_alive_seconds", 120),
        ("CREDITGATE_INGEST_TRANSACTIONS", "2", "ingest_transactions", 2),
        ("CREDITGATE_LOCALE", "de_DE", "locale", "de_DE"),
        ("CREDITGATE_LOCALE", "fr-CA", "locale", "fr_CA"),
    ],
)
def test_each_setting_is_read_from_its_creditgate_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, attribute: str, expected: object
) -> None:
    if variable == "CREDITGATE_ENV":
        set_env(monkeypatch, PRODUCTION)
    monkeypatch.setenv(variable, value)
    assert getattr(Settings(), attribute) == expected


def test_unprefixed_variables_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_KEY", "not-ours")
    monkeypatch.setenv("DATABASE_URL", "postgresql://elsewhere/db")
    settings = Settings()
    assert settings.api_key == "cg_dev_key"
    assert settings.database_url.startswith("sqlite:///")


def test_a_dotenv_file_in_the_working_directory_is_read(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("CREDITGATE_API_KEY=from-dotenv\nCREDITGATE_API_PORT=18001\n")
    settings = Settings()
    assert (settings.api_key, settings.api_port) == ("from-dotenv", 18001)
    monkeypatch.setenv("CREDITGATE_API_KEY", "from-environment")
    assert Settings().api_key == "from-environment"  # the environment wins over .env


def test_development_defaults() -> None:
    settings = Settings()
    assert settings.env == "development"
    # SQLite under ./.creditgate/, relative to where the command runs.
    assert settings.database_url == "sqlite:///.creditgate/creditgate.db"
    # The documented default ports: API 8000, Temporal 7233, Temporal UI 8233.
    assert settings.api_port == 8000
    assert settings.temporal_address == "localhost:7233"
    assert settings.temporal_ui_port == 8233
    assert settings.temporal_namespace == "default"
    # The development Stripe key is a placeholder, so Stripe is localstripe on :8420.
    assert settings.stripe_api_base == "http://localhost:8420"
    assert settings.uses_localstripe


@pytest.mark.parametrize("key", ["sk_test_51Habcdef", "sk_live_51Habcdef", "rk_live_51Habcdef"])
def test_a_real_looking_stripe_key_talks_to_stripe(
    monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    monkeypatch.setenv("CREDITGATE_STRIPE_API_KEY", key)
    settings = Settings()
    assert settings.stripe_api_base == "https://api.stripe.com"
    assert not settings.uses_localstripe


def test_an_explicit_stripe_base_wins_over_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDITGATE_STRIPE_API_KEY", "sk_test_51Habcdef")
    monkeypatch.setenv("CREDITGATE_STRIPE_API_BASE", "http://127.0.0.1:12111")
    settings = Settings()
    assert settings.stripe_api_base == "http://127.0.0.1:12111"
    assert settings.uses_localstripe


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CREDITGATE_API_PORT", "0"),
        ("CREDITGATE_API_PORT", "70000"),
        ("CREDITGATE_API_PORT", "eight thousand"),
        ("CREDITGATE_TEMPORAL_UI_PORT", "0"),
        ("CREDITGATE_TEMPORAL_UI_PORT", "65536"),
        ("CREDITGATE_ENV", "staging"),
        ("CREDITGATE_SIGNUP_WAIT_SECONDS", "0"),
        ("CREDITGATE_API_KEEP_ALIVE_SECONDS", "0"),
        ("CREDITGATE_INGEST_TRANSACTIONS", "0"),
        ("CREDITGATE_INGEST_TRANSACTIONS", "1.5"),
        ("CREDITGATE_RECHARGE_RETRY_DELAYS", "1200,-5"),
        ("CREDITGATE_RECHARGE_RETRY_DELAYS", "1.5"),
        ("CREDITGATE_DUNNING_RETRY_DELAYS", "a day"),
    ],
)
def test_out_of_range_values_are_refused(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError):
        Settings()


def test_the_api_runs_as_many_ledger_transactions_as_configured(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/cg.db", ingest_transactions=2)
    with TestClient(create_app(settings)) as client:
        assert client.app.state.ingest.concurrency == 2  # type: ignore[attr-defined]


def test_retry_schedules_are_comma_separated_whole_seconds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().recharge_retry_delays == [1200, 2400]
    monkeypatch.setenv("CREDITGATE_RECHARGE_RETRY_DELAYS", "60, 600")
    monkeypatch.setenv("CREDITGATE_DUNNING_RETRY_DELAYS", "")
    settings = Settings()
    assert settings.recharge_retry_delays == [60, 600]
    assert settings.dunning_retry_delays == []


def test_production_accepts_a_configuration_without_development_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    set_env(monkeypatch, PRODUCTION)
    settings = Settings()
    assert settings.env == "production"
    assert settings.stripe_api_base == "https://api.stripe.com"


@pytest.mark.parametrize(
    ("env", "variable", "allowed"),
    [
        ({}, None, True),
        (PRODUCTION, None, False),
        (PRODUCTION, "true", True),
        ({}, "false", False),
    ],
)
def test_private_webhook_networks_are_allowed_in_development_only_unless_set(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], variable: str | None, allowed: bool
) -> None:
    set_env(monkeypatch, env)
    if variable is not None:
        monkeypatch.setenv("CREDITGATE_WEBHOOK_ALLOW_PRIVATE_NETWORKS", variable)
    assert Settings().webhook_allow_private_networks is allowed


@pytest.mark.parametrize(
    ("variable", "dev_value"),
    [
        ("CREDITGATE_API_KEY", "cg_dev_key"),
        ("CREDITGATE_STRIPE_API_KEY", "sk_test_creditgate_dev"),
        ("CREDITGATE_STRIPE_WEBHOOK_SECRET", "whsec_creditgate_dev"),
        ("CREDITGATE_STRIPE_API_BASE", "http://localhost:8420"),
        ("CREDITGATE_STRIPE_API_BASE", "http://127.0.0.1:12111"),
        ("CREDITGATE_DATABASE_URL", "sqlite:///.creditgate/creditgate.db"),
        ("CREDITGATE_DATABASE_URL", "sqlite:////var/lib/creditgate.db"),
        ("CREDITGATE_PORTAL_SECRET", "creditgate-dev-portal-secret"),
        ("CREDITGATE_STRIPE_PUBLISHABLE_KEY", "pk_test_creditgate_dev"),
    ],
)
def test_production_refuses_each_development_default_by_name(
    monkeypatch: pytest.MonkeyPatch, variable: str, dev_value: str
) -> None:
    set_env(monkeypatch, PRODUCTION)
    monkeypatch.setenv(variable, dev_value)
    with pytest.raises(ValidationError) as raised:
        Settings()
    message = str(raised.value)
    assert "production" in message
    assert variable in message
    others = {"CREDITGATE_API_KEY", "CREDITGATE_STRIPE_WEBHOOK_SECRET", "CREDITGATE_DATABASE_URL"}
    for other in others - {variable}:
        assert other not in message  # only the offending variable is blamed


def test_production_with_no_configuration_names_every_problem(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CREDITGATE_ENV", "production")
    with pytest.raises(ValidationError) as raised:
        Settings()
    for variable in (
        "CREDITGATE_API_KEY",
        "CREDITGATE_STRIPE_API_KEY",
        "CREDITGATE_STRIPE_WEBHOOK_SECRET",
        "CREDITGATE_STRIPE_API_BASE",
        "CREDITGATE_DATABASE_URL",
        "CREDITGATE_PORTAL_SECRET",
    ):
        assert variable in str(raised.value)


SECRETS = (
    "CREDITGATE_API_KEY",
    "CREDITGATE_STRIPE_API_KEY",
    "CREDITGATE_STRIPE_WEBHOOK_SECRET",
    "CREDITGATE_PORTAL_SECRET",
)


@pytest.mark.parametrize("mode", ["development", "production"])
@pytest.mark.parametrize("variable", SECRETS)
@pytest.mark.parametrize("empty", ["", "   "])
def test_an_empty_key_or_secret_is_refused_in_every_mode(
    monkeypatch: pytest.MonkeyPatch, mode: str, variable: str, empty: str
) -> None:
    set_env(monkeypatch, PRODUCTION)
    monkeypatch.setenv("CREDITGATE_ENV", mode)
    monkeypatch.setenv(variable, empty)
    with pytest.raises(ValidationError) as raised:
        Settings()
    assert f"{variable} is empty" in str(raised.value)


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("CREDITGATE_API_KEY", "cg_live_3f9a0c2b7d", "shorter than 32 characters"),
        ("CREDITGATE_API_KEY", "x" * 31, "shorter than 32 characters"),
        ("CREDITGATE_STRIPE_WEBHOOK_SECRET", "9b8a7c6d5e4f3a2b1c", "not a Stripe signing secret"),
        ("CREDITGATE_STRIPE_WEBHOOK_SECRET", "sk_live_51Habcdef", "not a Stripe signing secret"),
        ("CREDITGATE_PORTAL_SECRET", "p" * 31, "shorter than 32 characters"),
    ],
)
def test_production_refuses_a_short_api_key_or_a_webhook_secret_without_whsec(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, problem: str
) -> None:
    set_env(monkeypatch, PRODUCTION)
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as raised:
        Settings()
    assert f"{variable} is {problem}" in str(raised.value)
    # The same values are fine for development (the test stack's key is "test-api-key").
    monkeypatch.setenv("CREDITGATE_ENV", "development")
    monkeypatch.setenv("CREDITGATE_DATABASE_URL", "sqlite:///cg.db")
    assert getattr(Settings(), variable.removeprefix("CREDITGATE_").lower()) == value


def test_production_accepts_a_key_of_exactly_32_characters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    set_env(monkeypatch, PRODUCTION)
    monkeypatch.setenv("CREDITGATE_API_KEY", "k" * 32)
    assert Settings().api_key == "k" * 32


def test_secrets_stay_out_of_errors_and_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = {
        "CREDITGATE_API_KEY": "too-short-but-secret-key",
        "CREDITGATE_DATABASE_URL": "postgresql://cg:db-password-42@db.internal/cg",
        "CREDITGATE_STRIPE_API_KEY": "sk_live_secret_stripe_key",
        "CREDITGATE_STRIPE_WEBHOOK_SECRET": "not-a-whsec-secret",
    }
    set_env(monkeypatch, {"CREDITGATE_ENV": "production", **secrets})
    with pytest.raises(ValidationError) as raised:
        Settings()
    monkeypatch.setenv("CREDITGATE_ENV", "development")
    shown = str(raised.value) + repr(Settings()) + str(Settings())
    for value in ("too-short-but-secret-key", "db-password-42", "sk_live_secret", "not-a-whsec"):
        assert value not in shown


def test_no_request_passes_an_empty_api_key_or_webhook_secret() -> None:
    """Defence in depth below the settings: the key check and the signature check refuse to
    work with an empty key or secret instead of matching what an attacker sends."""
    with pytest.raises(ValueError):
        ApiKey("")
    payload = b'{"id": "evt_forged", "type": "payment_intent.succeeded"}'
    timestamp = int(time.time())
    mac = hmac.new(b"", f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    with pytest.raises(stripe_events.InvalidWebhook):
        stripe_events.verify(payload, f"t={timestamp},v1={mac}", "")


# -- the creditgate command with invalid settings ----------------------------------------------


def run_creditgate(command: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CREDITGATE_")}
    environment.update(env)
    return subprocess.run(
        [str(CREDITGATE), command],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("command", ["migrate", "dev"])
def test_creditgate_refuses_production_with_dev_defaults(command: str, tmp_path: Path) -> None:
    result = run_creditgate(command, tmp_path, CREDITGATE_ENV="production")
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("creditgate: invalid settings:")
    assert "CREDITGATE_API_KEY" in lines[0]
    assert "CREDITGATE_DATABASE_URL" in lines[0]
    # It stopped before doing anything: no database, no state directory.
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["migrate", "dev"])
def test_creditgate_reports_a_malformed_setting_without_a_traceback(
    command: str, tmp_path: Path
) -> None:
    result = run_creditgate(command, tmp_path, CREDITGATE_API_PORT="eighty")
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stderr.startswith("creditgate: invalid settings:")
    assert list(tmp_path.iterdir()) == []


def test_statements_default_to_us_english() -> None:
    assert Settings().locale == "en_US"


@pytest.mark.parametrize("value", ["xx_YY", "german", ""])
def test_an_unknown_locale_is_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CREDITGATE_LOCALE", value)
    with pytest.raises(ValidationError, match="unknown locale"):
        Settings()


def test_creditgate_refuses_to_start_with_an_unknown_locale(tmp_path: Path) -> None:
    result = run_creditgate("dev", tmp_path, CREDITGATE_LOCALE="xx_YY")
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stderr.startswith("creditgate: invalid settings: CREDITGATE_LOCALE: unknown")
    assert list(tmp_path.iterdir()) == []


def test_creditgate_refuses_an_empty_api_key_in_development(tmp_path: Path) -> None:
    result = run_creditgate("migrate", tmp_path, CREDITGATE_API_KEY="")
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "CREDITGATE_API_KEY is empty" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_creditgate_migrate_creates_the_development_database(tmp_path: Path) -> None:
    result = run_creditgate("migrate", tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / ".creditgate" / "creditgate.db").is_file()
