"""PHI redaction, before and after: recall and precision per kind on the labelled set (tests/data/phi_corpus.py),
and throughput on synthetic reports, for the committed `radimpress/data/phi.py` (git HEAD) and the working tree's,
side by side in one run.

    .venv/bin/python bench/phi.py                  # 20,000 reports for throughput
    .venv/bin/python bench/phi.py --rows 200000 --ref HEAD~3

Recall: a planted identifier counts as caught when its text (for a name, every word of it) is gone from the
redacted report. Precision: of the words redaction changed, the share inside a planted identifier. Throughput:
`redact_frame` over the clinical information, findings and impression of synthetic reports, one in ten carrying
a labelled report's planted identifiers, so the per-report name pass has work to do.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "data")]

import polars as pl  # noqa: E402
from phi_corpus import KINDS, build_corpus, score  # noqa: E402

from radimpress.data import phi  # noqa: E402
from radimpress.sim.synthetic import generate_reports  # noqa: E402

TEXT_COLUMNS = ["clinical_information", "findings", "impression"]


def committed_phi(ref: str) -> ModuleType:
    """`radimpress/data/phi.py` as committed at `ref`, imported as its own module."""
    source = subprocess.run(
        ["git", "show", f"{ref}:radimpress/data/phi.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    path = Path(tempfile.mkdtemp()) / "phi_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("phi_before", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def redact_all(module: ModuleType, texts: list[str]) -> list[str]:
    return pl.DataFrame({"text": texts}).select(module.redact_expr(pl.col("text")))["text"].to_list()


def throughput_frame(rows: int) -> pl.DataFrame:
    """Synthetic reports; every tenth one's clinical information is a labelled report with planted PHI."""
    reports = generate_reports(rows, seed=0).select(TEXT_COLUMNS)
    labelled = [r.text for r in build_corpus(seed=1) if r.planted]
    planted = [labelled[i % len(labelled)] if i % 10 == 0 else None for i in range(rows)]
    return reports.with_columns(
        pl.coalesce(pl.Series(planted, dtype=pl.String), pl.col("clinical_information")).alias("clinical_information")
    )


def reports_per_second(redact_frame, frame: pl.DataFrame, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        redact_frame(frame, TEXT_COLUMNS)
        best = min(best, time.perf_counter() - started)
    return frame.height / best


def name_pass_share(frame: pl.DataFrame) -> float:
    """Share of the new redaction's time spent finding and replacing names (the per-report pass)."""
    started = time.perf_counter()
    frame.select(phi.redact_patterns(pl.col(c)) for c in TEXT_COLUMNS)
    patterns_only = time.perf_counter() - started
    started = time.perf_counter()
    phi.redact_frame(frame, TEXT_COLUMNS)
    return 1 - patterns_only / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000, help="reports for the throughput runs")
    parser.add_argument("--ref", default="HEAD", help="git revision of the 'before' phi.py")
    parser.add_argument("--false-positives", type=int, default=15, help="most frequent wrongly redacted words shown")
    args = parser.parse_args()

    before = committed_phi(args.ref)
    reports = build_corpus(seed=0)
    texts = [r.text for r in reports]
    scores = {"before": score(reports, redact_all(before, texts)), "after": score(reports, redact_all(phi, texts))}
    planted = scores["after"].planted
    print(
        f"Labelled set: {len(reports)} reports, {sum(planted.values())} planted identifiers, "
        f"{sum(not r.planted for r in reports)} reports of clinical traps without PHI\n"
    )
    print(f"{'kind':<18} {'planted':>7} {'recall before':>14} {'recall after':>13}")
    for kind in (*KINDS, "all"):
        n = sum(planted.values()) if kind == "all" else planted.get(kind, 0)
        if n:
            print(f"{kind:<18} {n:>7} {scores['before'].recall[kind]:>14.3f} {scores['after'].recall[kind]:>13.3f}")
    for side, s in scores.items():
        wrong = ", ".join(f"{w} ({n})" for w, n in s.false_positives.most_common(args.false_positives))
        print(f"\nprecision {side}: {s.precision:.3f} of {s.redacted_words} redacted words; wrongly redacted: {wrong}")

    synthetic = generate_reports(args.rows, seed=0).select(TEXT_COLUMNS)
    for side, module in (("before", before), ("after", phi)):
        counts = module.phi_counts(synthetic, TEXT_COLUMNS).group_by("category").agg(pl.col("matches").sum())
        alarms = {c: n for c, n in counts.sort("category").iter_rows() if n and c not in ("age_over_89", "placeholder")}
        print(f"\n{side}: redactions in {args.rows:,} synthetic reports (no PHI but ages over 89): {alarms or 'none'}")

    frame = throughput_frame(args.rows)
    print(f"\nThroughput, redact_frame over {', '.join(TEXT_COLUMNS)} of {args.rows:,} reports (best of 3):")
    print(f"  before: {reports_per_second(before.redact_frame, frame):>10,.0f} reports/s")
    print(
        f"  after:  {reports_per_second(phi.redact_frame, frame):>10,.0f} reports/s "
        f"(names found and replaced per report: {name_pass_share(frame):.0%} of the time)"
    )


if __name__ == "__main__":
    main()
