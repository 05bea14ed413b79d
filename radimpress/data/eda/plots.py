"""The EDA plots: matplotlib figures of the `statistics` tables, each saved as a PNG and returned as its path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from radimpress.data.eda.statistics import SECTIONS, phi_found

PLOTS = {  # file -> caption
    "word_counts.png": "Words per report, by section and modality",
    "section_lengths.png": "Section lengths per modality",
    "top_impressions.png": "Most common impressions of the largest modality",
    "quarantine.png": "Quarantined rows by reason",
    "phi.png": "PHI found per category and column",
}


def write_plots(
    tables: dict[str, pl.DataFrame], lengths: pl.DataFrame, reasons: pl.DataFrame, phi: pl.DataFrame, out_dir: Path
) -> dict[str, Path]:
    """Every plot of `PLOTS` as a PNG in `out_dir`, by file name."""
    largest = tables["templated_normal"].sort(["reports", "modality"], descending=[True, False])["modality"]
    return {
        "word_counts.png": plot_word_counts(lengths, out_dir / "word_counts.png"),
        "section_lengths.png": plot_section_lengths(lengths, out_dir / "section_lengths.png"),
        "top_impressions.png": plot_top_impressions(
            tables["top_impressions"], largest.first(), out_dir / "top_impressions.png"
        ),
        "quarantine.png": plot_quarantine(reasons, out_dir / "quarantine.png"),
        "phi.png": plot_phi(phi, out_dir / "phi.png"),
    }


def _pyplot():
    """matplotlib's pyplot on the Agg backend: workers have no display. Imported late: it is slow to import."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure, path: Path) -> Path:
    """Lay out, write and close `figure`: pyplot keeps every open figure in memory."""
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    _pyplot().close(figure)
    return path


def _title(section: str) -> str:
    """`clinical_information` -> `Clinical information`."""
    return section.replace("_", " ").capitalize()


def _by_modality(lengths: pl.DataFrame, section: str) -> dict[str, np.ndarray]:
    """Words per report of one section, per modality in name order (so colours follow the same order everywhere)."""
    frame = lengths.filter(pl.col("section") == section)
    parts = frame.partition_by("modality", as_dict=True, include_key=False)
    return {key[0]: part["words"].to_numpy() for key, part in sorted(parts.items())}


def plot_word_counts(lengths: pl.DataFrame, path: Path) -> Path:
    """One histogram per section, one line per modality, over the reports that have the section; each modality's
    bars sum to 1 so small ones show, and its legend entry gives the share of reports without the section."""
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(SECTIONS), figsize=(5 * len(SECTIONS), 4), squeeze=False)
    for axis, section in zip(axes[0], SECTIONS, strict=True):
        every = _by_modality(lengths, section)
        present = lengths.filter((pl.col("section") == section) & (pl.col("words") > 0))
        upper = int(present["words"].quantile(0.99, "nearest") or 0) + 1
        step = -(-upper // 30)  # about 30 bins, each a whole number of words wide
        for modality, words in every.items():
            missing = float(np.mean(words == 0))
            words = words[words > 0]
            if not len(words):
                continue
            axis.hist(
                words,
                bins=range(0, upper + step, step),
                weights=np.full(len(words), 1 / len(words)),
                histtype="step",
                linewidth=1.5,
                label=f"{modality} (n={len(words):,}, {missing:.0%} missing)",
            )
        axis.set_title(f"{_title(section)} (up to the 99th percentile)")
        axis.set_xlabel("words per report, where present")
        axis.set_ylabel("share of the modality's reports with it")
        if axis.get_legend_handles_labels()[0]:
            axis.legend(title="modality", fontsize="small")
    return _save(figure, path)


def plot_section_lengths(lengths: pl.DataFrame, path: Path) -> Path:
    """Box plots of section length per modality, present sections only; whiskers at the 5th and 95th percentile."""
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(SECTIONS), figsize=(5 * len(SECTIONS), 4), squeeze=False)
    present = lengths.filter(pl.col("words") > 0)
    for axis, section in zip(axes[0], SECTIONS, strict=True):
        groups = _by_modality(present, section)
        if groups:
            axis.boxplot(list(groups.values()), tick_labels=list(groups), whis=(5, 95), showfliers=False)
        axis.set_title(f"{_title(section)} where present")
        axis.set_xlabel("modality")
        axis.set_ylabel("words per report")
        axis.tick_params(axis="x", labelrotation=30)
    figure.suptitle("Section length per modality (box: quartiles, whiskers: 5th-95th percentile)")
    return _save(figure, path)


def _bar_labels(texts: list[str], width: int = 60) -> list[str]:
    """Long labels cut to `width` characters so the bars keep their room."""
    return [text if len(text) <= width else text[: width - 1] + "…" for text in texts]


def plot_top_impressions(top: pl.DataFrame, modality: str | None, path: Path) -> Path:
    """Horizontal bars of one modality's most common (redacted) impressions, the most common on top."""
    plt = _pyplot()
    rows = top.filter(pl.col("modality") == modality).sort("rank", descending=True)
    figure, axis = plt.subplots(figsize=(10, 0.4 * max(rows.height, 3) + 1.5))
    bars = axis.barh(_bar_labels(rows["impression"].to_list()), rows["count"].to_list(), color="tab:blue")
    axis.bar_label(bars, labels=[f" {share:.1%}" for share in rows["share"]], fontsize=8)
    axis.set_title(f"Most common impressions: {modality} (share of its reports)")
    axis.set_xlabel("reports")
    axis.set_ylabel("normalised impression (PHI redacted)")
    return _save(figure, path)


def plot_quarantine(reasons: pl.DataFrame, path: Path) -> Path:
    """Bars of quarantined rows per reason."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(8, 0.4 * max(reasons.height, 3) + 1.5))
    bars = axis.barh(reasons["reason"].to_list()[::-1], reasons["rows"].to_list()[::-1], color="tab:red")
    axis.bar_label(bars, fmt=" {:,.0f}", fontsize=8)
    if reasons.is_empty():
        axis.text(0.5, 0.5, "no row was quarantined", ha="center", va="center", transform=axis.transAxes)
    axis.set_title(f"Quarantined rows by reason ({reasons['rows'].sum():,} in all)")
    axis.set_xlabel("quarantined rows")
    axis.set_ylabel("reason")
    return _save(figure, path)


def plot_phi(phi: pl.DataFrame, path: Path) -> Path:
    """Grouped bars: reports with a PHI match per category, one bar per text column."""
    plt = _pyplot()
    found = phi_found(phi)
    categories = sorted(found["category"].unique().to_list())
    columns = sorted(found["column"].unique().to_list())
    figure, axis = plt.subplots(figsize=(8, 4))
    width = 0.8 / max(len(columns), 1)
    for i, column in enumerate(columns):
        counts = dict(found.filter(pl.col("column") == column).select("category", "reports").iter_rows())
        xs = [c + i * width for c in range(len(categories))]
        axis.bar(xs, [counts.get(c, 0) for c in categories], width=width, label=column)
    axis.set_xticks([c + 0.4 - width / 2 for c in range(len(categories))], categories)
    if columns:
        axis.legend(title="column")
    else:
        axis.text(0.5, 0.5, "no PHI found by the regex screen", ha="center", va="center", transform=axis.transAxes)
    axis.set_title("PHI found per category and column (before redaction)")
    axis.set_xlabel("PHI category")
    axis.set_ylabel("reports with a match")
    return _save(figure, path)
