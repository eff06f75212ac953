"""KRaft cluster ids that the storage tool accepts."""

from __future__ import annotations

import base64
import uuid
from unittest import mock

from deploy.local.kafka import new_cluster_id


def test_cluster_id_is_22_url_safe_characters() -> None:
    for _ in range(200):
        cluster_id = new_cluster_id()
        assert len(cluster_id) == 22
        assert base64.urlsafe_b64decode(cluster_id + "==")
        assert not cluster_id.startswith("-")


def test_an_id_starting_with_a_dash_is_drawn_again() -> None:
    dash = uuid.UUID(bytes=base64.urlsafe_b64decode("-" + "A" * 21 + "=="))
    plain = uuid.UUID(int=1)
    with mock.patch("deploy.local.kafka.uuid.uuid4", side_effect=[dash, plain]):
        assert new_cluster_id() == base64.urlsafe_b64encode(plain.bytes).decode().rstrip("=")
