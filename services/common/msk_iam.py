"""OAUTHBEARER tokens for Amazon MSK IAM authentication (optional extra ``lodestone[msk-iam]``).

AWS's own signer (``aws-msk-iam-sasl-signer-python``) turns the process's AWS credentials (the
usual chain: environment, profile, instance or task role) into a short-lived token. A token is
kept until a minute before it expires, so that reconnecting clients do not sign anew each time.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiokafka.abc import AbstractTokenProvider

_REFRESH_MARGIN_MS = 60_000


class MskIamTokenProvider(AbstractTokenProvider):  # type: ignore[misc]
    """Signs MSK IAM tokens for ``region`` with the signer library, off the event loop."""

    def __init__(self, region: str | None) -> None:
        if not region:
            raise ValueError("aws-msk-iam needs LODESTONE_KAFKA_AWS_REGION")
        try:
            from aws_msk_iam_sasl_signer import MSKAuthTokenProvider
        except ImportError as exc:  # the optional extra is not installed
            raise ValueError(
                "aws-msk-iam needs the extra: pip install 'lodestone[msk-iam]'"
            ) from exc
        self._signer: Any = MSKAuthTokenProvider
        self._region = region
        self._token: str | None = None
        self._expires_ms = 0

    async def token(self) -> str:
        if self._token is None or time.time() * 1000 > self._expires_ms - _REFRESH_MARGIN_MS:
            token, expires_ms = await asyncio.to_thread(
                self._signer.generate_auth_token, self._region
            )
            self._token, self._expires_ms = str(token), int(expires_ms)
        return self._token
