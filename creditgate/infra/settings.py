"""Settings from the environment or a ``.env`` file in the working directory.

Each field is read from ``CREDITGATE_<FIELD>`` (``api_port`` from ``CREDITGATE_API_PORT``).
Defaults are for development; ``CREDITGATE_ENV=production`` refuses them.
"""

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, NonNegativeInt, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from creditgate.values.display import DEFAULT_LOCALE, parse_locale

DATA_DIR = Path(".creditgate")
DEV_API_KEY = "cg_dev_key"
DEV_STRIPE_API_KEY = "sk_test_creditgate_dev"
DEV_STRIPE_WEBHOOK_SECRET = "whsec_creditgate_dev"
LOCALSTRIPE_BASE = "http://localhost:8420"
STRIPE_BASE = "https://api.stripe.com"
# Production API keys are long enough not to be guessed (32 characters: e.g. 24 random bytes
# in base64, or `openssl rand -hex 16`).
PRODUCTION_API_KEY_MIN_LENGTH = 32
WEBHOOK_SECRET_PREFIX = "whsec_"
DEV_PORTAL_SECRET = "creditgate-dev-portal-secret"
DEV_STRIPE_PUBLISHABLE_KEY = "pk_test_creditgate_dev"
STRIPE_JS_URL = "https://js.stripe.com/v3/"
# Where the API serves its Stripe.js stand-in while Stripe is localstripe (api/portal/standin.py).
STANDIN_STRIPE_JS_PATH = "/portal/stripe-standin/v3.js"


def _too_short(variable: str) -> str:
    return f"{variable} is shorter than {PRODUCTION_API_KEY_MIN_LENGTH} characters"


def _comma_separated(value: object) -> object:
    return [part for part in value.split(",") if part.strip()] if isinstance(value, str) else value


# Retry schedules: whole seconds, comma-separated in the environment ("1200,2400").
Delays = Annotated[list[NonNegativeInt], NoDecode, BeforeValidator(_comma_separated)]


class Settings(BaseSettings):
    # Validation errors never echo the input: it holds the keys and the database password.
    model_config = SettingsConfigDict(
        env_prefix="CREDITGATE_", env_file=".env", extra="ignore", hide_input_in_errors=True
    )

    env: Literal["development", "production"] = "development"
    # Secrets (and the database URL, which may hold a password) stay out of repr().
    api_key: str = Field(default=DEV_API_KEY, repr=False)
    database_url: str = Field(default=f"sqlite:///{DATA_DIR}/creditgate.db", repr=False)
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "creditgate"
    # Where `creditgate dev` serves the Temporal web UI.
    temporal_ui_port: int = Field(default=8233, ge=1, le=65535)
    stripe_api_key: str = Field(default=DEV_STRIPE_API_KEY, repr=False)
    # Unset: localstripe while the key is the development placeholder, else api.stripe.com.
    stripe_api_base: str = ""
    stripe_webhook_secret: str = Field(default=DEV_STRIPE_WEBHOOK_SECRET, repr=False)
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    # Longer than any client's or load balancer's idle timeout, so the client closes an idle
    # connection first: a server closing a pooled connection races the next request sent on it.
    api_keep_alive_seconds: int = Field(default=75, ge=1, le=3600)
    # Usage events older than this many days are rejected (late usage is still recorded
    # within the window).
    backdating_days: int = Field(default=35, ge=0, le=3650)
    # Group-commit ledger transactions in flight at once per API process. Measured on 2
    # cores: 4 for one process (its event loop has work while PostgreSQL answers); 1 each
    # for two processes (the cores are full, and fewer, larger transactions cost less).
    # Requests of 100 events or more run in their own transaction, outside this count
    # (at most 8 at once).
    ingest_transactions: int = Field(default=4, ge=1, le=64)
    # How long POST /v1/customers waits for the signup to finish before answering 202.
    signup_wait_seconds: float = Field(default=15.0, gt=0)
    # A purchase waits for Stripe's webhook and also polls the PaymentIntent: first after
    # this many seconds, doubling up to the maximum; unpaid after the timeout, it fails.
    purchase_poll_seconds: float = Field(default=15.0, gt=0)
    purchase_poll_max_seconds: float = Field(default=600.0, gt=0)
    purchase_timeout_seconds: float = Field(default=86400.0, gt=0)
    # Seconds to wait after each declined auto-recharge attempt; one more attempt than
    # delays (default: 3 attempts over an hour). Comma-separated in the environment.
    recharge_retry_delays: Delays = [1200, 2400]
    # Collecting a statement's amount due: seconds to wait after each failed attempt; after
    # the last, the customer is cut off (default: 3 attempts over 4 days).
    dunning_retry_delays: Delays = [86400, 259200]
    # How long POST .../purchases and PUT .../auto-recharge wait for the workflow's answer.
    payment_wait_seconds: float = Field(default=30.0, gt=0)
    # How statements (HTML and PDF) write amounts and dates: a CLDR locale such as de_DE.
    locale: str = DEFAULT_LOCALE

    @field_validator("locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        return str(parse_locale(value))

    # Signs customer portal links and session cookies (production: 32 characters or more).
    portal_secret: str = Field(default=DEV_PORTAL_SECRET, repr=False)
    # A portal link works this long after it is made; the session it opens lasts longer.
    portal_link_minutes: float = Field(default=10.0, gt=0, le=24 * 60)
    portal_session_minutes: float = Field(default=60.0, gt=0, le=7 * 24 * 60)
    # Stripe.js in the portal: the publishable key, and where the script comes from (unset:
    # the API's own stand-in while Stripe is localstripe, else js.stripe.com).
    stripe_publishable_key: str = DEV_STRIPE_PUBLISHABLE_KEY
    stripe_js_url: str = ""
    # Outbound webhooks: seconds to wait after each failed delivery attempt; after the last,
    # the endpoint is marked failing and the customer's backlog waits for an operator. The
    # default (Standard Webhooks' schedule, then every 10 hours) spans about 3.2 days.
    webhook_retry_delays: Delays = [5, 300, 1800, 7200, 18000] + [36000] * 7
    # One delivery attempt's HTTP timeout.
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # In production, endpoints must be https unless this is set (e.g. a private network).
    webhook_allow_http: bool = False
    # Endpoints on loopback, private, link-local or other non-public addresses (checked when
    # an endpoint is saved and again before each delivery). Unset: allowed in development
    # (receivers on 127.0.0.1), refused in production.
    webhook_allow_private_networks: bool | None = None

    @model_validator(mode="after")
    def _refuse_empty_secrets(self) -> "Settings":
        # In every mode: an empty API key would let requests without one through, and an
        # empty webhook secret lets anyone sign Stripe events.
        empty = [
            f"CREDITGATE_{name.upper()} is empty"
            for name in ("api_key", "stripe_api_key", "stripe_webhook_secret", "portal_secret")
            if not getattr(self, name).strip()
        ]
        if empty:
            raise ValueError("; ".join(empty))
        return self

    @model_validator(mode="after")
    def _fill_stripe_base(self) -> "Settings":
        if not self.stripe_api_base:
            self.stripe_api_base = (
                LOCALSTRIPE_BASE if self.stripe_api_key == DEV_STRIPE_API_KEY else STRIPE_BASE
            )
        if not self.stripe_js_url:
            self.stripe_js_url = STANDIN_STRIPE_JS_PATH if self.uses_localstripe else STRIPE_JS_URL
        return self

    @model_validator(mode="after")
    def _fill_private_networks(self) -> "Settings":
        if self.webhook_allow_private_networks is None:
            self.webhook_allow_private_networks = self.env != "production"
        return self

    @model_validator(mode="after")
    def _refuse_dev_defaults_in_production(self) -> "Settings":
        if self.env != "production":
            return self
        problems = []
        if self.api_key == DEV_API_KEY:
            problems.append("CREDITGATE_API_KEY is the development key")
        if self.stripe_api_key == DEV_STRIPE_API_KEY:
            problems.append("CREDITGATE_STRIPE_API_KEY is the development placeholder")
        elif len(self.api_key) < PRODUCTION_API_KEY_MIN_LENGTH:
            problems.append(_too_short("CREDITGATE_API_KEY"))
        if self.stripe_webhook_secret == DEV_STRIPE_WEBHOOK_SECRET:
            problems.append("CREDITGATE_STRIPE_WEBHOOK_SECRET is the development placeholder")
        elif not self.stripe_webhook_secret.startswith(WEBHOOK_SECRET_PREFIX):
            problems.append(
                f"CREDITGATE_STRIPE_WEBHOOK_SECRET is not a Stripe signing secret "
                f"({WEBHOOK_SECRET_PREFIX}...)"
            )
        if self.portal_secret == DEV_PORTAL_SECRET:
            problems.append("CREDITGATE_PORTAL_SECRET is the development placeholder")
        elif len(self.portal_secret) < PRODUCTION_API_KEY_MIN_LENGTH:
            problems.append(_too_short("CREDITGATE_PORTAL_SECRET"))
        if self.stripe_publishable_key == DEV_STRIPE_PUBLISHABLE_KEY:
            problems.append("CREDITGATE_STRIPE_PUBLISHABLE_KEY is the development placeholder")
        if self.uses_localstripe:
            problems.append("CREDITGATE_STRIPE_API_BASE points at localstripe")
        if self.database_url.startswith("sqlite"):
            problems.append("CREDITGATE_DATABASE_URL is SQLite; production needs PostgreSQL")
        if problems:
            raise ValueError(
                "refusing to start in production with development defaults: " + "; ".join(problems)
            )
        return self

    @property
    def uses_localstripe(self) -> bool:
        host = self.stripe_api_base.split("//", 1)[-1].split(":", 1)[0].split("/", 1)[0]
        return host in {"localhost", "127.0.0.1", "::1", "[::1]"}


@lru_cache
def get_settings() -> Settings:
    return Settings()
