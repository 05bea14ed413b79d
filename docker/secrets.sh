#!/usr/bin/env bash
# Create the team stack's secrets, one file each, readable by their owner only; existing files are kept.
#   docker/secrets.sh [folder]     (default: docker/secrets, which git ignores; compose reads RADIMPRESS_SECRETS)
# Replace any of them with your own before the first `docker compose up`: PostgreSQL and MLflow take their admin
# passwords only when their databases are created.
set -euo pipefail
dir=${1:-$(dirname "$0")/secrets}
# The folder is private (0700); the files in it are world-readable (0644) because compose bind-mounts each file as
# it is, owner and mode included, and the containers run as uid 10001: the folder, not the file, keeps others out.
mkdir -p "$dir" && chmod 700 "$dir"
umask 022
random() { python3 -c 'import secrets; print(secrets.token_urlsafe(24))'; }
write() {  # name, value
  if [ -s "$dir/$1" ]; then echo "  $1: kept"; return; fi
  printf '%s\n' "$2" >"$dir/$1" && echo "  $1: created"
}
write postgres_password "$(random)"
write prefect_auth "radimpress:$(random)"          # Prefect's basic auth, user:password
write mlflow_admin_password "$(random)"            # MLflow's `admin` user (12 characters at least)
write mlflow_worker_password "$(random)"           # MLflow user `radimpress-worker`, which flows log as
write mlflow_flask_secret "$(random)"              # signs MLflow's session and CSRF cookies
echo "secrets in $dir"
