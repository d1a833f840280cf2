"""A target: the bound a figure must meet, and the one-line reason the page prints when it
is missed. Each benchmark defines its targets next to the code that measures them; the
reason is text about the cause, never a figure (the figures come from the run)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    text: str  # as shown: "<= 60 us", ">= 0.6x", "all"
    check: Callable[[float], bool]
    why_missed: str = ""

    def met(self, value: float | None) -> bool:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return False
        return bool(self.check(value))


def at_most(bound: float, unit: str = "", why_missed: str = "") -> Target:
    return Target(f"<= {bound:g}{_unit(unit)}", lambda v: v <= bound, why_missed)


def at_least(bound: float, unit: str = "", why_missed: str = "") -> Target:
    return Target(f">= {bound:g}{_unit(unit)}", lambda v: v >= bound, why_missed)


def equal(expected: float, text: str | None = None, why_missed: str = "", tolerance: float = 1e-9) -> Target:
    return Target(text or f"= {expected:g}", lambda v: abs(v - expected) <= tolerance, why_missed)


def all_of(total: int, why_missed: str = "") -> Target:
    return Target(f"all {total:,}", lambda v: v == total, why_missed)


def _unit(unit: str) -> str:
    if not unit:
        return ""
    return unit if unit == "x" else f" {unit}"
