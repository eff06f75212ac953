"""The secured local broker's settings: nobody is trusted by default, secrets stay private."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from deploy.local import kafka_secured
from deploy.local.config import RuntimeConfig
from deploy.local.kafka import _properties


@pytest.fixture
def cfg(tmp_path: Path) -> RuntimeConfig:
    base = RuntimeConfig(local_dir=tmp_path, cache_dir=tmp_path / "cache")
    return dataclasses.replace(base, kafka_security="sasl_ssl", kafka_port=19092)


def _parse(text: str) -> dict[str, str]:
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def test_every_client_listener_authenticates_and_nothing_is_allowed_without_an_acl(
    cfg: RuntimeConfig,
) -> None:
    props = _parse(_properties(cfg))
    assert "PLAINTEXT" not in props["listener.security.protocol.map"]
    assert props["listener.security.protocol.map"] == "CONTROLLER:SSL,SASL_SSL:SASL_SSL,MTLS:SSL"
    assert props["listener.name.mtls.ssl.client.auth"] == "required"
    assert props["listener.name.controller.ssl.client.auth"] == "required"
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["super.users"] == "User:admin;User:lodestone-broker"
    assert props["authorizer.class.name"].endswith("StandardAuthorizer")


def test_a_principal_added_later_gets_a_password_and_the_others_keep_theirs(
    cfg: RuntimeConfig,
) -> None:
    """A credentials file written before a principal existed (``console`` here) is completed."""
    first = kafka_secured.credentials(cfg)
    older = {name: password for name, password in first.items() if name != "console"}
    kafka_secured.credentials_file(cfg).write_text(json.dumps(older), encoding="utf-8")
    completed = kafka_secured.credentials(cfg)
    assert set(completed) == set(first)
    assert {n: p for n, p in completed.items() if n != "console"} == older
    assert completed["console"] not in older.values()
    assert kafka_secured.credentials(cfg) == completed
    assert kafka_secured.credentials_file(cfg).stat().st_mode & 0o777 == 0o600


def test_the_plaintext_runtime_is_unchanged(tmp_path: Path) -> None:
    props = _parse(_properties(RuntimeConfig(local_dir=tmp_path, cache_dir=tmp_path)))
    assert props["listener.security.protocol.map"] == "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
    assert "authorizer.class.name" not in props


def test_passwords_are_generated_once_per_principal_and_kept_private(cfg: RuntimeConfig) -> None:
    first = kafka_secured.credentials(cfg)
    assert set(first) == {
        "admin",
        "screening",
        "audit",
        "erp",
        "licensing",
        "catalogue",
        "operator",
        "console",
    }
    assert len(set(first.values())) == len(first)
    assert kafka_secured.credentials(cfg) == first
    assert kafka_secured.credentials_file(cfg).stat().st_mode & 0o777 == 0o600
    kafka_secured.prepare_tls(cfg)
    tls = kafka_secured.authority(cfg)
    assert tls.broker_keystore.stat().st_mode & 0o777 == 0o600
    assert tls.key_file("screening").stat().st_mode & 0o777 == 0o600


def test_an_unknown_local_security_mode_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LODESTONE_LOCAL_KAFKA_SECURITY", "kerberos")
    with pytest.raises(SystemExit, match="plaintext or sasl_ssl"):
        RuntimeConfig.from_env()
