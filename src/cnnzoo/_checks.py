"""What a value should have been, for the plain types that options and recipe fields take.

Values reach these from the command line as JSON or plain strings (``--option``, ``--set``),
so ``"maybe"`` must not pass as a bool, ``"abc"`` as a list, nor ``nan`` as a number."""

from __future__ import annotations

import math
import typing

__all__ = ["type_problem", "hint_problem", "describe", "some", "seed_value", "python_value", "check_flag",
           "check_flag_or_auto", "int_at_least", "positive_int", "fraction", "check_choice", "check_chw", "check_hw",
           "SettingWarning"]

_EXPECTED = {bool: "true or false", int: "an integer", float: "a finite number", str: "a string",
             dict: 'a JSON object, e.g. {"dropout": 0.5}', list: "a JSON array"}


def type_problem(value, kind: type) -> str | None:
    """``None`` if ``value`` is a ``kind`` (an int counts as a float, a bool as neither), else
    what it should have been; kinds other than these six are not judged."""
    if kind not in _EXPECTED:
        return None
    if kind in (int, float) and isinstance(value, bool):
        ok = False
    elif kind is float:
        ok = isinstance(value, (int, float)) and math.isfinite(value)
    else:
        ok = isinstance(value, kind)
    return None if ok else _EXPECTED[kind]


def hint_problem(value, hint) -> str | None:
    """:func:`type_problem` for a dataclass field's type ``hint``, with optional fields
    (``X | None``) and lists (``tuple[float, ...]``, ``tuple[float, float]``) too."""
    if hint is object:
        return None
    args = typing.get_args(hint)
    if type(None) in args:  # an optional field
        if value is None:
            return None
        (hint,) = [a for a in args if a is not type(None)]
        problem = hint_problem(value, hint)
        return problem and f"{problem} or null"
    origin = typing.get_origin(hint) or hint
    if origin is tuple:
        item_hint, *rest = typing.get_args(hint)
        length = None if rest == [Ellipsis] else 1 + len(rest)
        kind = "integers" if item_hint is int else "finite numbers"
        if (not isinstance(value, (list, tuple)) or (length and len(value) != length)
                or any(hint_problem(v, item_hint) for v in value)):
            return f"a list of {length} {kind}" if length else f"a list of {kind}, e.g. [30, 60]"
        return None
    return type_problem(value, origin)


def describe(value) -> str:
    """A wrong argument for a message: its type, and the start of its value (a module's repr,
    which runs over many lines, is left out)."""
    from torch import nn

    if isinstance(value, nn.Module):
        return type(value).__name__
    return f"{type(value).__name__} {value!r:.60}"


def some(names, limit: int = 5) -> str:
    """Up to ``limit`` of ``names`` for a message, and how many more there are."""
    names = [str(n) for n in names]
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def seed_value(seed) -> int:
    """``seed`` as an int for torch.manual_seed: any integer, numpy's too (a sweep over
    np.arange), from 0 to 2**63 - 1; a float, a bool or a larger number is refused by name
    (torch's own word for 2**64 is "Overflow when unpacking long long")."""
    import operator

    try:
        value = None if isinstance(seed, bool) else operator.index(seed)
    except TypeError:
        value = None
    if value is None or not 0 <= value < 2**63:
        raise ValueError(f"seed must be an integer from 0 to 2**63 - 1, got {seed!r}")
    return value


def python_value(value):
    """A numpy scalar or a one-number tensor as the Python value it holds (``np.int64(10)`` →
    ``10``: a sweep over ``np.arange`` passes them), anything else as it is; options and
    settings are written as JSON, which takes Python's own numbers only."""
    if type(value).__module__.split(".")[0] in ("numpy", "torch") and getattr(value, "ndim", None) == 0:
        return value.item()
    return value


def check_flag(value, name: str) -> bool:
    """``value`` if it is True or False (numpy's too), else one clear error: a string such as
    ``"no"`` is truthy, and would silently mean yes."""
    value = python_value(value)
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {describe(value)}")
    return value


def check_flag_or_auto(value, name: str) -> bool | str:
    """``value`` if it is True, False or ``"auto"`` (numpy's bools too; 1 or ``"yes"`` are not)."""
    value = python_value(value)
    if not isinstance(value, bool) and value != "auto":
        raise ValueError(f"{name} must be True, False or 'auto', got {describe(value)}")
    return value


def int_at_least(value, name: str, minimum: int) -> int:
    """``value`` if it is an integer (numpy's too; not a bool) ≥ ``minimum``, else one clear error."""
    number = python_value(value)
    if isinstance(number, bool) or not isinstance(number, int) or number < minimum:
        expected = "a positive integer" if minimum == 1 else f"an integer ≥ {minimum}"
        raise ValueError(f"{name} must be {expected}, got {describe(value)}")
    return number


def positive_int(value, name: str) -> int:
    return int_at_least(value, name, 1)


def fraction(value, name: str) -> float:
    """``value`` if it is a number from 0 to less than 1 (numpy's too; not a bool), else one clear
    error: a dropout, a sparsity or a share of the data (1 would drop, prune or hold out all)."""
    number = python_value(value)
    if isinstance(number, bool) or not isinstance(number, (int, float)) or not 0 <= number < 1:
        raise ValueError(f"{name} must be a number in [0, 1), got {describe(value)}")
    return number


def check_choice(value, name: str, choices) -> None:
    """One clear error for a ``value`` that is none of ``choices`` (names of a kind, such as a
    shortcut type or an interpolation)."""
    if isinstance(value, (list, dict)) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {describe(value)}")


def _positive_ints(value, name: str, what: str, example: tuple) -> tuple:
    """``value`` as ``len(example)`` positive Python ints, else one clear error."""
    try:
        values = [python_value(v) for v in value]
    except TypeError:  # not a sequence
        values = []
    if len(values) != len(example) or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in values):
        count = {2: "two", 3: "three"}[len(example)]
        raise ValueError(f"{name} must be {what}, {count} positive integers such as {example}, "
                         f"got {describe(value)}")
    return tuple(values)


def check_chw(value, name: str) -> tuple[int, int, int]:
    """``value`` as the C×H×W of an input, three positive Python ints, else one clear error."""
    return _positive_ints(value, name, "C×H×W", (3, 224, 224))


def check_hw(value, name: str) -> tuple[int, int]:
    """``value`` as an image's H×W, two positive Python ints, else one clear error."""
    return _positive_ints(value, name, "H×W", (224, 224))


class SettingWarning(UserWarning):
    """A setting that works, but probably not as meant (more threads than cores, a batch larger
    than the dataset); the command line shows it as a note."""
