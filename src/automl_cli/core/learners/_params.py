"""Hyperparameter checks with scikit-learn's wording, run at ``fit`` (conventions.md §1).

A learner declares ``{name: [constraint, ...]}``; a value passes when any constraint accepts
it. The message reads "The 'x' parameter of Y must be … Got … instead." so a bad value from
a config file or a search space is reported the same way scikit-learn users know.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Protocol

from automl_cli.errors import UsageError

__all__ = ["Boolean", "Constraint", "Interval", "InvalidParameterError", "Options", "validate"]


class InvalidParameterError(UsageError, ValueError):
    """A hyperparameter outside what the learner accepts (also a ``ValueError``, as in sklearn)."""

    default_hint = "fix the hyperparameter; each family's search space shows sensible values"


class Constraint(Protocol):
    def accepts(self, value: Any) -> bool: ...

    def __str__(self) -> str: ...


def _fmt(bound: float | None, kind: type, low: bool) -> str:
    if bound is None:
        return "-inf" if low else "inf"
    return str(int(bound)) if kind is int else str(float(bound))


@dataclass(frozen=True)
class Interval:
    """A number of type ``kind`` (int or float) between ``low`` and ``high``."""

    kind: type
    low: float | None
    high: float | None
    closed: str = "both"  # both | left | right | neither

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return False
        if self.kind is int and not isinstance(value, numbers.Integral):
            return False
        x = float(value)
        if math.isnan(x):
            return False
        if self.low is not None and (
            x < self.low or (x == self.low and self.closed in ("right", "neither"))
        ):
            return False
        return self.high is None or not (
            x > self.high or (x == self.high and self.closed in ("left", "neither"))
        )

    def __str__(self) -> str:
        left = "[" if self.closed in ("both", "left") and self.low is not None else "("
        right = "]" if self.closed in ("both", "right") and self.high is not None else ")"
        what = "an int" if self.kind is int else "a float"
        low, high = _fmt(self.low, self.kind, True), _fmt(self.high, self.kind, False)
        return f"{what} in the range {left}{low}, {high}{right}"


@dataclass(frozen=True)
class Options:
    """One of a fixed set of values (compared with their type, so ``True`` is not ``1``)."""

    values: tuple[Any, ...]

    def accepts(self, value: Any) -> bool:
        return any(type(value) is type(v) and value == v for v in self.values)

    def __str__(self) -> str:
        kinds = {type(v) for v in self.values}
        listed = ", ".join(repr(v) for v in self.values)
        if kinds == {str}:
            return f"a str among {{{listed}}}"
        return f"one of {{{listed}}}"


@dataclass(frozen=True)
class Boolean:
    """A Python or NumPy bool."""

    def accepts(self, value: Any) -> bool:
        return isinstance(value, bool) or type(value).__name__ == "bool_"

    def __str__(self) -> str:
        return "an instance of 'bool'"


def describe(rules: list[Constraint]) -> str:
    texts = [str(r) for r in rules]
    return texts[0] if len(texts) == 1 else ", ".join(texts[:-1]) + " or " + texts[-1]


def fail(owner: str, name: str, expected: str, value: Any) -> InvalidParameterError:
    """The error for one bad value; ``expected`` completes "must be …"."""
    return InvalidParameterError(
        f"The {name!r} parameter of {owner} must be {expected}. Got {value!r} instead."
    )


def validate(owner: str, params: dict[str, Any], constraints: dict[str, list[Constraint]]) -> None:
    """Raise :class:`InvalidParameterError` for the first parameter no constraint accepts."""
    for name, rules in constraints.items():
        value = params[name]
        if not any(rule.accepts(value) for rule in rules):
            raise fail(owner, name, describe(rules), value)
