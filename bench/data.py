"""Data stages at hospital scale: 1,000,000 reports through ingest -> validate -> segment -> EDA statistics,
radimpress (polars) against the same steps written in pandas, side by side in one run.

    .venv/bin/python bench/data.py              # 1,000,000 reports (the export is built once, ~1 min)
    .venv/bin/python bench/data.py --rows 100000

Each side runs in its own process, so each peak memory (max RSS) is its own. The pandas version is written as
a pandas user would write it: vectorised `.str` methods on pandas' default string dtype, no per-row Python.
radimpress does more than the pandas version (pandera validation of the kept frame, HTML clean-up, outliers,
n-grams, vocabulary, templated normals); the tables both compute are asserted equal. Targets: at least 5x
faster than pandas, at most 4 GiB peak memory. The ratio and the peak memory are printed last.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import time
from pathlib import Path
from queue import Empty

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

COLUMNS = ["report_id", "patient_id", "modality", "exam", "clinical_information", "findings", "impression"]
RAW_MODALITY = {"mri": "MR", "ct": "CT", "ultrasound": "US", "xray": "XR"}
TARGET_SPEEDUP, TARGET_PEAK_GIB = 5.0, 4.0


def build_export(path: Path, rows: int, chunk: int = 50_000) -> Path:
    """Synthetic reports as a hospital would export them: raw modality codes (10% missing, left to the exam
    text), 1% blank findings, 0.5% rows exported twice, and patient ids shared by up to three reports."""
    import polars as pl

    from radimpress.sim import synthetic

    parts = []
    for start in range(0, rows, chunk):
        size = min(chunk, rows - start)
        part = synthetic.generate_reports(size, seed=start).drop("ground_truth")
        index = pl.int_range(start, start + size, eager=True)
        parts.append(
            part.with_columns(
                ("R" + index.cast(pl.String)).alias("report_id"),
                ("P" + (index // 3).cast(pl.String)).alias("patient_id"),
                pl.when(index % 10 == 0)
                .then(None)
                .otherwise(pl.col("modality").replace(RAW_MODALITY))
                .alias("modality"),
                pl.when(index % 100 == 7).then(pl.lit("")).otherwise(pl.col("findings")).alias("findings"),
            ).select(COLUMNS)
        )
        print(f"\rbuilding {path.name}: {start + size:,}/{rows:,}", end="", file=sys.stderr, flush=True)
    frame = pl.concat(parts)
    repeats = frame.filter(pl.int_range(pl.len()) % 200 == 3)
    frame = pl.concat([frame.head(rows - repeats.height), repeats])
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_csv(path)
    print(file=sys.stderr)
    return path


# --- radimpress (polars) ---------------------------------------------------------------------------------------


def run_radimpress(path: str) -> dict:
    import polars as pl

    from radimpress.config import DataConfig
    from radimpress.data import eda
    from radimpress.data.ingest import ingest
    from radimpress.data.segment import with_modality

    started = time.perf_counter()
    result = ingest(DataConfig(source="file", path=Path(path)), work_dir=Path(path).parent)
    reports = with_modality(result.reports)
    stats = eda.eda_statistics(reports)
    quarantine = result.quarantine.group_by("reason").len("rows").sort("reason")
    seconds = time.perf_counter() - started
    shared = stats | {"quarantine": quarantine.with_columns(pl.col("rows").cast(pl.Int64))}
    return {"seconds": seconds, "tables": {k: v.to_dicts() for k, v in shared.items()}, "rows_in": result.rows_in}


# --- pandas, as a pandas user would write the same steps -----------------------------------------------------

TEXT = ["findings", "impression", "clinical_information"]
NULL_TOKEN = r"(?i)^\s*(?:#n/a|#value!|#ref!|#div/0!|#name\?|#null!|n/?a|null|none|nan|nil|-+|\.+)\s*$"
FORMULA = r"^\s*[=@]|^\s*[+\-]\s*[A-Z][A-Z0-9_.]*\("
HTML_TAG = r"<(?:[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?|/[A-Za-z][A-Za-z0-9]*\s*)/?>"
HTML_BREAK = r"(?i)<br\s*/?>|</p\s*>|</div\s*>|</li\s*>|</tr\s*>"


def run_pandas(path: str) -> dict:
    import warnings

    import pandas as pd

    warnings.filterwarnings("ignore", message="This pattern is interpreted as a regular expression")

    from radimpress.config import CANONICAL_COLUMNS
    from radimpress.data.eda import NORMAL, NOT_NORMAL, SENTENCE_BREAK, STOP_WORDS, WORD
    from radimpress.data.segment import BODY_PARTS, MODALITY_PATTERNS, TEXT_PATTERNS

    started = time.perf_counter()
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    frame["study_id"] = pd.Series(pd.NA, index=frame.index, dtype="str")
    for column in ["exam", *TEXT]:
        text = frame[column].str.replace(r"\r\n?|[\x0b\x0c]", "\n", regex=True)
        text = text.str.replace(HTML_BREAK, "\n", regex=True).str.replace(HTML_TAG, "", regex=True)
        frame[column] = text.str.strip()
    for column in ["report_id", "patient_id", "modality"]:
        frame[column] = frame[column].str.strip()

    def blank(column):
        value = frame[column]
        return value.isna() | value.str.strip().eq("") | value.str.contains(NULL_TOKEN, regex=True).fillna(False)

    def any_column(columns, test):
        return pd.concat([test(frame[c]).fillna(False).astype(bool) for c in columns], axis=1).any(axis=1)

    def mostly_non_latin(column):
        other_script = frame[column].str.count(r"[^\P{L}\p{Latin}]")  # letters of a non-Latin script (RE2)
        return (other_script * 3 > frame[column].str.len()).fillna(False).astype(bool)

    def normalised(column):
        return frame[column].str.lower().str.replace(r"[^\p{L}\p{N}]+", " ", regex=True).str.strip().fillna("")

    not_text = any_column(
        ["findings", "impression"],
        lambda c: ~c.str.contains(r"\p{L}", regex=True) | c.str.contains(r"[\x00-\x08\x0B\x0C\x0E-\x1F\x7F]"),
    )
    rules = [
        ("no_report_id", blank("report_id")),
        ("no_findings", blank("findings")),
        ("no_impression", blank("impression")),
        ("not_text", not_text),
        ("spreadsheet_formula", any_column(["exam", *TEXT], lambda c: c.str.contains(FORMULA, regex=True))),
        ("non_english", mostly_non_latin("findings") | mostly_non_latin("impression")),
        ("over_length", any_column(TEXT, lambda c: c.str.len() > 20_000)),
        ("impression_equals_findings", normalised("findings") == normalised("impression")),
    ]
    frame["reason"] = pd.Series(pd.NA, index=frame.index, dtype="str")
    for reason, broken in rules:
        frame.loc[frame["reason"].isna() & broken, "reason"] = reason
    content = [c for c in CANONICAL_COLUMNS if c in frame.columns]  # an export has no other_sections column
    usable = frame["reason"].isna()
    repeat = frame[usable].duplicated(subset=content, keep="first")
    frame.loc[repeat[repeat].index, "reason"] = "duplicate_report"
    distinct = frame[usable & frame["reason"].isna()].drop_duplicates(subset=content)
    conflicting = distinct["report_id"][distinct["report_id"].duplicated(keep=False)].unique()
    frame.loc[usable & frame["reason"].isna() & frame["report_id"].isin(conflicting), "reason"] = "duplicate_id"
    quarantine = frame["reason"].value_counts().rename_axis("reason").reset_index(name="rows").sort_values("reason")
    kept = frame[frame["reason"].isna()].drop(columns="reason")

    def first_match(text, patterns):
        found = pd.Series(pd.NA, index=text.index, dtype="str")
        for code, pattern in patterns.items():
            found = found.mask(found.isna() & text.str.contains(pattern, regex=True).fillna(False), code)
        return found

    report_text = kept["findings"].fillna("") + " " + kept["impression"].fillna("")
    hits = pd.concat([report_text.str.contains(p, regex=True) for p in TEXT_PATTERNS.values()], axis=1).sum(axis=1)
    from_text = first_match(report_text, TEXT_PATTERNS).where(hits == 1)
    kept["modality"] = (
        first_match(kept["modality"], MODALITY_PATTERNS)
        .fillna(first_match(kept["exam"], MODALITY_PATTERNS))
        .fillna(from_text)
        .fillna("unknown")
    )
    kept["body_part"] = first_match(kept["exam"], BODY_PARTS).fillna("unknown")

    words = pd.DataFrame({s: kept[s].str.count(r"\S+").fillna(0).astype("int64") for s in TEXT})
    words["modality"] = kept["modality"]
    long = words.melt(id_vars="modality", var_name="section", value_name="words")
    long["present"] = long["words"].where(long["words"] > 0)
    by_section = long.groupby(["modality", "section"])
    word_counts = by_section.agg(
        reports=("words", "size"),
        missing=("words", lambda w: (w == 0).sum()),
        missing_share=("words", lambda w: (w == 0).mean()),
        mean=("present", "mean"),
        std=("present", "std"),
        min=("present", "min"),
        p5=("present", lambda w: w.quantile(0.05)),
        median=("present", "median"),
        p95=("present", lambda w: w.quantile(0.95)),
        max=("present", "max"),
    ).reset_index()

    by_present = long.groupby(["modality", "section"])["present"]
    mean, std = by_present.transform("mean"), by_present.transform("std")

    def long_above(w):  # p99 in groups of 100+, else median + 3.5 modified-z spreads (as radimpress)
        w = w.dropna()
        if len(w) >= 100:
            return w.quantile(0.99)
        deviation = (w - w.median()).abs()
        scale = deviation.median() / 0.6745 if deviation.median() > 0 else deviation.mean() * 1.2533
        return w.median() + 3.5 * scale if scale > 0 else float("nan")

    long["long_above"] = by_present.transform(long_above)
    long["very_short"] = long["present"] < 3
    long["very_long"] = long["present"] > long["long_above"]
    long["z_over_3"] = ((long["present"] - mean) / std).abs() > 3
    outliers = (
        long.groupby(["modality", "section"])
        .agg(
            present=("present", "count"),
            very_short=("very_short", "sum"),
            long_above=("long_above", "first"),
            very_long=("very_long", "sum"),
            z_over_3=("z_over_3", "sum"),
        )
        .reset_index()
    )
    outliers["long_rule"] = ["p99" if n >= 100 else "robust_z" for n in outliers["present"]]

    columns = ["report_id", "patient_id", "study_id", "body_part", "exam", *TEXT]
    has_text = pd.DataFrame({c: kept[c].str.contains(r"\S", regex=True).fillna(False).astype(bool) for c in columns})
    missing = (~has_text).groupby(kept["modality"]).sum().reset_index()
    missing = missing.melt(id_vars="modality", var_name="column", value_name="missing")
    reports_per_modality = kept["modality"].value_counts()
    missing["reports"] = missing["modality"].map(reports_per_modality)
    missing["share"] = missing["missing"] / missing["reports"]
    modality_counts = kept.groupby(["modality", "body_part"]).size().reset_index(name="reports")

    impression = kept["impression"].str.lower().str.replace(r"\s+", " ", regex=True).str.strip()
    impression = impression.str.rstrip(".").str.rstrip()
    counts = impression[impression != ""].groupby(kept["modality"]).value_counts().reset_index(name="count")
    counts["share"] = counts["count"] / counts["modality"].map(reports_per_modality)
    counts = counts.sort_values(["modality", "count", "impression"], ascending=[True, False, True])
    top = counts.groupby("modality").head(10).copy()
    top["rank"] = top.groupby("modality").cumcount() + 1

    normal = (
        (counts["count"] >= 2)
        & counts["impression"].str.contains(NORMAL, regex=True)
        & ~counts["impression"].str.contains(NOT_NORMAL, regex=True)
    )
    templated = counts[normal].groupby("modality")["count"].agg(templated_normal="sum", templates="size")
    templated = templated.reindex(reports_per_modality.index, fill_value=0).rename_axis("modality").reset_index()
    templated["reports"] = templated["modality"].map(reports_per_modality)
    templated["share"] = templated["templated_normal"] / templated["reports"]

    sentences = counts[["modality", "count"]].assign(
        sentence=counts["impression"].str.replace(SENTENCE_BREAK, "\n", regex=True).str.split("\n")
    )
    sentences = sentences.explode("sentence").groupby(["modality", "sentence"])["count"].sum().reset_index()
    words = sentences.assign(word=sentences["sentence"].str.findall(WORD)).explode("word")
    words["sentence_id"] = words.index  # exploded words keep their sentence's index: contiguous per sentence
    words = words.reset_index(drop=True)
    grams = []
    for n in (2, 3):
        parts = [words["word"].shift(-i) for i in range(n)]
        same_sentence = words["sentence_id"].shift(-(n - 1)) == words["sentence_id"]
        keep = same_sentence & parts[0].notna() & parts[-1].notna()
        keep &= ~parts[0].isin(STOP_WORDS) & ~parts[-1].isin(STOP_WORDS)
        ngram = parts[0].astype(str)
        for part in parts[1:]:
            ngram = ngram + " " + part.astype(str)
        window = words.loc[keep, ["modality", "count"]].assign(ngram=ngram[keep], n=n)
        grams.append(window.groupby(["modality", "n", "ngram"])["count"].sum().reset_index())
    grams = pd.concat(grams).sort_values(["modality", "n", "count", "ngram"], ascending=[True, True, False, True])
    top_ngrams = grams.groupby(["modality", "n"]).head(15).copy()
    top_ngrams["rank"] = top_ngrams.groupby(["modality", "n"]).cumcount() + 1

    vocab_rows = []
    for section in TEXT:
        found = kept[section].str.lower().str.findall(WORD)
        exploded = pd.DataFrame({"modality": kept["modality"], "word": found}).explode("word")
        per_modality = exploded.groupby("modality")["word"].nunique().reset_index(name="vocabulary")
        vocab_rows.append(per_modality.assign(section=section))
    vocab = pd.concat(vocab_rows)
    seconds = time.perf_counter() - started
    shared = {
        "word_counts": word_counts,
        "missing": missing,
        "modality_counts": modality_counts,
        "outliers": outliers,
        "top_impressions": top[["modality", "rank", "impression", "count", "share"]],
        "top_ngrams": top_ngrams[["modality", "n", "rank", "ngram", "count"]],
        "templated_normal": templated,
        "vocabulary": vocab,
        "quarantine": quarantine,
    }
    return {"seconds": seconds, "tables": {k: v.to_dict("records") for k, v in shared.items()}, "rows_in": len(frame)}


# --- side by side ---------------------------------------------------------------------------------------------


def _child(target, path: str, queue) -> None:
    try:
        result = target(path)
    except BaseException as exc:  # report it to the parent instead of leaving it waiting
        queue.put({"error": f"{target.__name__}: {type(exc).__name__}: {exc}"})
        raise
    result["peak_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    queue.put(result)


def measure(target, path: Path) -> dict:
    """Run one side in a fresh process: its own time, tables and peak memory."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(target, str(path), queue))
    process.start()
    while True:  # a child that dies without a word (killed, out of memory) must not leave us waiting
        try:
            result = queue.get(timeout=5)
            break
        except Empty:
            if not process.is_alive():
                sys.exit(f"{target.__name__} died with exit code {process.exitcode}")
    process.join()
    if "error" in result:
        sys.exit(result["error"])
    return result


def _canonical_rows(rows: list[dict]) -> list[tuple]:
    """Rows as sorted tuples, means rounded, so the two libraries' tables compare exactly."""

    def value(v):
        if v is None or v != v:  # None / NaN / NA
            return None
        return round(float(v), 6) if isinstance(v, float) else (int(v) if hasattr(v, "__index__") else v)

    return sorted(tuple(sorted((k, value(v)) for k, v in row.items())) for row in rows)


def assert_same_statistics(ours: dict, theirs: dict) -> None:
    assert ours["rows_in"] == theirs["rows_in"], (ours["rows_in"], theirs["rows_in"])
    for table in theirs["tables"]:  # radimpress computes more tables than the pandas version
        a, b = _canonical_rows(ours["tables"][table]), _canonical_rows(theirs["tables"][table])
        assert a == b, f"{table} differs: {[r for r in a if r not in b][:3]} vs {[r for r in b if r not in a][:3]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    export = ROOT / "data" / "bench" / f"reports_{args.rows}.csv"
    if not export.exists():
        build_export(export, args.rows)
    size_mb = export.stat().st_size / 1e6
    print(f"export: {export.relative_to(ROOT)} ({args.rows:,} reports, {size_mb:,.0f} MB)")
    ours = measure(run_radimpress, export)
    print(f"radimpress (polars): {ours['seconds']:.1f} s, peak {ours['peak_gib']:.2f} GiB")
    theirs = measure(run_pandas, export)
    print(f"pandas:              {theirs['seconds']:.1f} s, peak {theirs['peak_gib']:.2f} GiB")
    assert_same_statistics(ours, theirs)
    print(f"statistics: identical ({', '.join(theirs['tables'])})")
    speedup = theirs["seconds"] / ours["seconds"]
    print(f"speed-up over pandas: {speedup:.1f}x (target >= {TARGET_SPEEDUP:.0f}x)")
    print(f"radimpress peak memory: {ours['peak_gib']:.2f} GiB (target <= {TARGET_PEAK_GIB:.0f} GiB)")


if __name__ == "__main__":
    main()
