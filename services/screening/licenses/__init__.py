"""Pure licence matching: item scope, validity, destinations, end users and quantity caps."""

from services.screening.licenses.matching import Verdict, check, in_item_scope, preference

__all__ = ["Verdict", "check", "in_item_scope", "preference"]
