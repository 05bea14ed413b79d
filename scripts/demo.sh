#!/usr/bin/env bash
# make demo: services up, run `capstone/full` on the smoke profile, print where to look.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/services.sh up
source scripts/env.sh
echo "Running capstone/full (smoke profile): follow it in the Prefect UI"
# The watch gives up long after the run should end: on 2 cores shared with other work the smoke run took 20+ min.
.venv/bin/prefect deployment run capstone/full --watch --watch-timeout 3600 \
  | grep --line-buffered -E 'UUID|URL|task-run\.(Completed|Cached|Failed|Crashed)|flow-run\.|Flow run'
echo
echo "Prefect UI: ${PREFECT_API_URL%/api}   (flow runs, task states, artifacts 'eda' and 'comparison')"
echo "MLflow UI:  $MLFLOW_TRACKING_URI   (experiment radimpress-smoke: one parent run, a nested run per variant)"
echo "Top five side by side in MLflow: $(cat "$RADIMPRESS_DATA_DIR/latest/smoke/mlflow_compare_url.txt")"
echo
cat "$RADIMPRESS_DATA_DIR/latest/smoke/comparison.md"
