"""Building output models without validation on the hot path.

The engine's inputs are validated models and its outputs are built from them, so validation
would only repeat work. ``build`` fills every field explicitly (no defaults are looked up), which
is several times cheaper than ``BaseModel.model_construct``.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)
_set_attr = object.__setattr__


def build(cls: type[M], fields_set: frozenset[str] | set[str], values: dict[str, Any]) -> M:
    """An instance of ``cls`` with exactly ``values`` (which must name every field)."""
    instance = cls.__new__(cls)
    _set_attr(instance, "__dict__", values)
    _set_attr(instance, "__pydantic_fields_set__", set(fields_set))
    _set_attr(instance, "__pydantic_extra__", None)
    _set_attr(instance, "__pydantic_private__", None)
    return instance
