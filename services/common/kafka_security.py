"""How every Kafka client of Lodestone connects: security settings in, client arguments out.

Every ``AIOKafkaConsumer``, ``AIOKafkaProducer`` and ``AIOKafkaAdminClient`` is built with
``**kafka_client_options(settings)``, and the FastStream ``KafkaBroker`` with
``**kafka_broker_options(settings)`` (the same arguments in FastStream's form). A test scans the
code base and fails on a client built without them, so a new client cannot silently fall back to
PLAINTEXT. One process talks to one cluster: a call without settings uses the process's own
(``LODESTONE_…`` environment variables).

The SASL password and the TLS key password are :class:`pydantic.SecretStr`: they appear as
``**********`` in every repr, dump and log line, and are unwrapped only here, into the client.
"""

from __future__ import annotations

import importlib
import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Self

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:  # aiokafka is imported where a client is made, not with the settings
    from aiokafka.abc import AbstractTokenProvider

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"]

#: ``LODESTONE_KAFKA_OAUTH_TOKEN_PROVIDER`` value of the built-in Amazon MSK IAM provider.
MSK_IAM_PROVIDER = "aws-msk-iam"

_TLS_PROTOCOLS = ("SSL", "SASL_SSL")
_SASL_PROTOCOLS = ("SASL_PLAINTEXT", "SASL_SSL")
_PASSWORD_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


class KafkaSecurityError(ValueError):
    """The Kafka security settings contradict each other or name a missing file/provider."""


class KafkaSecuritySettings(BaseSettings):
    """How to authenticate to the cluster and encrypt the connection (prefix ``LODESTONE_``).

    Confluent Cloud: ``SASL_SSL`` + ``PLAIN`` (API key and secret); Amazon MSK: ``SASL_SSL`` +
    ``SCRAM-SHA-512``, ``SASL_SSL`` + ``OAUTHBEARER`` with ``aws-msk-iam``, or ``SSL`` with a
    client certificate (mTLS); Aiven and Redpanda: ``SASL_SSL`` + ``SCRAM-SHA-256/512``.
    See docs/connecting.md.
    """

    model_config = SettingsConfigDict(env_prefix="LODESTONE_", extra="ignore")

    kafka_security_protocol: SecurityProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: SaslMechanism | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    """PEM bundle of the CAs that sign the brokers' certificates; unset: the system's."""
    kafka_ssl_certfile: Path | None = None
    """PEM client certificate (mTLS); the key may be in the same file or in ``ssl_keyfile``."""
    kafka_ssl_keyfile: Path | None = None
    kafka_ssl_key_password: SecretStr | None = None
    kafka_ssl_check_hostname: bool = True
    """Verify that the broker's certificate names the host connected to. Leave it on."""
    kafka_oauth_token_provider: str | None = None
    """OAUTHBEARER tokens: ``aws-msk-iam`` (extra ``lodestone[msk-iam]``) or
    ``package.module:factory``, a callable without arguments returning an aiokafka
    ``AbstractTokenProvider``."""
    kafka_aws_region: str | None = None
    """AWS region of the MSK cluster, for ``aws-msk-iam``."""

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems = security_problems(self)
        if problems:
            raise KafkaSecurityError("Kafka security settings: " + "; ".join(problems))
        return self


def security_problems(s: KafkaSecuritySettings) -> list[str]:
    """Contradictions a client would otherwise meet only as a refused or silent connection."""
    protocol, mechanism = s.kafka_security_protocol, s.kafka_sasl_mechanism
    problems: list[str] = []
    if protocol in _SASL_PROTOCOLS and mechanism is None:
        problems.append(f"{protocol} needs LODESTONE_KAFKA_SASL_MECHANISM")
    if protocol not in _SASL_PROTOCOLS and mechanism is not None:
        problems.append(f"LODESTONE_KAFKA_SASL_MECHANISM={mechanism} needs a SASL_ protocol")
    if mechanism in _PASSWORD_MECHANISMS and (
        not s.kafka_sasl_username or s.kafka_sasl_password is None
    ):
        problems.append(f"{mechanism} needs LODESTONE_KAFKA_SASL_USERNAME and _PASSWORD")
    if mechanism == "OAUTHBEARER" and not s.kafka_oauth_token_provider:
        problems.append("OAUTHBEARER needs LODESTONE_KAFKA_OAUTH_TOKEN_PROVIDER")
    tls_files = (s.kafka_ssl_cafile, s.kafka_ssl_certfile, s.kafka_ssl_keyfile)
    if protocol not in _TLS_PROTOCOLS and any(tls_files):
        problems.append(f"TLS files are set but LODESTONE_KAFKA_SECURITY_PROTOCOL={protocol}")
    if s.kafka_ssl_keyfile is not None and s.kafka_ssl_certfile is None:
        problems.append("LODESTONE_KAFKA_SSL_KEYFILE needs LODESTONE_KAFKA_SSL_CERTFILE")
    problems += [f"{path} does not exist" for path in tls_files if path and not path.is_file()]
    return problems


def tls_context(s: KafkaSecuritySettings) -> ssl.SSLContext:
    """A client TLS context: the configured (or system) CAs, hostname checks, mTLS if set."""
    key_password = s.kafka_ssl_key_password
    from aiokafka.helpers import create_ssl_context

    context: ssl.SSLContext = create_ssl_context(
        cafile=s.kafka_ssl_cafile,
        certfile=s.kafka_ssl_certfile,
        keyfile=s.kafka_ssl_keyfile,
        password=key_password.get_secret_value() if key_password else None,
    )
    if s.kafka_ssl_cafile is None:
        context.load_default_certs()
    context.check_hostname = s.kafka_ssl_check_hostname
    return context


def oauth_token_provider(s: KafkaSecuritySettings) -> AbstractTokenProvider:
    """The OAUTHBEARER token provider named by the settings."""
    name = s.kafka_oauth_token_provider or ""
    if name == MSK_IAM_PROVIDER:
        from services.common.msk_iam import MskIamTokenProvider

        return MskIamTokenProvider(region=s.kafka_aws_region)
    module_name, _, attribute = name.partition(":")
    if not attribute:
        raise KafkaSecurityError(
            f"LODESTONE_KAFKA_OAUTH_TOKEN_PROVIDER={name!r}: expected "
            f"{MSK_IAM_PROVIDER!r} or 'package.module:factory'"
        )
    factory = getattr(importlib.import_module(module_name), attribute)
    provider = factory()
    from aiokafka.abc import AbstractTokenProvider

    if not isinstance(provider, AbstractTokenProvider):
        raise KafkaSecurityError(f"{name} returned {type(provider).__name__}, no token provider")
    return provider


def _process_settings() -> KafkaSecuritySettings:
    from services.common.settings import get_settings

    return get_settings()


def kafka_client_options(settings: KafkaSecuritySettings | None = None) -> dict[str, Any]:
    """Keyword arguments for any aiokafka consumer, producer or admin client.

    ``settings`` defaults to the process's settings (one cluster per process).
    """
    s = settings if settings is not None else _process_settings()
    options: dict[str, Any] = {"security_protocol": s.kafka_security_protocol}
    if s.kafka_security_protocol in _TLS_PROTOCOLS:
        options["ssl_context"] = tls_context(s)
    mechanism = s.kafka_sasl_mechanism
    if mechanism is not None:
        options["sasl_mechanism"] = mechanism
    if mechanism in _PASSWORD_MECHANISMS:
        assert s.kafka_sasl_password is not None  # checked by the settings' validator
        options["sasl_plain_username"] = s.kafka_sasl_username
        options["sasl_plain_password"] = s.kafka_sasl_password.get_secret_value()
    if mechanism == "OAUTHBEARER":
        options["sasl_oauth_token_provider"] = oauth_token_provider(s)
    return options


def kafka_broker_options(settings: KafkaSecuritySettings | None = None) -> dict[str, Any]:
    """The same connection as :func:`kafka_client_options`, as FastStream ``KafkaBroker`` takes it
    (a ``security`` object, which also documents the server in FastStream's AsyncAPI)."""
    from faststream.security import (
        BaseSecurity,
        SASLOAuthBearer,
        SASLPlaintext,
        SASLScram256,
        SASLScram512,
    )

    client = kafka_client_options(settings)
    protocol = client["security_protocol"]
    if protocol == "PLAINTEXT":
        return {}
    context: ssl.SSLContext | None = client.get("ssl_context")
    use_ssl = protocol in _TLS_PROTOCOLS
    mechanism = client.get("sasl_mechanism")
    if mechanism is None:
        return {"security": BaseSecurity(ssl_context=context, use_ssl=use_ssl)}
    if mechanism == "OAUTHBEARER":
        return {
            "security": SASLOAuthBearer(ssl_context=context, use_ssl=use_ssl),
            "sasl_oauth_token_provider": client["sasl_oauth_token_provider"],
        }
    kind = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}
    security = kind[mechanism](
        username=client["sasl_plain_username"],
        password=client["sasl_plain_password"],
        ssl_context=context,
        use_ssl=use_ssl,
    )
    return {"security": security}


def access_denied(error: BaseException) -> str | None:
    """A one-line explanation when ``error`` is the broker refusing this principal, else None.

    Refusals are not transient: retrying does not help until an administrator grants the ACL.
    """
    from aiokafka import errors

    refused = (
        errors.TopicAuthorizationFailedError,
        errors.GroupAuthorizationFailedError,
        errors.ClusterAuthorizationFailedError,
        errors.TransactionalIdAuthorizationFailed,
        errors.AuthenticationFailedError,
    )
    if not isinstance(error, refused):
        return None
    settings = _process_settings()
    who = settings.kafka_sasl_username or settings.kafka_ssl_certfile or "this client"
    return (
        f"Kafka refused {who} ({settings.kafka_security_protocol}): {error}. "
        "Ask for the ACL this needs (docs/connecting.md lists them per principal)."
    )
