"""Figures with their targets; the one writer of the results (the printed table, the JSON
file and the Markdown page, all from the same figures of one run)."""

from __future__ import annotations

import json
import math
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.targets import Target


def _shown(value: float | None, unit: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    v = value
    if abs(v) >= 100 or v == int(v):
        text = f"{v:,.0f}"
    else:
        text = f"{v:.3g}"
    if unit == "x":
        return f"{text}x"
    return f"{text} {unit}".strip()


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
    why_missed: str = ""  # the target's reason, kept only when the target is missed
    litellm: float | None = None  # LiteLLM proxy's figure for the same measurement
    litellm_note: str = ""  # LiteLLM's figure was not measured: why

    def shown(self) -> str:
        return _shown(self.value, self.unit)

    def litellm_shown(self) -> str:
        if self.litellm is not None:
            return _shown(self.litellm, self.unit)
        return self.litellm_note


@dataclass
class Report:
    figures: list[Figure] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    steps: dict[str, str] = field(default_factory=dict)  # bench letter -> what it measures

    def add(
        self,
        bench: str,
        name: str,
        value: float | None,
        unit: str = "",
        *,
        target: Target | None = None,
        note: str = "",
        near_ceiling: bool = False,
        litellm: float | None = None,
        litellm_note: str = "",
    ) -> Figure:
        met = None if target is None else target.met(value)
        figure = Figure(
            bench,
            name,
            value,
            unit,
            target.text if target else "",
            met,
            note,
            near_ceiling,
            target.why_missed if (target is not None and not met) else "",
            litellm,
            litellm_note,
        )
        self.figures.append(figure)
        status = {True: "met", False: "MISSED", None: ""}[met]
        flag = " [near upstream ceiling]" if near_ceiling else ""
        side = f"  LiteLLM {figure.litellm_shown()}" if (litellm is not None or litellm_note) else ""
        print(f"  {bench:3} {name:62} {figure.shown():>14}  {figure.target:>12} {status}{flag}{side}", flush=True)
        if figure.why_missed:
            print(f"      why: {figure.why_missed}", flush=True)
        if note:
            print(f"      ({note})", flush=True)
        return figure

    # --- output -------------------------------------------------------------------------------

    def table(self) -> str:
        lines = [
            "| # | figure | value | target | | LiteLLM | why missed |",
            "|---|---|---|---|---|---|---|",
        ]
        for f in self.figures:
            status = {True: "met", False: "**missed**", None: ""}[f.met]
            if f.near_ceiling:
                status += " (within 10% of the upstream's ceiling)"
            note = f" ({f.note})" if f.note else ""
            lines.append(
                f"| {f.bench} | {_md(f.name)}{_md(note)} | {f.shown()} | {_md(f.target)} | {status} "
                f"| {_md(f.litellm_shown())} | {_md(f.why_missed)} |"
            )
        return "\n".join(lines)

    def markdown(self, data: dict[str, Any]) -> str:
        c = self.context
        met = sum(1 for f in self.figures if f.met is True)
        missed = sum(1 for f in self.figures if f.met is False)
        layout = (
            f"the service under test alone on CPU {c.get('service_cpu')}, the fake upstream and the load "
            f"generator on CPU {c.get('load_cpu')}"
            if c.get("pinned")
            else "one CPU (not pinned: the figures are less reliable)"
        )
        out = [
            "# Performance",
            "",
            f"Written by `{c.get('command', 'python -m bench')}` (`bench/report.py`; do not edit by hand) on "
            f"{data['generated_at']}: Python {data['machine']['python']}, {data['machine']['platform']}, "
            f"{c.get('cpus', '?')} CPUs, {layout}; database {c.get('database', '?')}; "
            f"code at {c.get('tree', '?')}; the bench's processes at nice {c.get('nice', 0)}. "
            f"The run took {c.get('seconds_total', '?')} s"
            + (" (quick: fewer rounds, a smoke run, not for the record)." if c.get("quick") else ".")
            + f" {met} targets met, {missed} missed.",
            "",
            "Every baseline runs in the same run, on the same core as the service, alternating with it; ratios "
            "and differences are taken per round and the median of the rounds is shown. The LiteLLM column is "
            f"LiteLLM's proxy measured the same way in the same run ({c.get('litellm', 'not run')}).",
            "",
        ]
        if c.get("loop_winner"):
            out += [
                f"Event loop and HTTP parser (a): {c['loop_winner']} costs less relay CPU per delta "
                "(the uvloop+httptools / asyncio+h11 row).",
                "",
            ]
        if self.steps:
            out += ["What each benchmark measures:", ""]
            out += [f"- **{k}.** {v}" for k, v in self.steps.items()]
            out.append("")
        out.append(self.table())
        if c.get("start_failures"):
            out += [
                "",
                "Processes that died while starting and were started once more (not a figure; worth a look):",
                "",
            ]
            out += [f"- `{_md(f)[:300]}`" for f in c["start_failures"]]
        if self.errors:
            out += ["", "Benchmarks that failed in this run:", ""]
            out += [f"- **{k}**: `{_md(v)}`" for k, v in self.errors.items()]
        out += [
            "",
            "Profiles: `BENCH_PROFILE=DIR bench/run --only a` writes py-spy samples of the service under test.",
            "",
        ]
        return "\n".join(out)

    def save(self, stem: Path) -> tuple[Path, Path]:
        """Write ``stem.json`` and ``stem.md``."""
        stem.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": {"python": platform.python_version(), "platform": platform.platform()},
            "context": self.context,
            "errors": self.errors,
            "figures": [asdict(f) for f in self.figures],
        }
        json_path, md_path = stem.with_suffix(".json"), stem.with_suffix(".md")
        json_path.write_text(json.dumps(data, indent=2, default=str) + "\n")
        md_path.write_text(self.markdown(data))
        return json_path, md_path


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")
