"""The settings → client arguments mapping, for every kind of cluster, without a broker."""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from aiokafka.abc import AbstractTokenProvider
from faststream.security import BaseSecurity, SASLOAuthBearer, SASLPlaintext, SASLScram512

from deploy.local.tls import Authority, ensure_authority
from services.common.kafka_security import (
    KafkaSecurityError,
    KafkaSecuritySettings,
    access_denied,
    kafka_broker_options,
    kafka_client_options,
)
from services.common.settings import Settings

SECRET = "s3cr3t-never-logged"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("LODESTONE_KAFKA_"):
            monkeypatch.delenv(key)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    authority = Authority(tmp_path_factory.mktemp("tls"))
    ensure_authority(authority, ["erp"])
    return authority


def settings(**values: Any) -> KafkaSecuritySettings:
    return KafkaSecuritySettings(**values)


def test_plaintext_is_the_default_and_adds_nothing_but_the_protocol() -> None:
    assert kafka_client_options(settings()) == {"security_protocol": "PLAINTEXT"}
    assert kafka_broker_options(settings()) == {}


def test_confluent_cloud_sasl_ssl_plain_trusts_the_system_cas() -> None:
    s = settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="PLAIN",
        kafka_sasl_username="API_KEY",
        kafka_sasl_password=SECRET,
    )
    options = kafka_client_options(s)
    assert options["sasl_mechanism"] == "PLAIN"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("API_KEY", SECRET)
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.check_hostname
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.cert_store_stats()["x509_ca"] > 0  # the system's CAs are loaded
    security = kafka_broker_options(s)["security"]
    assert isinstance(security, SASLPlaintext)
    assert security.use_ssl


def test_scram_over_tls_with_a_private_ca(tls: Authority) -> None:
    s = settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="screening",
        kafka_sasl_password=SECRET,
        kafka_ssl_cafile=tls.ca_file,
    )
    options = kafka_client_options(s)
    assert options["security_protocol"] == "SASL_SSL"
    assert options["ssl_context"].cert_store_stats()["x509_ca"] == 1
    security = kafka_broker_options(s)["security"]
    assert isinstance(security, SASLScram512)
    assert security.ssl_context is not None


def test_mtls_loads_the_client_certificate(tls: Authority) -> None:
    s = settings(
        kafka_security_protocol="SSL",
        kafka_ssl_cafile=tls.ca_file,
        kafka_ssl_certfile=tls.cert_file("erp"),
        kafka_ssl_keyfile=tls.key_file("erp"),
    )
    options = kafka_client_options(s)
    assert options["security_protocol"] == "SSL"
    assert "sasl_mechanism" not in options
    security = kafka_broker_options(s)["security"]
    assert type(security) is BaseSecurity
    assert security.use_ssl


def test_a_key_that_does_not_match_the_certificate_is_refused(tls: Authority) -> None:
    s = settings(
        kafka_security_protocol="SSL",
        kafka_ssl_certfile=tls.cert_file("erp"),
        kafka_ssl_keyfile=tls.ca_key_file,
    )
    with pytest.raises(ssl.SSLError):
        kafka_client_options(s)


class StubTokenProvider(AbstractTokenProvider):  # type: ignore[misc]
    async def token(self) -> str:
        return "stub-token"


def stub_provider() -> StubTokenProvider:
    return StubTokenProvider()


def not_a_provider() -> object:
    return object()


def test_oauthbearer_takes_the_named_token_provider() -> None:
    s = settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="OAUTHBEARER",
        kafka_oauth_token_provider=f"{__name__}:stub_provider",
    )
    options = kafka_client_options(s)
    assert isinstance(options["sasl_oauth_token_provider"], StubTokenProvider)
    broker = kafka_broker_options(s)
    assert isinstance(broker["security"], SASLOAuthBearer)
    assert isinstance(broker["sasl_oauth_token_provider"], StubTokenProvider)


def test_a_factory_that_returns_no_token_provider_is_refused() -> None:
    s = settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="OAUTHBEARER",
        kafka_oauth_token_provider=f"{__name__}:not_a_provider",
    )
    with pytest.raises(KafkaSecurityError, match="no token provider"):
        kafka_client_options(s)


def test_the_msk_iam_provider_signs_with_the_region_and_reuses_the_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []

    class Signer:
        @staticmethod
        def generate_auth_token(region: str) -> tuple[str, int]:
            calls.append(region)
            return f"token-for-{region}", 10**13  # expires far in the future (ms)

    module = types.ModuleType("aws_msk_iam_sasl_signer")
    module.MSKAuthTokenProvider = Signer  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "aws_msk_iam_sasl_signer", module)
    s = settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="OAUTHBEARER",
        kafka_oauth_token_provider="aws-msk-iam",
        kafka_aws_region="eu-central-1",
    )
    provider = kafka_client_options(s)["sasl_oauth_token_provider"]

    async def twice() -> list[str]:
        return [await provider.token(), await provider.token()]

    assert asyncio.run(twice()) == ["token-for-eu-central-1"] * 2
    assert calls == ["eu-central-1"]


def test_the_msk_iam_provider_needs_a_region() -> None:
    s = settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="OAUTHBEARER",
        kafka_oauth_token_provider="aws-msk-iam",
    )
    with pytest.raises(ValueError, match="REGION"):
        kafka_client_options(s)


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"kafka_security_protocol": "SASL_SSL"}, "needs LODESTONE_KAFKA_SASL_MECHANISM"),
        ({"kafka_sasl_mechanism": "PLAIN"}, "needs a SASL_ protocol"),
        (
            {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "SCRAM-SHA-256"},
            "needs LODESTONE_KAFKA_SASL_USERNAME",
        ),
        (
            {"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_sasl_mechanism": "OAUTHBEARER"},
            "needs LODESTONE_KAFKA_OAUTH_TOKEN_PROVIDER",
        ),
        ({"kafka_ssl_cafile": "/etc/hostname"}, "TLS files are set"),
        (
            {"kafka_security_protocol": "SSL", "kafka_ssl_keyfile": "/etc/hostname"},
            "needs LODESTONE_KAFKA_SSL_CERTFILE",
        ),
        (
            {"kafka_security_protocol": "SSL", "kafka_ssl_cafile": "/nonexistent/ca.pem"},
            "does not exist",
        ),
        ({"kafka_security_protocol": "TLS"}, "kafka_security_protocol"),
        ({"kafka_sasl_mechanism": "GSSAPI"}, "kafka_sasl_mechanism"),
    ],
)
def test_contradicting_settings_fail_at_start_up(values: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        settings(**values)


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LODESTONE_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("LODESTONE_KAFKA_SASL_MECHANISM", "SCRAM-SHA-256")
    monkeypatch.setenv("LODESTONE_KAFKA_SASL_USERNAME", "erp")
    monkeypatch.setenv("LODESTONE_KAFKA_SASL_PASSWORD", SECRET)
    options = kafka_client_options(Settings())
    assert options == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-256",
        "sasl_plain_username": "erp",
        "sasl_plain_password": SECRET,
    }


def test_the_password_never_appears_in_reprs_dumps_or_logs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("LODESTONE_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("LODESTONE_KAFKA_SASL_MECHANISM", "PLAIN")
    monkeypatch.setenv("LODESTONE_KAFKA_SASL_USERNAME", "erp")
    monkeypatch.setenv("LODESTONE_KAFKA_SASL_PASSWORD", SECRET)
    monkeypatch.setenv("LODESTONE_KAFKA_SSL_KEY_PASSWORD", SECRET)
    s = Settings()
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("lodestone.test").info("settings %s %r", s, s)
    shown = [
        repr(s),
        str(s),
        s.model_dump_json(),
        json.dumps(s.model_dump(mode="json")),
        caplog.text,
    ]
    assert all(SECRET not in text for text in shown)
    assert s.kafka_sasl_password is not None
    assert s.kafka_sasl_password.get_secret_value() == SECRET


def test_access_denied_explains_only_refusals() -> None:
    from aiokafka.errors import KafkaConnectionError, TopicAuthorizationFailedError

    reason = access_denied(TopicAuthorizationFailedError("decisions.v1"))
    assert reason is not None
    assert "decisions.v1" in reason
    assert access_denied(KafkaConnectionError("down")) is None
    assert access_denied(ValueError("x")) is None


def test_generated_certificates_name_their_principal(tls: Authority) -> None:
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(tls.cert_file("erp").read_bytes())
    assert cert.subject.rfc4514_string() == "CN=erp"
    assert Path(tls.key_file("erp")).stat().st_mode & 0o777 == 0o600
