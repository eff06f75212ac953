"""Where the Schema Registry is and how to reach it (prefix ``LODESTONE_SCHEMA_REGISTRY_``).

Secrets (the basic-auth user info, the TLS key's password) come only from the environment.
No URL (the default): no registry is used, and a framed record is a dead letter saying so.
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class SchemaRegistrySettings(BaseSettings):
    """``LODESTONE_SCHEMA_REGISTRY_URL`` and its authentication."""

    model_config = SettingsConfigDict(env_prefix="LODESTONE_SCHEMA_REGISTRY_", extra="ignore")

    url: str | None = None
    """e.g. ``https://registry.example:8081``; several, comma-separated, for fail-over."""
    basic_auth_user_info: SecretStr | None = None
    """``user:password`` (Confluent Cloud: API key and secret)."""
    ssl_ca_location: str | None = None
    ssl_certificate_location: str | None = None
    ssl_key_location: str | None = None
    ssl_key_password: SecretStr | None = None
    timeout_s: float = 5.0
    """Longest one batch may wait for the schemas it names (then retried with backoff)."""

    def client_config(self) -> dict[str, Any]:
        """The configuration of confluent-kafka's schema-registry client."""
        if not self.url:
            raise ValueError("LODESTONE_SCHEMA_REGISTRY_URL is not set")
        config: dict[str, Any] = {
            "url": self.url,
            "timeout": self.timeout_s,
            "max.retries": 1,  # the consume loop retries with its own backoff
        }
        if self.basic_auth_user_info is not None:
            config["basic.auth.user.info"] = self.basic_auth_user_info.get_secret_value()
        for key, value in (
            ("ssl.ca.location", self.ssl_ca_location),
            ("ssl.certificate.location", self.ssl_certificate_location),
            ("ssl.key.location", self.ssl_key_location),
        ):
            if value:
                config[key] = value
        if self.ssl_key_password is not None:
            config["ssl.key.password"] = self.ssl_key_password.get_secret_value()
        return config
