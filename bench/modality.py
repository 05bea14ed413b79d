"""Modality accuracy on the labelled report corpus (tests/data/report_corpus.py), with the rules as they are and,
side by side, the rules of the last commit (git show HEAD:radimpress/data/segment.py).

    .venv/bin/python bench/modality.py                  # accuracy per modality and overall, and the misses
    .venv/bin/python bench/modality.py --rows 1000000   # also the time to segment that many reports

Two ways in: end to end (the corpus written as a folder of .txt reports, through `ingest`, as a user runs it) and
with the exam filled from each report's title line (what ingest gives once it reads titles, whatever its state).
Accuracy per modality is the share of that modality's reports read right; a miss is either `unknown` (the report
is left out of every modality's data) or another code (it lands in the wrong one, the worse of the two).
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import polars as pl  # noqa: E402

from radimpress.config import MODALITIES, DataConfig  # noqa: E402
from radimpress.data import segment  # noqa: E402
from radimpress.data.ingest import ingest  # noqa: E402
from tests.data.report_corpus import LabelledReport, build_corpus  # noqa: E402


def head_rules(folder: Path):
    """radimpress/data/segment.py as last committed, loaded as a module of its own."""
    source = subprocess.run(
        ["git", "show", "HEAD:radimpress/data/segment.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    path = folder / "segment_head.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("segment_head", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ingested(corpus: list[LabelledReport], folder: Path) -> pl.DataFrame:
    """The corpus as a folder of .txt reports, through ingest: the kept reports."""
    for report in corpus:
        (folder / f"{report.report_id}.txt").write_text(report.text, encoding="utf-8")
    return ingest(DataConfig(source="file", path=folder)).reports


def with_titles(corpus: list[LabelledReport]) -> pl.DataFrame:
    """The corpus with the exam filled from each title line and a TECHNIQUE section in other_sections."""
    columns = {
        "report_id": [r.report_id for r in corpus],
        "modality": [None] * len(corpus),
        "exam": [r.exam_line for r in corpus],
        "other_sections": [r.technique and f"TECHNIQUE: {r.technique}" for r in corpus],
        "findings": [r.findings for r in corpus],
        "impression": [r.impression for r in corpus],
    }
    return pl.DataFrame(columns, schema={name: pl.String for name in columns})


def score(rules, reports: pl.DataFrame, corpus: list[LabelledReport]) -> dict:
    """Accuracy per true modality and overall, and the misses as (true, read) counts."""
    read = dict(rules.with_modality(reports).select("report_id", "modality").iter_rows())
    pairs = [(r.modality, read.get(r.report_id, "not kept")) for r in corpus]
    per_code = {
        code: sum(t == g for t, g in pairs if t == code) / max(1, sum(t == code for t, _ in pairs))
        for code in MODALITIES
    }
    return {
        "overall": sum(t == g for t, g in pairs) / len(pairs),
        "per_code": per_code,
        "misses": Counter((t, g) for t, g in pairs if t != g),
    }


def print_table(title: str, scores: dict[str, dict], counts: Counter) -> None:
    names = list(scores)
    print(f"\n{title}")
    print(f"  {'modality':<18}{'reports':>8}" + "".join(f"{name:>12}" for name in names))
    for code in MODALITIES:
        print(f"  {code:<18}{counts[code]:>8}" + "".join(f"{scores[n]['per_code'][code]:>12.3f}" for n in names))
    print(f"  {'overall':<18}{sum(counts.values()):>8}" + "".join(f"{scores[n]['overall']:>12.3f}" for n in names))
    for name in names:
        misses = ", ".join(f"{t} -> {g}: {n}" for (t, g), n in scores[name]["misses"].most_common())
        print(f"  misses ({name}): {misses or 'none'}")


def time_segmentation(rules, reports: pl.DataFrame, rows: int) -> float:
    """Seconds `with_modality` takes on `rows` reports (the frame repeated)."""
    big = pl.concat([reports] * (rows // reports.height + 1)).head(rows)
    started = time.perf_counter()
    rules.with_modality(big)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=0, help="also time segmentation of this many reports")
    args = parser.parse_args()
    corpus = build_corpus()
    counts = Counter(r.modality for r in corpus)
    print(f"corpus: {len(corpus)} reports; " + ", ".join(f"{c} {counts[c]}" for c in MODALITIES))
    with tempfile.TemporaryDirectory() as folder:
        rules = {"now": segment, "HEAD": head_rules(Path(folder))}
        (Path(folder) / "reports").mkdir()
        frames = {"end to end (ingest of .txt files)": ingested(corpus, Path(folder) / "reports")}
        frames["exam from the title line"] = with_titles(corpus)
        for title, frame in frames.items():
            if "modality" not in frame.columns:
                frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias("modality"))
            print_table(title, {name: score(r, frame, corpus) for name, r in rules.items()}, counts)
        if args.rows:
            frame = frames["exam from the title line"]
            for name, r in rules.items():
                print(
                    f"\nwith_modality on {args.rows:,} reports ({name}): {time_segmentation(r, frame, args.rows):.2f} s"
                )


if __name__ == "__main__":
    main()
