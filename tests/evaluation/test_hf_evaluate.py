"""The shipped `evaluate` modules load offline and give exactly score_impressions' numbers."""

import tomllib
from pathlib import Path

import pytest

from radimpress.config import ScoreConfig
from radimpress.errors import RadimpressError
from radimpress.evaluation.hf_evaluate import MODULES, MODULES_DIR, evaluate_module_path
from radimpress.evaluation.metrics import score_impressions

PREDICTIONS = [
    "Moderate left pleural effusion. No pneumothorax.",
    "No acute intracranial abnormality.",
    "Partial tear of the anterior cruciate ligament.",
    "An orchestra played waltzes after dinner.",
]
REFERENCES = [
    "Moderate left pleural effusion. No pneumothorax.",
    "No acute intracranial process.",
    "Complete tear of the anterior cruciate ligament.",
    "1. Small right pleural effusion.\n2. No consolidation.",
]


@pytest.fixture
def evaluate(tmp_path, monkeypatch):
    """evaluate offline, its module copies and caches under tmp_path."""
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HF_EVALUATE_OFFLINE"):
        monkeypatch.setenv(name, "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    import evaluate

    monkeypatch.setattr(evaluate.config, "HF_EVALUATE_OFFLINE", True)
    monkeypatch.setattr(evaluate.config, "HF_MODULES_CACHE", tmp_path / "hf" / "modules")
    monkeypatch.setattr(evaluate.config, "HF_METRICS_CACHE", tmp_path / "hf" / "metrics")
    return evaluate


@pytest.fixture(scope="module")
def expected():
    return score_impressions(PREDICTIONS, REFERENCES, ScoreConfig()).values


def test_each_module_gives_score_impressions_numbers_exactly(evaluate, expected):
    results = {}
    for name in MODULES:
        module = evaluate.load(evaluate_module_path(name))
        results |= module.compute(predictions=PREDICTIONS, references=REFERENCES)
    assert results == expected


def test_a_combination_gives_every_number_at_once(evaluate, expected):
    suite = evaluate.combine([evaluate.load(evaluate_module_path(name)) for name in MODULES])
    assert suite.compute(predictions=PREDICTIONS, references=REFERENCES) == expected


def test_encoder_arguments_name_the_similarity_key(evaluate, expected):
    similarity = evaluate.load(evaluate_module_path("radimpress_similarity"))
    result = similarity.compute(predictions=PREDICTIONS, references=REFERENCES, encoder_name="minilm")
    assert result == {"similarity_minilm": expected["similarity_all-MiniLM-L6-v2"]}


def test_the_modules_ship_with_the_package():
    package_data = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = package_data["package-data"]["radimpress"]
    package = MODULES_DIR.parents[1]
    shipped = {path for pattern in patterns for path in package.glob(pattern)}
    assert {Path(evaluate_module_path(name)) for name in MODULES} <= shipped


def test_an_unknown_module_is_refused():
    with pytest.raises(RadimpressError, match="no evaluate module 'rouge': radimpress ships radimpress_rouge"):
        evaluate_module_path("rouge")
