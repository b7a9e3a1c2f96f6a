"""Report: matplotlib figures and one self-contained HTML page for a training run or a sweep."""

from __future__ import annotations

from rankscope.report.html import write_report

__all__ = ["write_report"]
