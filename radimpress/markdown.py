"""Markdown rendering of small frames (reports, Prefect artifacts, MLflow files)."""

from __future__ import annotations

import polars as pl


def markdown_table(frame: pl.DataFrame, float_digits: int = 2) -> str:
    """A GitHub-flavoured Markdown table; floats rounded for reading, nulls shown as "-" (as the HTML pages do)."""

    def cell(value: object) -> str:
        if value is None:
            return "-"
        return f"{value:.{float_digits}f}" if isinstance(value, float) else str(value)

    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.iter_rows()]
    return "\n".join([header, rule, *rows])
