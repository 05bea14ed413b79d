"""The metric suite as local `evaluate` modules shipped inside the package, so they load offline (evaluate's own
"rouge", "sacrebleu" and "bertscore" are scripts on the Hub). Each module's `_compute` calls
`radimpress.evaluation.metrics`: the same numbers as `score_impressions`' corpus values.

    rouge = evaluate.load(evaluate_module_path("radimpress_rouge"))
    suite = evaluate.combine([evaluate_module_path(name) for name in MODULES])
    suite.compute(predictions=generated, references=references)

BERTScore and the similarity take `encoder_name`, `encoder_path` (None: the offline all-MiniLM-L6-v2) and, for
BERTScore, `num_layers` as compute arguments: pass them to that module, since a combination passes every argument
to every module. `score_impressions` stays the fast path: it encodes each text once for both.
"""

from pathlib import Path

from radimpress.errors import RadimpressError

MODULES = ("radimpress_rouge", "radimpress_bleu", "radimpress_bertscore", "radimpress_similarity")
MODULES_DIR = Path(__file__).parent / "modules"
INPUTS = """
Args:
    predictions: generated impressions, one string each.
    references: the radiologists' impressions, one string per prediction.
"""


def evaluate_module_path(name: str) -> str:
    """The script of one shipped module, for `evaluate.load` or `evaluate.combine`.

    Raises:
        RadimpressError: not one of MODULES.
    """
    if name not in MODULES:
        raise RadimpressError(f"no evaluate module '{name}': radimpress ships {', '.join(MODULES)}")
    return str(MODULES_DIR / name / f"{name}.py")


def metric_info(description: str):
    """An `evaluate.MetricInfo` for a module over (prediction, reference) string pairs."""
    import datasets
    import evaluate

    return evaluate.MetricInfo(
        description=description,
        citation="",
        inputs_description=INPUTS,
        features=datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Value("string")}),
    )
