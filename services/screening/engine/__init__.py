"""The screening engine: a pure, deterministic decision function over the control catalogue.

The screening service calls exactly this API; keep it stable.
"""

from services.screening.engine.decide import DECISION_NAMESPACE, decide, decision_id_for
from services.screening.engine.usage import UsageByOthers

__all__ = ["DECISION_NAMESPACE", "UsageByOthers", "decide", "decision_id_for"]
