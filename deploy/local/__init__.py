"""The local runtime: Apache Kafka (single KRaft node) and PostgreSQL 15, without Docker.

Run it as ``python -m deploy.local up|down|status|reset|run`` (or ``make up`` …). Everything it
writes lives in the repository's git-ignored ``.local/`` folder, except the Kafka jars, which are
cached per version under ``${XDG_CACHE_HOME:-~/.cache}/lodestone/``.
"""

from deploy.local.config import RuntimeConfig
from deploy.local.runtime import Runtime, RuntimeState

__all__ = ["Runtime", "RuntimeConfig", "RuntimeState"]
