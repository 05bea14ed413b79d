"""The trained factual-correctness judge as an MLflow GenAI scorer, so a team can run `mlflow.genai.evaluate` with it.

    from tasks.mlflow_scorer import factual_correctness_scorer
    judge = factual_correctness_scorer(Path("data/stages/judge-train/<key>"))
    mlflow.genai.evaluate(data=rows, scorers=[judge])

Each row: `inputs` with `findings` (and optionally `clinical_information`), `outputs` the generated impression,
`expectations` with `impression` (the reference). MLflow stores every row as a trace, texts included: evaluate
de-identified or redacted reports only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlflow.entities import Feedback
from mlflow.genai.scorers import scorer

from radimpress.evaluation.judge import judge_items, judge_prompt, load_judge
from radimpress.files import read_json
from radimpress.review.rubric import RubricWeights


def factual_correctness_scorer(judge_dir: Path):
    """A scorer named `factual_correctness` (0-10, aggregated as the mean) backed by the judge in `judge_dir` (a
    judge-train stage folder); its rationale names the errors the judge found and quotes how far it agreed with
    the reviewers out of fold."""
    record = read_json(judge_dir / "judge_base.json")
    model, tokenizer = load_judge(record["base"], judge_dir / "adapter")
    weights = RubricWeights(**record["rubric"])
    trust = read_json(judge_dir / "judge.json")
    how_far = (
        f"judge trained on {trust['n_items']} {record['review_source']} reviews; out-of-fold Kendall tau-b with "
        f"them {trust['kendall_tau_b']:.2f}, MAE {trust['mae']:.2f}."
    )

    @scorer(name="factual_correctness", aggregations=["mean"])
    def factual_correctness(inputs: dict[str, Any], outputs: Any, expectations: dict[str, Any]) -> Feedback:
        prompt = judge_prompt(
            inputs.get("findings"), inputs.get("clinical_information"), expectations["impression"], str(outputs or "")
        )
        judgement = judge_items(model, tokenizer, [prompt], weights=weights)[0]
        return Feedback(value=judgement.score(record["score_from"]), rationale=f"Errors: {judgement.errors}. {how_far}")

    return factual_correctness
