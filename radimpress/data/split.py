"""Deterministic train / validation / test split that never puts one patient, or one text, in two splits.

Each report's split depends only on its unit and the seed. A unit joins the reports that must stay together: a
patient's (else a study's, else the report itself), and every report whose normalised (findings, impression)
text is identical, across patients, so an exact copy never sits in train while its twin is tested. Editing or
adding one report moves no other patient unless it makes two texts identical (the other splits' files, and their
caches, stay unchanged). Splitting each modality's dataset separately stratifies by modality; a patient with
reports in two modalities still lands in the same split in both, since the unit decides.
"""

from __future__ import annotations

import hashlib

import polars as pl

from radimpress.config import SplitConfig

SPLITS = ("train", "validation", "test")


def _unit_interval(report_id: str, seed: int) -> float:
    digest = hashlib.sha256(f"{seed}:{report_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_group(reports: pl.DataFrame) -> pl.Series:
    """What must stay together: the patient, else the study, else the report itself.

    A study whose patient id is missing on some rows takes it from its other rows, so the study stays in one
    piece; blank ids count as missing (else every blank row would form one giant "patient").
    """
    frame = reports.with_columns(
        _present(column).alias(column) for column in ("patient_id", "study_id") if column in reports.columns
    )
    if {"patient_id", "study_id"} <= set(frame.columns):
        known = pl.col("patient_id").drop_nulls().first().over("study_id")
        frame = frame.with_columns(
            pl.when(pl.col("study_id").is_not_null()).then(pl.coalesce("patient_id", known)).otherwise("patient_id")
        )
    keys = [
        pl.lit(prefix) + pl.col(column)
        for prefix, column in (("patient:", "patient_id"), ("study:", "study_id"), ("report:", "report_id"))
        if column in frame.columns
    ]
    return frame.select(pl.coalesce(keys).alias("group")).to_series()


def _present(column: str) -> pl.Expr:
    text = pl.col(column).cast(pl.String).str.strip_chars()
    return pl.when(text == "").then(None).otherwise(text)


def normalised_text(column: str) -> pl.Expr:
    """Lower case, punctuation and runs of spaces as one space: "No acute disease." == "no acute disease"."""
    text = pl.col(column).cast(pl.String).fill_null("").str.to_lowercase()
    return text.str.replace_all(r"[^\w]+", " ").str.strip_chars()


def text_pair(reports: pl.DataFrame) -> pl.Series:
    """The normalised (findings, impression) of each row, the text that must not straddle splits."""
    return reports.select(
        pl.concat_str(normalised_text("findings"), normalised_text("impression"), separator="\x1f").alias("pair")
    ).to_series()


def split_units(reports: pl.DataFrame) -> pl.Series:
    """Each row's unit: the smallest group name among the groups its text ties it to (union-find)."""
    groups = split_group(reports)
    pairs = text_pair(reports) if {"findings", "impression"} <= set(reports.columns) else groups
    parent: dict[str, str] = {}

    def root(node: str) -> str:
        while parent.setdefault(node, node) != node:
            parent[node] = parent[parent[node]]  # path halving keeps the trees flat
            node = parent[node]
        return node

    for group, pair in zip(groups.to_list(), pairs.to_list(), strict=True):
        a, b = root(group), root("text:" + pair)
        if a != b:
            parent[max(a, b)] = min(a, b)  # "patient:" / "report:" / "study:" sort before "text:"
    return pl.Series("unit", [root(group) for group in groups.to_list()], dtype=pl.String)


def assign_splits(reports: pl.DataFrame, cfg: SplitConfig) -> pl.Series:
    """The split name of every row."""
    groups = split_units(reports)
    unit = {group: _unit_interval(group, cfg.seed) for group in groups.unique()}
    position = pl.Series([unit[group] for group in groups], dtype=pl.Float64)
    return (
        pl.select(
            pl.when(pl.lit(position) < cfg.train)
            .then(pl.lit("train"))
            .when(pl.lit(position) < cfg.train + cfg.validation)
            .then(pl.lit("validation"))
            .otherwise(pl.lit("test"))
        )
        .to_series()
        .alias("split")
    )


def split_reports(reports: pl.DataFrame, cfg: SplitConfig) -> dict[str, pl.DataFrame]:
    """Frames for train, validation and test (sorted by id, so the files are byte-stable)."""
    tagged = reports.with_columns(assign_splits(reports, cfg)).sort("report_id")
    return {name: tagged.filter(pl.col("split") == name).drop("split") for name in SPLITS}


def split_overlap(splits: dict[str, pl.DataFrame]) -> dict[str, dict[str, float]]:
    """What of validation and test also occurs, normalised, in train: whole (findings, impression) pairs (none by
    construction) and impressions alone (templated normals such as "No acute disease." make that legitimate)."""
    train = splits["train"]
    if not {"findings", "impression"} <= set(train.columns):
        return {}
    train_pairs, train_impressions = set(text_pair(train)), set(train.select(normalised_text("impression")).to_series())
    overlap = {}
    for name in ("validation", "test"):
        frame = splits[name]
        pairs = text_pair(frame).is_in(list(train_pairs))
        impressions = frame.select(normalised_text("impression")).to_series().is_in(list(train_impressions))
        overlap[name] = {
            "reports": frame.height,
            "pairs_in_train": int(pairs.sum()),
            "impressions_in_train": int(impressions.sum()),
            "impressions_in_train_share": float(impressions.mean()) if frame.height else 0.0,
        }
    return overlap
