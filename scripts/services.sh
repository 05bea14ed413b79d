#!/usr/bin/env bash
# Local services of radimpress, all on 127.0.0.1: Prefect server, MLflow server, a process worker.
#   scripts/services.sh up     start what is not running (reuses what is), create pool, GPU limit, deployment
#   scripts/services.sh down   stop exactly the processes this script started (pid files under data/run)
set -euo pipefail
cd "$(dirname "$0")/.."
# The worker looks for new flow runs this often: 2 s rather than env.sh's 5 (a run starts sooner; polling is cheap).
export PREFECT_WORKER_QUERY_SECONDS="${PREFECT_WORKER_QUERY_SECONDS:-2}"
source scripts/env.sh
BIN=.venv/bin
RUN="$RADIMPRESS_DATA_DIR/run" LOGS="$RADIMPRESS_DATA_DIR/logs"
mkdir -p "$RUN" "$LOGS" "$RADIMPRESS_DATA_DIR/mlflow"
PREFECT_URL="http://127.0.0.1:${PREFECT_PORT:-4200}" API="$PREFECT_API_URL"

alive() { [ -f "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

start() {  # name, [url], command...: a new session, so the service outlives this shell and stops as one group
  local name=$1; shift
  if alive "$name"; then echo "  $name: already running (pid $(cat "$RUN/$name.pid"))"; return; fi
  # A server of someone else's on our port would answer our health checks: refuse rather than use it.
  if [[ $1 == http* ]]; then
    if curl -sf "$1" >/dev/null; then echo "$name: $1 already answers, not ours (pick another port)" >&2; exit 1; fi
    shift
  fi
  setsid nohup "$@" >"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN/$name.pid"
  echo "  $name: started (pid $!, log $LOGS/$name.log)"
}

wait_for() {  # name, url
  for _ in $(seq 1 120); do
    if curl -sf "$2" >/dev/null; then return 0; fi
    alive "$1" || { echo "$1 exited; see $LOGS/$1.log" >&2; tail -5 "$LOGS/$1.log" >&2; exit 1; }
    sleep 1
  done
  echo "$1 did not answer at $2 within 120 s; see $LOGS/$1.log" >&2; exit 1
}

ensure() {  # description, check command, create command: create unless the check passes; retried, since a
  # server that has just turned healthy can still be busy with its sqlite database for a few seconds
  local what=$1 check=$2 create=$3 out
  for _ in 1 2 3 4 5; do
    if bash -c "$check" >/dev/null 2>&1; then return 0; fi
    if out=$(bash -c "$create" 2>&1); then return 0; fi
    sleep 3
  done
  echo "could not create $what:" >&2; echo "$out" >&2; exit 1
}

up() {
  echo "Starting services (data: $RADIMPRESS_DATA_DIR)"
  start prefect-server "$PREFECT_URL/api/health" \
    "$BIN/prefect" server start --host 127.0.0.1 --port "${PREFECT_PORT:-4200}"
  start mlflow-server "$MLFLOW_TRACKING_URI/health" \
    "$BIN/mlflow" server --host 127.0.0.1 --port "${MLFLOW_PORT:-5000}" \
    --backend-store-uri "sqlite:///$RADIMPRESS_DATA_DIR/mlflow/mlflow.db" \
    --artifacts-destination "$RADIMPRESS_DATA_DIR/mlflow/artifacts" --workers 1
  wait_for prefect-server "$PREFECT_URL/api/health"
  wait_for mlflow-server "$MLFLOW_TRACKING_URI/health"
  # Checks ask the REST API (curl: no Python start-up); the prefect CLI runs only to create what is missing.
  ensure "work pool 'local'" "curl -sf $API/work_pools/local" "$BIN/prefect work-pool create local --type process"
  start prefect-worker "$BIN/prefect" worker start --pool local --type process
  # GPU stages share the GPUs through a global concurrency limit that a task takes only for real work (tasks/gpu.py):
  # one slot per GPU, or tasks.gpu.CPU_SLOTS on a CPU-only machine. A tag limit of an older data directory would make
  # every cached GPU task queue for a slot before Prefect looks in its cache: it goes.
  local slots key
  if curl -sf "$API/concurrency_limits/tag/gpu" >/dev/null; then "$BIN/prefect" --no-prompt concurrency-limit delete gpu >/dev/null; fi
  ensure "global concurrency limit 'gpu'" "curl -sf $API/v2/concurrency_limits/gpu" \
    "$BIN/prefect global-concurrency-limit create gpu --limit 1"
  # Asking tasks.gpu for the slot count imports torch and Prefect (seconds): only when the cores, the GPUs or
  # RADIMPRESS_CPU_SLOTS changed since this data directory last set it.
  key="$(nproc) $({ compgen -G "/dev/nvidia[0-9]*" || true; } | wc -l) ${RADIMPRESS_CPU_SLOTS:-}"
  if [ "$(cat "$RUN/gpu-slots.key" 2>/dev/null)" != "$key" ]; then
    slots=$("$BIN/python" -c 'from tasks.gpu import SLOTS; print(SLOTS)')
    curl -sf -X PATCH "$API/v2/concurrency_limits/gpu" -H 'Content-Type: application/json' \
      -d "{\"limit\": $slots}" >/dev/null
    echo "$key" >"$RUN/gpu-slots.key"
  fi
  slots=$(curl -sf "$API/v2/concurrency_limits/gpu" | grep -o '"limit":[0-9]*' | cut -d: -f2)
  # Registering the deployment imports the whole flow (about 15 s of CPU): only when it is missing, or the
  # commit, the checkout, the pool or the deployment's own files changed since this data directory registered it.
  key=$(cat deployments/capstone_full.py flows/capstone.py <(git rev-parse HEAD 2>/dev/null) \
    <(echo "$PWD ${RADIMPRESS_WORK_POOL:-}") | sha256sum)
  if [ "$(cat "$RUN/deployment.key" 2>/dev/null)" != "$key" ] \
    || ! curl -sf "$API/deployments/name/capstone/full" >/dev/null; then
    ensure "deployment 'capstone/full'" false "$BIN/python deployments/capstone_full.py"
    echo "$key" >"$RUN/deployment.key"
  fi
  echo "  work pool 'local', concurrency limit 'gpu' ($slots slot(s)), deployment 'capstone/full': ready"
  echo "Prefect UI: $PREFECT_URL    MLflow UI: $MLFLOW_TRACKING_URI"
}

down() {
  for name in prefect-worker mlflow-server prefect-server; do
    if alive "$name"; then
      local pid
      pid=$(cat "$RUN/$name.pid")
      kill -TERM -- "-$pid" 2>/dev/null || true
      # Wait for the ports to be free, so `make down && make up` does not race the old processes.
      for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -KILL -- "-$pid" 2>/dev/null || true
      echo "  $name: stopped"
    fi
    rm -f "$RUN/$name.pid"
  done
}

"${1:?usage: services.sh up|down}"
