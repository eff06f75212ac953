"""OAUTHBEARER token providers for the test broker's unsecured-JWT listener.

The tokens are unsigned (``alg: none``): only Kafka's unsecured validator, which the local test
broker runs on a listener of its own, accepts them. They exercise the
``LODESTONE_KAFKA_OAUTH_TOKEN_PROVIDER`` hook end to end, as the MSK IAM provider uses it.
"""

from __future__ import annotations

import base64
import json
import time

from aiokafka.abc import AbstractTokenProvider


def _segment(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


class UnsignedTokenProvider(AbstractTokenProvider):  # type: ignore[misc]
    """Tokens whose subject (the Kafka principal) is ``subject``."""

    def __init__(self, subject: str) -> None:
        self.subject = subject
        self.issued = 0

    async def token(self) -> str:
        self.issued += 1
        now = int(time.time())
        claims = {"sub": self.subject, "iat": now, "exp": now + 3600}
        return f"{_segment({'alg': 'none'})}.{_segment(claims)}."


def erp() -> UnsignedTokenProvider:
    return UnsignedTokenProvider("erp")
