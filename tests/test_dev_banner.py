"""What ``creditgate dev`` prints once the stack is up: everything needed to use it, and no
secret (the database password, a configured API key)."""

from pathlib import Path

from creditgate.devtools.devstack import DevStack
from creditgate.infra.settings import Settings


def banner(**settings: str) -> str:
    configured = Settings.model_validate(settings)
    return DevStack(configured, data_dir=Path(".creditgate")).banner()


def test_the_database_password_is_masked() -> None:
    shown = banner(database_url="postgresql://creditgate:hunter2-s3cret@db.internal:5432/cg")
    assert "hunter2-s3cret" not in shown
    assert "postgresql://creditgate:***@db.internal:5432/cg" in shown


def test_a_sqlite_database_is_shown_as_configured() -> None:
    assert "sqlite:///.creditgate/creditgate.db" in banner()


def test_the_development_key_is_shown_ready_to_paste() -> None:
    shown = banner()
    assert "API key        cg_dev_key" in shown
    assert '-H "Authorization: Bearer cg_dev_key"' in shown


def test_a_configured_api_key_is_not_printed() -> None:
    shown = banner(api_key="cg_live_0123456789abcdef0123456789abcdef")
    assert "0123456789abcdef" not in shown
    # The example still works in a shell that has the variable set.
    assert '-H "Authorization: Bearer $CREDITGATE_API_KEY"' in shown


def test_it_says_how_to_open_the_customer_portal() -> None:
    shown = banner()
    assert "/v1/customers/user_demo/portal-sessions" in shown
    assert "works for 10 minutes" in shown and "4242 4242 4242 4242" in shown
    # With a real Stripe there is no test card to suggest.
    assert "4242" not in banner(stripe_api_key="sk_live_51Habcdef")
