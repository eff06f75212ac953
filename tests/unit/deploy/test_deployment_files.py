"""The deployment files agree with the code: every setting they pass exists, the topics and roles
they create are the ones the local runtime creates.

Settings are read with ``extra="ignore"``, so a misspelt ``LODESTONE_…`` variable in a compose
file, an image or a chart would be silently ignored; these tests are what catches it.
"""

from __future__ import annotations

import base64
import re
import shlex
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from deploy.local.config import REPO_ROOT
from deploy.local.roles import ROLES
from deploy.local.topics import contract_topics
from services.audit.config import AuditSettings
from services.common.kafka_security import KafkaSecuritySettings
from services.common.migrations import OWNER_ROLE
from services.common.settings import Settings
from services.console.config import ConsoleSettings
from services.screening.config import ScreeningSettings

DEPLOY = REPO_ROOT / "deploy"
CHART = DEPLOY / "helm" / "lodestone"
COMPOSE = DEPLOY / "compose"
VARIABLE = re.compile(r"\bLODESTONE_[A-Z0-9_]*[A-Z0-9]\b")


def _env_names(settings: type[BaseSettings]) -> set[str]:
    prefix = str(settings.model_config.get("env_prefix", ""))
    return {(prefix + name).upper() for name in settings.model_fields}


KNOWN = (
    _env_names(Settings)
    | _env_names(ScreeningSettings)
    | _env_names(AuditSettings)
    | _env_names(ConsoleSettings)
)


def _snake(camel: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", camel).lower()


def test_known_settings_include_the_ones_deployments_rely_on() -> None:
    # Guards the helper itself: a wrong prefix would make every other test here vacuous.
    assert {"LODESTONE_KAFKA_BOOTSTRAP", "LODESTONE_AUDITOR_DATABASE_URL"} <= KNOWN
    assert {"LODESTONE_SCREENING_DB_POOL_SIZE", "LODESTONE_AUDIT_API_TOKENS"} <= KNOWN
    assert "LODESTONE_SCREENING_DB_POOLSIZE" not in KNOWN


def test_the_image_sets_only_known_settings() -> None:
    text = (DEPLOY / "container" / "Containerfile").read_text()
    named = set(VARIABLE.findall(text))
    assert "LODESTONE_AUDIT_API_HOST" in named
    assert named <= KNOWN, named - KNOWN


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((COMPOSE / "compose.yaml").read_text())
    return loaded


def test_compose_passes_only_known_settings_to_lodestone_containers() -> None:
    services = _compose()["services"]
    lodestone = {
        name: spec for name, spec in services.items() if "LODESTONE_IMAGE" in str(spec["image"])
    }
    assert {
        "screening-1",
        "screening-2",
        "audit",
        "audit-api",
        "console",
        "migrate",
    } <= lodestone.keys()
    for name, spec in lodestone.items():
        unknown = set(spec.get("environment", {})) - KNOWN
        assert not unknown, f"{name}: {unknown}"


def test_compose_runs_every_lodestone_container_read_only_and_non_root() -> None:
    for name, spec in _compose()["services"].items():
        if "LODESTONE_IMAGE" in str(spec["image"]):
            assert spec["read_only"] is True, name
            assert spec["user"] == "10001:10001", name


def test_compose_kafka_cluster_id_is_a_valid_kraft_id() -> None:
    env = _compose()["services"]["kafka"]["environment"]
    default = re.fullmatch(r"\$\{LODESTONE_KAFKA_CLUSTER_ID:-(.+)\}", env["CLUSTER_ID"])
    assert default is not None
    assert len(base64.urlsafe_b64decode(default.group(1) + "==")) == 16


def test_compose_creates_the_contract_topics_as_the_local_runtime_does() -> None:
    created: dict[str, tuple[int, dict[str, str]]] = {}
    for line in (COMPOSE / "topics.sh").read_text().splitlines():
        if not line.startswith("topics "):
            continue
        words = shlex.split(line)
        name = words[words.index("--topic") + 1]
        partitions = int(words[words.index("--partitions") + 1])
        configs = dict(
            words[i + 1].split("=", 1) for i, word in enumerate(words) if word == "--config"
        )
        created[name] = (partitions, configs)
    expected = {spec.name: (spec.partitions, spec.configs) for spec in contract_topics(Settings())}
    assert created == expected


def _roles_script() -> str:
    return (COMPOSE / "postgres-init" / "10-lodestone-roles.sh").read_text()


def test_compose_creates_the_roles_the_migrations_grant_to() -> None:
    script = _roles_script()
    created = set(re.findall(r"CREATE ROLE (\w+) WITH LOGIN NOSUPERUSER", script))
    assert created == set(ROLES.values())


def test_compose_database_belongs_to_the_owner_role_which_cannot_log_in() -> None:
    # The layout of deploy/local/roles.py (ADR 0015): the migrations' bootstrap identity may only
    # become the owner; nothing may create roles; no login role owns the database.
    script = _roles_script()
    assert re.search(rf"CREATE ROLE {OWNER_ROLE} WITH NOLOGIN ", script)
    assert f"GRANT {OWNER_ROLE} TO {ROLES['admin']};" in script
    assert re.search(rf"CREATE DATABASE lodestone OWNER {OWNER_ROLE} ", script)
    for role in (OWNER_ROLE, *ROLES.values()):
        attributes = re.search(rf"CREATE ROLE {role} WITH ([A-Z ]+)", script)
        assert attributes is not None, role
        words = set(attributes.group(1).split())
        assert {"NOSUPERUSER", "NOCREATEROLE", "NOCREATEDB", "NOREPLICATION"} <= words, role
    granted = re.findall(r"^GRANT (\w+) TO (\w+);", script, flags=re.MULTILINE)
    assert granted == [(OWNER_ROLE, ROLES["admin"])]
    assert "log_statement = 'ddl'" in script


def _lodestone_services() -> dict[str, dict[str, Any]]:
    return {
        name: spec
        for name, spec in _compose()["services"].items()
        if "LODESTONE_IMAGE" in str(spec["image"])
    }


def test_compose_gives_each_container_only_its_own_database_role() -> None:
    expected = {
        "migrate": "admin",
        "screening-1": "screening",
        "screening-2": "screening",
        "audit": "audit",
        "audit-api": "auditor",
        "console": "auditor",
    }
    services = _lodestone_services()
    assert set(services) == set(expected)
    for name, role in expected.items():
        urls = {key for key in services[name]["environment"] if key.endswith("DATABASE_URL")}
        assert urls == {f"LODESTONE_{role.upper()}_DATABASE_URL"}, name
        user = ROLES[role]
        assert f"postgresql://{user}:" in services[name]["environment"][next(iter(urls))], name


def test_compose_keys_are_secrets_each_container_mounts_only_where_it_needs_them() -> None:
    compose = _compose()
    declared = compose["secrets"]
    uses = {
        "screening-1": {"LODESTONE_DECISION_SIGNING_KEY_FILE": "decision-signing.pem"},
        "screening-2": {"LODESTONE_DECISION_SIGNING_KEY_FILE": "decision-signing.pem"},
        "audit": {
            "LODESTONE_DECISION_PUBLIC_KEY_FILES": "decision-signing.pub.pem",
            "LODESTONE_AUDIT_LOG_SIGNING_KEY_FILE": "audit-log.pem",
        },
        "audit-api": {"LODESTONE_AUDIT_LOG_PUBLIC_KEY_FILE": "audit-log.pub.pem"},
        "console": {
            "LODESTONE_DECISION_PUBLIC_KEY_FILES": "decision-signing.pub.pem",
            "LODESTONE_AUDIT_LOG_PUBLIC_KEY_FILE": "audit-log.pub.pem",
        },
        "migrate": {},
    }
    for name, spec in _lodestone_services().items():
        env = spec.get("environment", {})
        keys = {key: value for key, value in env.items() if "KEY_FILE" in key}
        assert set(keys) == set(uses[name]), name
        mounted = set(spec.get("secrets", []))
        for variable, file_name in uses[name].items():
            secret = keys[variable].removeprefix("/run/secrets/")
            assert secret in mounted, (name, variable)
            assert declared[secret]["file"].endswith("/" + file_name), (name, variable)
        # A private key never reaches a container that only verifies.
        private = {
            s
            for s in mounted
            if declared[s]["file"].endswith(".pem") and not declared[s]["file"].endswith(".pub.pem")
        }
        assert private == {
            keys[v].removeprefix("/run/secrets/") for v, f in uses[name].items() if ".pub." not in f
        }, name


def test_compose_console_users_are_a_file_only_the_console_mounts() -> None:
    """The users' scrypt hashes hold ``$``, which compose would read as variables: a file."""
    services = _lodestone_services()
    holders = {
        name for name, spec in services.items() if "console-users" in spec.get("secrets", [])
    }
    assert holders == {"console"}
    env = services["console"]["environment"]
    assert env["LODESTONE_CONSOLE_USERS_FILE"] == "/run/secrets/console-users"
    assert "LODESTONE_CONSOLE_USERS" not in env


def test_compose_anchor_file_is_on_a_volume_of_its_own_that_verify_reads() -> None:
    services = _compose()["services"]
    anchor = services["audit"]["environment"]["LODESTONE_AUDIT_ANCHOR_FILE"]
    assert services["audit-api"]["environment"]["LODESTONE_AUDIT_ANCHOR_FILE"] == anchor

    def volume_of(service: str) -> tuple[str, str]:
        for mount in services[service]["volumes"]:
            source, target, *mode = mount.split(":")
            if anchor.startswith(target.rstrip("/") + "/") and target != "/var/lib/lodestone":
                return source, ":".join(mode)
        raise AssertionError(f"{service}: {anchor} is on no volume of its own")

    written, _ = volume_of("audit")
    read, mode = volume_of("audit-api")
    assert written == read
    assert mode == "ro"
    database_volumes = {m.split(":")[0] for m in services["postgres"]["volumes"]}
    assert written not in database_volumes


def _values() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
    return loaded


def test_chart_templates_name_only_known_settings() -> None:
    named: set[str] = set()
    for path in (CHART / "templates").iterdir():
        named |= set(VARIABLE.findall(path.read_text()))
    assert {"LODESTONE_KAFKA_BOOTSTRAP", "LODESTONE_AUDIT_API_TOKENS"} <= named
    assert named <= KNOWN, named - KNOWN


@pytest.mark.parametrize(
    ("component", "prefix"),
    [
        ("screening", "LODESTONE_SCREENING_"),
        ("audit", "LODESTONE_AUDIT_"),
        ("console", "LODESTONE_CONSOLE_"),
    ],
)
def test_chart_service_settings_are_known(component: str, prefix: str) -> None:
    settings = _values()[component]["settings"]
    assert settings
    names = {prefix + _snake(key).upper() for key in settings}
    assert names <= KNOWN, names - KNOWN


def test_chart_database_keys_are_the_settings_roles() -> None:
    roles = set(_values()["database"]["keys"])
    assert roles == set(ROLES)
    assert {f"LODESTONE_{role.upper()}_DATABASE_URL" for role in roles} <= KNOWN


def test_chart_topic_names_default_to_the_contract() -> None:
    topics = _values()["kafka"]["topics"]
    settings = Settings()
    assert topics == {
        "shipments": settings.topic_shipments,
        "licenses": settings.topic_licenses,
        "controls": settings.topic_controls,
        "decisions": settings.topic_decisions,
        "deadLetters": settings.topic_dead_letters,
        "anchors": settings.topic_anchors,
        "parties": settings.topic_parties,
        "reviews": settings.topic_reviews,
    }
    assert _values()["kafka"]["shipmentPartitions"] == next(
        spec.partitions for spec in contract_topics(settings) if spec.name == topics["shipments"]
    )


def test_examples_hold_no_real_secret() -> None:
    for line in (COMPOSE / "example.env").read_text().splitlines():
        if line and not line.startswith("#"):
            assert line.split("=", 1)[1].startswith("change-me"), line


def test_the_chart_renders_no_secret_values() -> None:
    # Database URLs and API tokens come only from secretKeyRef, never from a literal value.
    for path in (CHART / "templates").iterdir():
        text = path.read_text()
        assert "postgresql://" not in text, path.name
        assert "kind: Secret\n" not in text, path.name


def test_chart_passes_every_kafka_security_setting_through() -> None:
    # A setting the chart cannot set would leave a secured cluster unreachable from Kubernetes.
    # The key password is left to extraEnv: a kubernetes.io/tls Secret holds an unencrypted key.
    named: set[str] = set()
    for path in (CHART / "templates").iterdir():
        named |= set(VARIABLE.findall(path.read_text()))
    security = _env_names(KafkaSecuritySettings) - {"LODESTONE_KAFKA_SSL_KEY_PASSWORD"}
    assert security <= named, security - named


def test_chart_takes_every_key_and_credential_from_a_secret_reference() -> None:
    values = _values()
    for name, key in values["signingKeys"].items():
        assert key["existingSecret"], name
    assert set(values["kafka"]["security"]["saslSecrets"]) == {"screening", "audit", "console"}
    assert values["kafka"]["security"]["protocol"] == "PLAINTEXT"
