"""Exploratory data analysis per modality, as the study did it and a little further.

The package owns the EDA stage, from kept reports to the files it writes:

- `statistics`: the tables, in polars (section lengths, word counts, outliers, missing values, reports per modality
  and body part, the most common impressions and phrases, templated normals, vocabulary) and the flat summary;
- `plots`: the matplotlib figures of those tables, as PNGs;
- `render`: the Markdown artifact and the self-contained HTML page, a jinja2 template that escapes all report text.

`run_eda` writes them all and is what the stage calls. Report text that is shown goes through `phi.redact_expr` first.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from radimpress.data.eda.plots import write_plots
from radimpress.data.eda.render import render_html, render_markdown
from radimpress.data.eda.statistics import (
    NORMAL,
    NOT_NORMAL,
    SECTIONS,
    SENTENCE_BREAK,
    STOP_WORDS,
    WITHHELD,
    WORD,
    conform,
    eda_statistics,
    eda_summary,
    quarantine_reasons,
    section_lengths,
    withhold_text,
)
from radimpress.files import write_json

# What callers reach through the package: the stage (`run_eda`), bench/data.py (the patterns, `eda_statistics`), tests.
__all__ = [
    "NORMAL",
    "NOT_NORMAL",
    "SECTIONS",
    "SENTENCE_BREAK",
    "STOP_WORDS",
    "WITHHELD",
    "WORD",
    "eda_statistics",
    "run_eda",
]


def run_eda(
    reports: pl.DataFrame | pl.LazyFrame,
    quarantine: pl.DataFrame,
    phi: pl.DataFrame,
    out_dir: Path,
    show_text: bool = True,
    overlap: pl.DataFrame | None = None,
) -> Path:
    """Write the EDA of the kept reports into `out_dir` and return it.

    Writes one CSV per `eda_statistics` table, the PNG plots of `plots.PLOTS`, `eda.md` (the Prefect artifact),
    `eda.html` (self-contained, for radiologists) and `summary.json` (flat metrics for MLflow).

    Args:
        reports: the kept reports.
        quarantine: the rejected rows with their `reason`.
        phi: `phi.phi_counts` of the ingested reports (column, category, reports, matches).
        out_dir: the folder to write into; created if missing.
        show_text: False replaces the text of the common impressions and phrases by a placeholder (their counts
            and shares stay), for profiles that let no report text into artifacts.
        overlap: per modality and split, what of validation and test also occurs in train (`split_overlap.csv`).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = eda_statistics(reports)
    if not show_text:
        tables = withhold_text(tables)
    if overlap is not None:
        tables = tables | {"split_overlap": overlap}
    for name, table in tables.items():
        table.write_csv(out_dir / f"{name}.csv")
    reasons = quarantine_reasons(quarantine)
    lengths = section_lengths(conform(reports)).collect()
    plots = write_plots(tables, lengths, reasons, phi, out_dir)
    summary = eda_summary(tables, reasons, phi)
    (out_dir / "eda.md").write_text(render_markdown(summary, tables, reasons, phi))
    (out_dir / "eda.html").write_text(render_html(summary, tables, reasons, phi, plots))
    write_json(summary, out_dir / "summary.json")
    return out_dir
