"""The secured form of the local broker (``LODESTONE_LOCAL_KAFKA_SECURITY=sasl_ssl``).

Listeners: ``SASL_SSL`` (SCRAM-SHA-512) on the Kafka port, ``MTLS`` (TLS with a required client
certificate) on the mTLS port, and the controller listener, also TLS with a required certificate
(only the broker's own is accepted as a super user). The StandardAuthorizer denies what no ACL
allows (:mod:`deploy.local.acls`). SCRAM users are added when storage is formatted; their
passwords are generated once into ``<kafka dir>/credentials.json`` (mode 0600).
"""

from __future__ import annotations

import dataclasses
import json
import secrets
from pathlib import Path

from deploy.local.acls import ADMIN, PRINCIPALS
from deploy.local.config import RuntimeConfig
from deploy.local.tls import BROKER_CN, Authority, ensure_authority
from services.common.kafka_security import KafkaSecuritySettings

MECHANISM = "SCRAM-SHA-512"
_SCRAM_MODULE = "org.apache.kafka.common.security.scram.ScramLoginModule"


def authority(cfg: RuntimeConfig) -> Authority:
    return Authority(cfg.kafka_dir / "tls")


def credentials_file(cfg: RuntimeConfig) -> Path:
    return cfg.kafka_dir / "credentials.json"


def credentials(cfg: RuntimeConfig) -> dict[str, str]:
    """Principal -> SCRAM password, generated on first use."""
    path = credentials_file(cfg)
    stored: dict[str, str] = {}
    if path.exists():
        stored = json.loads(path.read_text(encoding="utf-8"))
    missing = [name for name in (ADMIN, *PRINCIPALS) if name not in stored]
    if not missing:
        return stored
    # a principal added since the broker was formatted gets its user at the next ``up``
    # (:func:`upsert_scram_users`); the broker's storage is never formatted again
    stored |= {name: secrets.token_urlsafe(24) for name in missing}
    cfg.kafka_dir.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.write_text(json.dumps(stored, indent=2), encoding="utf-8")
    return stored


def prepare_tls(cfg: RuntimeConfig) -> None:
    ensure_authority(authority(cfg), list(PRINCIPALS))


def scram_format_args(cfg: RuntimeConfig) -> list[str]:
    """``kafka-storage format`` arguments that create every SCRAM user."""
    args: list[str] = []
    for name, password in credentials(cfg).items():
        args += ["--add-scram", f"{MECHANISM}=[name={name},password={password}]"]
    return args


def properties(cfg: RuntimeConfig) -> dict[str, str]:
    """The broker settings that differ from the PLAINTEXT runtime's."""
    tls = authority(cfg)
    admin_password = credentials(cfg)[ADMIN]
    sasl, mtls, ctl = cfg.kafka_port, cfg.kafka_mtls_port, cfg.kafka_controller_port
    return {
        "listeners": (
            f"SASL_SSL://127.0.0.1:{sasl},MTLS://127.0.0.1:{mtls},CONTROLLER://127.0.0.1:{ctl}"
        ),
        "advertised.listeners": f"SASL_SSL://127.0.0.1:{sasl},MTLS://127.0.0.1:{mtls}",
        "listener.security.protocol.map": "CONTROLLER:SSL,SASL_SSL:SASL_SSL,MTLS:SSL",
        "inter.broker.listener.name": "MTLS",
        "listener.name.mtls.ssl.client.auth": "required",
        "listener.name.controller.ssl.client.auth": "required",
        "sasl.enabled.mechanisms": MECHANISM,
        "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": (
            f'{_SCRAM_MODULE} required username="{ADMIN}" password="{admin_password}";'
        ),
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(tls.broker_keystore),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(tls.ca_file),
        # A certificate "CN=operator" is the principal User:operator, as the SCRAM user is.
        "ssl.principal.mapping.rules": "RULE:^CN=([^,]+)$/$1/,DEFAULT",
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found": "false",
        "super.users": f"User:{ADMIN};User:{BROKER_CN}",
        **(_unsecured_oauth_listener(cfg) if cfg.kafka_unsecured_oauth_port else {}),
    }


def _unsecured_oauth_listener(cfg: RuntimeConfig) -> dict[str, str]:
    """An extra ``OAUTH`` listener (see ``RuntimeConfig.kafka_unsecured_oauth_port``)."""
    plain = properties(dataclasses.replace(cfg, kafka_unsecured_oauth_port=None))
    listener = f"OAUTH://127.0.0.1:{cfg.kafka_unsecured_oauth_port}"
    return {
        "listeners": f"{plain['listeners']},{listener}",
        "advertised.listeners": f"{plain['advertised.listeners']},{listener}",
        "listener.security.protocol.map": (
            f"{plain['listener.security.protocol.map']},OAUTH:SASL_SSL"
        ),
        "listener.name.oauth.sasl.enabled.mechanisms": "OAUTHBEARER",
        "listener.name.oauth.oauthbearer.sasl.jaas.config": (
            "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;"
        ),
    }


def client_security(
    cfg: RuntimeConfig, principal: str, *, mtls: bool = False, password: str | None = None
) -> KafkaSecuritySettings:
    """Settings for ``principal`` (every field given: nothing comes from the environment)."""
    tls = authority(cfg)
    return KafkaSecuritySettings(
        kafka_security_protocol="SSL" if mtls else "SASL_SSL",
        kafka_sasl_mechanism=None if mtls else MECHANISM,
        kafka_sasl_username=None if mtls else principal,
        kafka_sasl_password=(
            None if mtls else password if password is not None else credentials(cfg)[principal]
        ),
        kafka_ssl_cafile=tls.ca_file,
        kafka_ssl_certfile=tls.cert_file(principal) if mtls else None,
        kafka_ssl_keyfile=tls.key_file(principal) if mtls else None,
        kafka_ssl_key_password=None,
        kafka_ssl_check_hostname=True,
        kafka_oauth_token_provider=None,
        kafka_aws_region=None,
    )


def environment(cfg: RuntimeConfig, principal: str, *, mtls: bool = False) -> dict[str, str]:
    """The ``LODESTONE_KAFKA_…`` variables of ``principal`` (SCRAM, or mTLS when asked)."""
    tls = authority(cfg)
    if mtls:
        return {
            "LODESTONE_KAFKA_BOOTSTRAP": f"127.0.0.1:{cfg.kafka_mtls_port}",
            "LODESTONE_KAFKA_SECURITY_PROTOCOL": "SSL",
            "LODESTONE_KAFKA_SSL_CAFILE": str(tls.ca_file),
            "LODESTONE_KAFKA_SSL_CERTFILE": str(tls.cert_file(principal)),
            "LODESTONE_KAFKA_SSL_KEYFILE": str(tls.key_file(principal)),
        }
    return {
        "LODESTONE_KAFKA_BOOTSTRAP": cfg.kafka_bootstrap,
        "LODESTONE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "LODESTONE_KAFKA_SASL_MECHANISM": MECHANISM,
        "LODESTONE_KAFKA_SASL_USERNAME": principal,
        "LODESTONE_KAFKA_SASL_PASSWORD": credentials(cfg)[principal],
        "LODESTONE_KAFKA_SSL_CAFILE": str(tls.ca_file),
    }


def admin_security(cfg: RuntimeConfig) -> KafkaSecuritySettings:
    """How the runtime itself (readiness, topics, ACLs) talks to its broker."""
    if cfg.secured:
        return client_security(cfg, ADMIN)
    return KafkaSecuritySettings(
        kafka_security_protocol="PLAINTEXT",
        kafka_sasl_mechanism=None,
        kafka_sasl_username=None,
        kafka_sasl_password=None,
        kafka_ssl_cafile=None,
        kafka_ssl_certfile=None,
        kafka_ssl_keyfile=None,
        kafka_ssl_key_password=None,
        kafka_oauth_token_provider=None,
        kafka_aws_region=None,
    )


def confluent_admin_options(cfg: RuntimeConfig) -> dict[str, str]:
    """The admin's connection for confluent-kafka (librdkafka), which creates the ACLs."""
    return {
        "security.protocol": "SASL_SSL",
        "sasl.mechanisms": MECHANISM,
        "sasl.username": ADMIN,
        "sasl.password": credentials(cfg)[ADMIN],
        "ssl.ca.location": str(authority(cfg).ca_file),
    }


def environment_file(cfg: RuntimeConfig, principal: str) -> Path:
    return cfg.kafka_dir / "env" / f"{principal}.env"


def write_environments(cfg: RuntimeConfig) -> dict[str, str]:
    """Write ``env/<principal>.env`` (mode 0600) for every principal; returns the admin's.

    ``set -a; . .local/kafka-secured/env/screening.env; set +a`` before ``lodestone screening
    run`` runs the service as its own principal.
    """
    for principal in (ADMIN, *PRINCIPALS):
        path = environment_file(cfg, principal)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600, exist_ok=True)
        lines = [f"{key}={value}\n" for key, value in environment(cfg, principal).items()]
        path.write_text("".join(lines), encoding="utf-8")
    return environment(cfg, ADMIN)


def upsert_scram_users(cfg: RuntimeConfig) -> list[str]:
    """Create the SCRAM user of every principal the broker does not know yet; returns their names.

    The users of a new broker are created when its storage is formatted; a principal added to
    :data:`~deploy.local.acls.PRINCIPALS` later gets its user here, as ``admin``, at the next
    ``up`` (idempotent: users that exist keep their credentials).
    """
    from confluent_kafka.admin import (  # type: ignore[attr-defined]  # not in its __all__
        AdminClient,
        ScramCredentialInfo,
        ScramMechanism,
        UserScramCredentialAlteration,
        UserScramCredentialUpsertion,
    )

    client = AdminClient({"bootstrap.servers": cfg.kafka_bootstrap, **confluent_admin_options(cfg)})
    described = client.describe_user_scram_credentials()  # every user: one future
    assert not isinstance(described, dict)
    known = described.result(timeout=30)
    passwords = credentials(cfg)
    missing = [name for name in (ADMIN, *PRINCIPALS) if name not in known]
    if missing:
        info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192)
        upserts: list[UserScramCredentialAlteration] = [
            UserScramCredentialUpsertion(name, info, passwords[name].encode()) for name in missing
        ]
        for future in client.alter_user_scram_credentials(upserts).values():
            future.result(timeout=30)
    return missing
