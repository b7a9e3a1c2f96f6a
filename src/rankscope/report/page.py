"""The pieces of a report page: a section (findings, HTML parts, numbers), the figure writer that embeds
PNGs, and an HTML table."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from rankscope.report import figures as F


@dataclass
class Section:
    key: str
    title: str
    findings: list[str] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)


class Builder:
    def __init__(self, out_dir: Path) -> None:
        self.out = out_dir
        self.pngs: list[str] = []

    def figure(self, section: Section, name: str, fig: Figure, caption: str = "") -> None:
        path = self.out / f"{name}.png"
        F.save(fig, path)
        self.pngs.append(path.name)
        data = base64.b64encode(path.read_bytes()).decode()
        cap = f"<p class='meta'>{html.escape(caption)}</p>" if caption else ""
        section.parts.append(f"<img alt='{html.escape(name)}' src='data:image/png;base64,{data}'>{cap}")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(v: Any) -> str:
        if v is None:
            return "–"
        if isinstance(v, float | np.floating):
            return "nan" if v != v else f"{v:.4g}"
        return html.escape(str(v))

    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"
