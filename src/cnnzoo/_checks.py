"""What a value should have been, for the plain types that options and recipe fields take.

Values reach these from the command line as JSON or plain strings (``--option``, ``--set``),
so ``"maybe"`` must not pass as a bool, ``"abc"`` as a list, nor ``nan`` as a number."""

from __future__ import annotations

import math

__all__ = ["type_problem"]

_EXPECTED = {bool: "true or false", int: "an integer", float: "a finite number", str: "a string",
             dict: 'a JSON object, e.g. {"dropout": 0.5}'}


def type_problem(value, kind: type) -> str | None:
    """``None`` if ``value`` is a ``kind`` (an int counts as a float, a bool as neither), else
    what it should have been; kinds other than these five are not judged."""
    if kind not in _EXPECTED:
        return None
    if kind in (int, float) and isinstance(value, bool):
        ok = False
    elif kind is float:
        ok = isinstance(value, (int, float)) and math.isfinite(value)
    else:
        ok = isinstance(value, kind)
    return None if ok else _EXPECTED[kind]
