"""The link `make demo` prints opens the MLflow UI's side-by-side comparison of the top five variants: a real MLflow
server, five real runs, and Debian's Chromium driven by Playwright (which must not download a browser of its own)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from mlflow.tracking import MlflowClient

from tasks.tracking import compare_url

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")
# What the environment notes say a closed network needs: no background connections, no GPU, no sandbox as root.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mlflow-ui")
    port = _free_port()
    env = os.environ | {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "MLFLOW_DISABLE_TELEMETRY": "true"}
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/mlflow"), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}", "--artifacts-destination", str(folder / "a")],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{uri}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    else:
        server.kill()
        pytest.fail("the MLflow server did not start in 120 s")
    yield uri
    server.terminate()
    server.wait(timeout=30)


def test_the_compare_link_shows_the_top_five_runs(mlflow_server, monkeypatch):
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    client = MlflowClient(mlflow_server)
    experiment_id = client.create_experiment("radimpress-ui")
    names = [f"tiny-model-{i}.findings_clinical.mri" for i in range(5)]
    run_ids = []
    for rank, name in enumerate(names, start=1):
        run_id = client.create_run(experiment_id, tags={"mlflow.runName": name, "top_k_rank": str(rank)}).info.run_id
        client.log_metric(run_id, "test/rougeL_f1", 0.3 - rank / 100)
        client.set_terminated(run_id)
        run_ids.append(run_id)
    client.create_run(experiment_id, tags={"mlflow.runName": "not-in-the-top-five"})
    url = compare_url(experiment_id, run_ids)
    assert url.startswith(f"{mlflow_server}/#/compare-runs?runs=")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(url)
        for name in names:
            page.get_by_text(name).first.wait_for(timeout=60_000)
        text = page.inner_text("body")
        page.screenshot(path=str(ROOT / "data" / "mlflow-compare.png"), full_page=True)
        browser.close()
    assert "Comparing 5 Runs from 1 Experiment" in text
    assert all(name in text for name in names)
    assert "not-in-the-top-five" not in text
    assert "test/rougeL_f1" in text
