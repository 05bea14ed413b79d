"""Score: every metric of one variant's impressions."""

from __future__ import annotations

from pathlib import Path

from radimpress.config import ScoreConfig
from radimpress.evaluation.metrics import score_impressions
from radimpress.files import read_frame, write_frame, write_json
from radimpress.stages.store import stage


@stage("score")
def score_stage(generation_dir: Path, cfg: ScoreConfig, *, out: Path) -> Path:
    """scores.json (every metric over the corpus, with the encoder behind each embedding-based one) and
    per_report.parquet (each report's scores, keyed by report_id, for intervals and paired tests)."""
    generations = read_frame(generation_dir / "generations.parquet")
    scores = score_impressions(generations["generated"].to_list(), generations["reference"].to_list(), cfg)
    write_frame(generations.select("report_id").hstack(scores.per_report), out / "per_report.parquet")
    encoders = {key: vars(record) for key, record in scores.encoders.items()}
    return write_json({"values": scores.values, "encoders": encoders}, out / "scores.json")
