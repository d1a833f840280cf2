"""Figures with their targets, the printed table and the JSON file."""

from __future__ import annotations

import json
import math
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Figure:
    bench: str
    name: str
    value: float | None
    unit: str
    target: str = ""
    met: bool | None = None  # None: no target (context figure)
    note: str = ""
    near_ceiling: bool = False  # within 10% of what the upstream/load generator itself can do

    def shown(self) -> str:
        if self.value is None or (isinstance(self.value, float) and math.isnan(self.value)):
            return "n/a"
        v = self.value
        if abs(v) >= 100 or v == int(v):
            return f"{v:,.0f} {self.unit}".strip()
        return f"{v:.3g} {self.unit}".strip()


@dataclass
class Report:
    figures: list[Figure] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def add(
        self,
        bench: str,
        name: str,
        value: float | None,
        unit: str = "",
        *,
        target: str = "",
        ok: bool | None = None,
        note: str = "",
        near_ceiling: bool = False,
    ) -> Figure:
        if value is not None and isinstance(value, float) and math.isnan(value):
            ok = None if ok is None else False
        figure = Figure(bench, name, value, unit, target, ok, note, near_ceiling)
        self.figures.append(figure)
        status = {True: "met", False: "MISSED", None: ""}[ok]
        flag = " [near upstream ceiling]" if near_ceiling else ""
        print(f"  {bench:3} {name:58} {figure.shown():>16}  {target:>18} {status}{flag}", flush=True)
        return figure

    def table(self) -> str:
        lines = ["| # | figure | value | target | |", "|---|---|---|---|---|"]
        for f in self.figures:
            status = {True: "met", False: "**missed**", None: ""}[f.met]
            if f.near_ceiling:
                status += " (within 10% of the upstream's ceiling)"
            note = f" ({f.note})" if f.note else ""
            lines.append(f"| {f.bench} | {f.name}{note} | {f.shown()} | {f.target} | {status} |")
        return "\n".join(lines)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": {"python": platform.python_version(), "platform": platform.platform()},
            "context": self.context,
            "errors": self.errors,
            "figures": [asdict(f) for f in self.figures],
        }
        path.write_text(json.dumps(data, indent=2, default=str) + "\n")
