"""One settings object for the whole service (environment variables, prefix ``KASSE_``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from kasse.domain.access import StorefrontKey

DEFAULT_DATA_DIR = Path("var")
_HOST = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*"
                   r"|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?")


class Settings(BaseSettings):
    """Every knob kasse has. See the configuration table in the README."""

    # Settings carry secrets: an error names the setting, never the value given.
    model_config = SettingsConfigDict(env_prefix="KASSE_", extra="ignore",
                                      hide_input_in_errors=True)

    data_dir: Path = Field(DEFAULT_DATA_DIR, description="Folder for the SQLite file and key file")
    database_url: str = Field(
        "", description="sqlite:///path or postgresql://user@host/db; default: data_dir/kasse.db"
    )
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated Api-Key values accepted (several allow rotation); "
                    "KEY@store+store serves only those stores (ids or aliases)",
    )
    secret_key: SecretStr | None = Field(
        None, description="Key signing payment links; default: generated into data_dir")
    auto_migrate: bool = Field(True, description="Apply pending migrations when serving starts")
    max_body_bytes: int = Field(1_048_576, description="Largest request body accepted")
    rendered_orders_bytes: int = Field(
        8_388_608, ge=0, description="Memory per worker for rendered cart bodies, reused while "
                                     "the cart is unchanged (0 turns it off)")
    log_level: str = Field("info")
    log_format: Literal["json", "text"] = Field(
        "json", description="json: one JSON object per line with the request id; text: "
                            "plain lines for a terminal")
    checkout_rate_per_minute: int = Field(
        120, ge=0, description="Requests per minute one client address may make to the "
                               "keyless checkout endpoints (token, pay pages), per worker; "
                               "0 turns the limit off")
    checkout_rate_burst: int = Field(60, ge=1, description="Requests such a client may make "
                                                           "at once before the rate applies")
    abandoned_cart_days: float = Field(
        30, ge=0, description="Open carts untouched for this long are deleted (0: never)")
    housekeeping_minutes: float = Field(
        10, gt=0, description="How often each worker looks for abandoned carts")
    db_pool_size: int = Field(10, description="Connections per worker (PostgreSQL)")
    public_url: str = Field(
        "", description="Base URL shoppers and gateways reach kasse at (https://shop.example); "
                        "default: a host of allowed_hosts the request names, else the "
                        "address the server listens on")
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated host[:port] names (shop.example, localhost:8080) whose "
                    "requests get pay and callback URLs on that host when public_url is "
                    "unset; any other Host header gets the listening address")
    checkout_token_minutes: int = Field(60, ge=1, le=24 * 60,
                                        description="How long a hosted checkout token is valid")
    test_gateway: bool = Field(
        False, description="Serve the simulated test gateway at /testgateway (demo, tests)")
    stripe_api_base: str = Field(
        "", description="Base URL of the Stripe API for stripe-checkout payment methods; "
                        "default: Stripe's own (tests point it at a local Stripe-compatible "
                        "server)")
    webhook_worker: bool = Field(
        True, description="Deliver merchant webhooks from every `kasse serve` worker (off: "
                          "only `kasse worker` processes deliver them)")
    webhook_poll_seconds: float = Field(
        1.0, gt=0, description="How often a webhook worker looks for events to deliver")
    webhook_retry_base_seconds: float = Field(
        30, gt=0, description="Wait after a webhook delivery's first failure; it doubles "
                              "with each failure, up to an hour")
    webhook_concurrency: int = Field(8, ge=1, description="Webhook requests one worker "
                                                          "sends at a time")
    smtp_host: str = Field("", description="Mail server for the shopper's emails; without "
                                           "it they are written as .eml files to "
                                           "data_dir/emails")
    smtp_port: int = Field(0, ge=0, le=65535,
                           description="default: 587 (starttls), 465 (tls) or 25 (none)")
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        "starttls", description="starttls: upgrade a plain connection (required); tls: "
                                "TLS from the start; none: plain text (a local relay only)")
    smtp_username: str = Field("", description="Login name, if the server wants one")
    smtp_password: SecretStr | None = Field(None, description="Login password (never logged)")
    smtp_timeout_seconds: float = Field(30, gt=0, description="Limit for each SMTP step")
    smtp_ca_file: str = Field("", description="CA certificates to check the server's "
                                              "certificate with (default: the system's)")
    email_worker: bool = Field(
        True, description="Send the shopper's emails from every `kasse serve` worker (off: "
                          "only `kasse worker` processes send them)")
    email_poll_seconds: float = Field(
        1.0, gt=0, description="How often an email worker looks for messages to send")
    email_retry_base_seconds: float = Field(
        60, gt=0, description="Wait after an email's first failed attempt; it doubles with "
                              "each failure, up to an hour")
    email_lease_seconds: float = Field(
        120, gt=0, description="How long a worker holds a message it sends; a worker that "
                               "died is taken over after it")
    opentelemetry: bool = Field(
        False, description="Report each request's trace, metrics and logs through "
                           "OpenTelemetry's global providers, when opentelemetry-api is "
                           "installed (off: no per-request cost)")

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list):
            for entry in value:  # refused at start, never when a request comes
                text = entry.get_secret_value() if isinstance(entry, SecretStr) else str(entry)
                StorefrontKey.parse(text)
        return value

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list):
            hosts = [str(part).strip().lower() for part in value if str(part).strip()]
            for host in hosts:
                if not _HOST.fullmatch(host):
                    raise ValueError(f"{host!r} is not a host name with an optional port "
                                     "(shop.example, localhost:8080, [::1]:8080)")
            return hosts
        return value

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'kasse.db').resolve()}"

    @property
    def email_dir(self) -> Path:
        """Where messages go as .eml files when no mail server is set."""
        return self.data_dir / "emails"

    @property
    def api_key_file(self) -> Path:
        return self.data_dir / "api-key"

    @property
    def secret_key_file(self) -> Path:
        return self.data_dir / "secret-key"
