"""The EDA as Markdown (the Prefect artifact) and as a self-contained HTML page for radiologists.

The page is the jinja2 template `templates/eda.html.j2`, shipped with the package. Report text is untrusted (an
impression may hold `<script>`), so the template environment escapes every value it prints and nothing here marks
text safe. Plots travel inside the page as data: URIs, so it reads offline and moves as one file.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

import jinja2
import polars as pl
import polars.selectors as cs

from radimpress.data.eda.plots import PLOTS
from radimpress.data.eda.statistics import PHI_FREE, modality_overview, phi_found
from radimpress.markdown import markdown_table

# --- Markdown ---------------------------------------------------------------------------------------------------


def _headline(summary: dict[str, float]) -> list[str]:
    """The key numbers as sentences, for Markdown and HTML alike."""
    reasons = [(k.removeprefix("quarantine."), v) for k, v in summary.items() if k.startswith("quarantine.")]
    phi = [(k.removeprefix("phi."), v) for k, v in summary.items() if k.startswith("phi.") and v]
    placeholders = dict(phi).pop(PHI_FREE, 0)
    modalities = sorted(
        ((k.removesuffix(".reports"), n) for k, n in summary.items() if k.endswith(".reports")),
        key=lambda m: (-m[1], m[0]),
    )
    phi = [(category, n) for category, n in phi if category != PHI_FREE]
    return [
        f"Reports kept: {summary['reports_kept']:,}; quarantined: {summary['reports_quarantined']:,}.",
        f"Modalities: {summary['modalities']} ({', '.join(f'{m} {n:,}' for m, n in modalities)}).",
        f"Templated normal impressions: {summary['templated_normal_share']:.1%} of kept reports.",
        "Quarantine by reason: " + (", ".join(f"{r} {n:,}" for r, n in reasons) or "none") + ".",
        f"PHI matches found by the regex screen: {summary['phi_matches']:,}"
        + (" (reports with a match per category: " + ", ".join(f"{c} {n:,}" for c, n in phi) + ")." if phi else "."),
        f"De-identification placeholders already in the text (such as XXXX): {placeholders:,} report fields.",
    ]


def _escape_pipes(frame: pl.DataFrame) -> pl.DataFrame:
    """Report text may hold `|`, which would split a Markdown table cell."""
    return frame.with_columns(cs.string().str.replace_all("|", r"\|", literal=True))


def render_markdown(
    summary: dict[str, float], tables: dict[str, pl.DataFrame], reasons: pl.DataFrame, phi: pl.DataFrame
) -> str:
    """The Prefect artifact: key numbers first, then every table; plots referenced by file name."""
    sections = {
        "Per modality": modality_overview(tables),
        "Quarantined rows by reason": reasons,
        "PHI found per column and category": phi_found(phi),
        "Word counts per section and modality": tables["word_counts"],
        "Length outliers (present sections)": tables["outliers"],
        "Missing or blank values": _missing_wide(tables["missing"]),
        "Reports per modality and body part": tables["modality_counts"],
        "Most common impressions (PHI redacted)": tables["top_impressions"],
        "Most common phrases of impressions": tables["top_ngrams"],
        "Templated normal impressions": tables["templated_normal"],
        "Vocabulary (distinct words)": tables["vocabulary"],
        "Text outside the kept fields (other_sections)": tables["other_sections"],
    }
    if "split_overlap" in tables:
        sections["What of validation and test also occurs in train"] = tables["split_overlap"]
    lines = ["# EDA", "", *_headline(summary)]
    for title, table in sections.items():
        lines += ["", f"## {title}", markdown_table(_escape_pipes(table)) if table.height else "None."]
    lines += ["", "## Plots", *(f"![{caption}]({name})" for name, caption in PLOTS.items())]
    return "\n".join(lines) + "\n"


def _missing_wide(missing: pl.DataFrame) -> pl.DataFrame:
    """Missing or blank values as one row per modality, one column per report column."""
    return missing.pivot(on="column", index=["modality", "reports"], values="missing", sort_columns=False)


# --- HTML -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HtmlCell:
    """One table cell as the page shows it, not yet escaped; numbers are right-aligned."""

    text: str
    number: bool = False


@dataclass(frozen=True)
class HtmlTable:
    """A frame as the template's `table` macro takes it: column titles and rows of cells."""

    columns: list[str]
    rows: list[list[HtmlCell]]


def _cell(column: str, value: object) -> HtmlCell:
    """One value as text: integers with thousands separators, floats to one decimal, shares as percentages."""
    if value is None:
        return HtmlCell("-")
    if isinstance(value, float):
        return HtmlCell(f"{value:.1%}" if column.endswith("share") else f"{value:,.1f}", number=True)
    if isinstance(value, int):
        return HtmlCell(f"{value:,}", number=True)
    return HtmlCell(str(value))


def html_table(frame: pl.DataFrame) -> HtmlTable:
    """A frame as an `HtmlTable`; column names read with spaces for underscores."""
    rows = [[_cell(c, v) for c, v in zip(frame.columns, row, strict=True)] for row in frame.iter_rows()]
    return HtmlTable([c.replace("_", " ") for c in frame.columns], rows)


def png_data_uri(path: Path) -> str:
    """A PNG as a data: URI, so the page needs no file beside it."""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _facts(summary: dict[str, float]) -> dict[str, str]:
    """The headline box's big numbers, by label."""
    return {
        "reports kept": f"{summary['reports_kept']:,}",
        "modalities": f"{summary['modalities']:,}",
        "templated normal impressions": f"{summary['templated_normal_share']:.1%}",
        "rows quarantined": f"{summary['reports_quarantined']:,}",
        "PHI matches found": f"{summary['phi_matches']:,}",
    }


def _environment() -> jinja2.Environment:
    """The templates of this package. Autoescape is on for every template, whatever its name: `select_autoescape`
    goes by the last suffix, and `.j2` would turn it off."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("radimpress.data.eda", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a misspelt name fails the render instead of leaving a blank
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_html(
    summary: dict[str, float],
    tables: dict[str, pl.DataFrame],
    reasons: pl.DataFrame,
    phi: pl.DataFrame,
    plots: dict[str, Path],
) -> str:
    """A self-contained page: the headline box first, then plots and tables per topic; all text escaped.

    Args:
        summary: `eda_summary` of the tables.
        tables: the `eda_statistics` tables (text withheld or not).
        reasons: `quarantine_reasons` of the quarantined rows.
        phi: `phi.phi_counts` of the ingested reports.
        plots: every PNG of `PLOTS`, by file name, as `write_plots` returns them.
    """
    shown = tables | {
        "overview": modality_overview(tables),
        "missing_wide": _missing_wide(tables["missing"]),
        "quarantine": reasons,
        "phi": phi_found(phi),
    }
    template = _environment().get_template("eda.html.j2")
    return template.render(
        facts=_facts(summary),
        headline=_headline(summary),
        tables={name: html_table(table) for name, table in shown.items()},
        figures={name: {"caption": PLOTS[name], "src": png_data_uri(path)} for name, path in plots.items()},
    )
