"""Reading JSON that comes from outside: one parser, one set of rules, for every topic and the CLI.

The contract's input rules (CONTRACT.md, "v1 additions") that belong to the JSON text itself,
rather than to a field, are enforced here:

- a number is read exactly as written: ``1000.0000000000000001`` becomes that ``Decimal``, never
  a binary float that rounds it to ``1000.0``;
- duplicate keys are an error (``{"country": "US", "country": "KP"}`` would otherwise silently
  become ``KP``);
- ``NaN`` and ``Infinity`` are not JSON and are refused;
- nesting is bounded (the parser refuses past a fixed depth instead of exhausting the stack), and
  so are integer literals (thousands of digits are refused, never converted);
- lone UTF-16 surrogates (``"\\ud800"``) are refused: no database or UTF-8 encoder can store them;
- **one BOM policy**: a single leading UTF-8 byte order mark is ignored, everywhere (RFC 8259
  §8.1 lets a parser ignore it; Windows tools write one). A BOM anywhere else is an error.

Parsing is done by ``jiter`` (the JSON parser of pydantic-core, as a library) which does all of
the above natively and about as fast as orjson.
"""

from __future__ import annotations

import jiter

_BOM = b"\xef\xbb\xbf"


class JsonInputError(ValueError):
    """The text is not JSON that Lodestone accepts; the message says why and where."""


def loads_strict(data: bytes | str) -> object:
    """Parse ``data`` under the input rules above; raises :class:`JsonInputError` only.

    Never raises anything else for any input: every failure of the parser (including ones no
    rule above foresaw) becomes a :class:`JsonInputError`, so a caller that handles it handles
    every malformed record.
    """
    if isinstance(data, str):
        try:
            data = data.encode("utf-8")
        except UnicodeEncodeError as exc:  # a str holding lone surrogates
            raise JsonInputError(f"not valid Unicode text: {exc.reason}") from exc
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    try:
        return jiter.from_json(
            data,
            allow_inf_nan=False,
            catch_duplicate_keys=True,
            float_mode="decimal",
            cache_mode="keys",
        )
    except Exception as exc:  # jiter raises ValueError; anything else is still bad input
        raise JsonInputError(str(exc) or type(exc).__name__) from exc
