"""Who may do what on the secured broker: one principal per role, least privilege.

The table is the one docs/connecting.md lists; the local secured runtime creates exactly these
ACLs (the StandardAuthorizer denies everything not allowed, and nobody but ``admin`` and the
broker itself is a super user). Topic names come from the settings; consumer groups are allowed
by prefix, so that several deployments (and tests) can use groups of their own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from services.common.settings import Settings
from services.screening.config import ScreeningSettings

#: The SCRAM users (and mTLS certificate names) of the local secured runtime, besides ``admin``.
PRINCIPALS = ("screening", "audit", "erp", "licensing", "catalogue", "operator", "console")
ADMIN = "admin"


@dataclass(frozen=True)
class Grant:
    """``principal`` may ``operation`` the topic (or group prefix) ``resource``."""

    principal: str
    operation: str  # READ or WRITE (each implies DESCRIBE)
    resource_type: str  # TOPIC or GROUP
    resource: str
    prefixed: bool = False


def grants(settings: Settings | None = None) -> list[Grant]:
    """Every ACL of the contract's topics and the services' groups."""
    s = settings or Settings()
    read, write = "READ", "WRITE"

    def topic(principal: str, operation: str, name: str) -> Grant:
        return Grant(principal, operation, "TOPIC", name)

    def groups(principal: str, prefix: str) -> Grant:
        return Grant(principal, read, "GROUP", prefix, prefixed=True)

    return [
        # screening: reads shipments and reference data; the only writer of decisions and DLQ
        topic("screening", read, s.topic_shipments),
        topic("screening", read, s.topic_licenses),
        topic("screening", read, s.topic_controls),
        topic("screening", read, s.topic_parties),
        topic("screening", read, s.topic_reviews),  # releases by review
        topic("screening", write, s.topic_decisions),
        topic("screening", write, s.topic_dead_letters),
        groups("screening", "lodestone-screening"),
        # the shadow (``screening run --shadow-catalogue``): live decisions in, shadows out
        topic("screening", read, s.topic_decisions),
        topic("screening", write, ScreeningSettings().shadow_topic),
        # audit: reads decisions and the catalogue; the only writer of the signed tree heads
        topic("audit", read, s.topic_decisions),
        topic("audit", read, s.topic_controls),
        topic("audit", read, s.topic_reviews),
        topic("audit", write, s.topic_anchors),
        groups("audit", "lodestone-audit"),
        # ERP systems: publish shipments, read their decisions
        topic("erp", write, s.topic_shipments),
        topic("erp", read, s.topic_decisions),
        groups("erp", "erp-"),
        # the licensing office publishes licences; the catalogue publisher the controls
        topic("licensing", write, s.topic_licenses),
        topic("catalogue", write, s.topic_controls),
        topic("catalogue", write, s.topic_parties),  # the controlled-party lists, likewise
        # operators watch decisions (``lodestone tail``) and follow the audit log's signed heads
        topic("operator", read, s.topic_decisions),
        topic("operator", read, s.topic_anchors),
        groups("operator", "lodestone-tail-"),
        # the web console: follows decisions (live view) and reviews without a group; the only
        # writer of reviews (a reviewer's release or confirmation)
        topic("console", read, s.topic_decisions),
        topic("console", read, s.topic_reviews),
        topic("console", write, s.topic_reviews),
    ]


def create_acls(bootstrap: str, admin_options: dict[str, str], acl_grants: list[Grant]) -> None:
    """Create ``acl_grants`` as ``admin`` (creating an existing ACL is a no-op in Kafka)."""
    from confluent_kafka.admin import (  # type: ignore[attr-defined]  # not in its __all__
        AclBinding,
        AclOperation,
        AclPermissionType,
        AdminClient,
        ResourcePatternType,
        ResourceType,
    )

    client = AdminClient({"bootstrap.servers": bootstrap, **admin_options})
    bindings = [
        AclBinding(
            ResourceType[g.resource_type],
            g.resource,
            ResourcePatternType.PREFIXED if g.prefixed else ResourcePatternType.LITERAL,
            f"User:{g.principal}",
            "*",
            AclOperation[g.operation],
            AclPermissionType.ALLOW,
        )
        for g in acl_grants
    ]
    for future in client.create_acls(bindings, request_timeout=15).values():
        future.result()
    _wait_until_applied(client, bindings)


def _wait_until_applied(client: Any, bindings: list[Any], timeout_s: float = 30.0) -> None:
    """Wait until the broker's authorizer lists every binding: the controller acknowledges the
    creation before the broker applies it, and a client refused in between (a service starting
    right after ``up``) would see a spurious authorisation error."""
    from confluent_kafka.admin import (  # type: ignore[attr-defined]  # not in its __all__
        AclBindingFilter,
        AclOperation,
        AclPermissionType,
        ResourcePatternType,
        ResourceType,
    )

    anything: Any = None  # a filter's None matches any name, principal or host (typed as str)
    every = AclBindingFilter(
        ResourceType.ANY,
        anything,
        ResourcePatternType.ANY,
        anything,
        anything,
        AclOperation.ANY,
        AclPermissionType.ANY,
    )
    wanted = set(bindings)
    deadline = time.monotonic() + timeout_s
    while True:
        listed = set(client.describe_acls(every, request_timeout=15).result())
        if wanted <= listed:
            return
        if time.monotonic() > deadline:
            missing = len(wanted - listed)
            raise RuntimeError(f"{missing} ACL(s) still not applied after {timeout_s:.0f} s")
        time.sleep(0.2)
