"""The trained judge runs inside `mlflow.genai.evaluate` as a custom scorer, offline, with the scores it gives alone."""

import polars as pl
import pytest

from radimpress.config import JudgeConfig, LoraConfig, RubricConfig, TinyBaseConfig, TrainConfig
from radimpress.evaluation.judge import SCORES, judge_items, judge_prompts, load_judge, train_judge
from radimpress.files import write_json
from radimpress.sim.synthetic import generate_reports
from radimpress.sim.tiny import build_tiny_base

REPORTS = generate_reports(24, seed=5)
REVIEWED = pl.DataFrame(
    {
        "report_id": REPORTS["report_id"],
        "findings": REPORTS["findings"],
        "clinical_information": REPORTS["clinical_information"],
        "reference": REPORTS["impression"],
        "generated": REPORTS["impression"].reverse(),
        "score": [float(i % 11) for i in range(24)],
    }
)


@pytest.fixture(scope="module")
def judge_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("judge")
    base = build_tiny_base(
        "tiny-llama",
        judge_prompts(REVIEWED) + [f" {s}" for s in SCORES],
        TinyBaseConfig(vocab_size=400, pretrain_steps=0),
        folder / "base",
    )
    cfg = JudgeConfig(
        lora=LoraConfig(r=4, alpha=8, dropout=0.0),
        train=TrainConfig(epochs=1, learning_rate=0.01, batch_size=12, max_length=256, seed=0),
        folds=2,
        human_weight=1,
    )
    train_judge(base, REVIEWED, cfg, folder)
    record = {"base": str(base), "review_source": "simulated", "score_from": "direct"}
    write_json(record | {"rubric": RubricConfig().model_dump()}, folder / "judge_base.json")
    write_json({"n_items": 24, "kendall_tau_b": 0.12, "mae": 2.5}, folder / "judge.json")
    return folder


def test_the_judge_scores_rows_of_mlflow_genai_evaluate(judge_dir, tmp_path):
    import mlflow

    from tasks.mlflow_scorer import factual_correctness_scorer

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    mlflow.set_experiment("scorer")
    rows = REVIEWED.head(3)
    data = [
        {
            "inputs": {"findings": r["findings"], "clinical_information": r["clinical_information"]},
            "outputs": r["generated"],
            "expectations": {"impression": r["reference"]},
        }
        for r in rows.iter_rows(named=True)
    ]
    result = mlflow.genai.evaluate(data=data, scorers=[factual_correctness_scorer(judge_dir)])
    model, tokenizer = load_judge(judge_dir / "base", judge_dir / "adapter")
    alone = [j.direct for j in judge_items(model, tokenizer, judge_prompts(rows))]
    values = sorted(result.result_df["factual_correctness/value"].to_list())
    assert values == pytest.approx(sorted(alone), abs=1e-5)
    assert result.metrics["factual_correctness/mean"] == pytest.approx(sum(alone) / 3, abs=1e-5)
    rationale = result.result_df["factual_correctness/rationale"][0]
    assert rationale.startswith("Errors: ") and "Kendall tau-b with them 0.12" in rationale
