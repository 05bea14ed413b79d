"""Judge: fine-tune the factual-correctness judge on the reviewed sample, then score variants with it."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from radimpress.config import JudgeConfig
from radimpress.evaluation.judge import predict_scores, train_judge
from radimpress.files import read_frame, read_json, write_frame, write_json
from radimpress.stages.store import stage


@stage("judge-train")
def judge_train_stage(review_dir: Path, cfg: JudgeConfig, base: Path, *, out: Path) -> Path:
    """adapter/ and judge.json (held-out error against the reviewers) of the judge fine-tuned on `base`."""
    reviewed = read_frame(review_dir / "reviewed.parquet")
    train_judge(base, reviewed, cfg, out)
    record = {"base": str(base), "review_source": reviewed["review_source"][0], "review_dir": str(review_dir)}
    write_json(record, out / "judge_base.json")
    return out


@stage("judge-score")
def judge_score_stage(judge_dir: Path, generation_dir: Path, *, out: Path) -> Path:
    """judged.parquet (per report) and judged.json (the mean): the judge's factual correctness of one variant."""
    generations = read_frame(generation_dir / "generations.parquet")
    base = read_json(judge_dir / "judge_base.json")["base"]
    scores = predict_scores(
        base, judge_dir / "adapter", generations["reference"].to_list(), generations["generated"].to_list()
    )
    judged = generations.select("variant_id", "report_id").with_columns(pl.Series("factual_correctness", scores))
    write_frame(judged, out / "judged.parquet")
    write_json({"factual_correctness": sum(scores) / len(scores), "reports": len(scores)}, out / "judged.json")
    return out
