#!/bin/sh
# Entrypoint of the radimpress images. Secrets arrive as files (compose secrets, Kubernetes secret volumes), never
# as values in a compose file or an image: for every VAR_FILE in the environment that names a file in the secrets
# folder (RADIMPRESS_SECRETS_DIR, default /run/secrets), VAR gets the file's content (trailing newlines dropped) and
# VAR_FILE goes. Other *_FILE variables (CA bundles and the like) are left as they are. Then the command runs: exec.
set -eu
secrets=${RADIMPRESS_SECRETS_DIR:-/run/secrets}
for name in $(env | sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)_FILE=.*/\1/p'); do
  path=$(printenv "${name}_FILE")
  case "$path" in "$secrets"/*) ;; *) continue ;; esac
  if [ ! -r "$path" ]; then
    echo "entrypoint: ${name}_FILE names $path, which is missing or unreadable (see docker/secrets.sh)" >&2
    exit 64
  fi
  value=$(cat "$path")
  if [ -z "$value" ]; then
    echo "entrypoint: $path (${name}_FILE) is empty" >&2
    exit 64
  fi
  export "$name=$value"
  unset "${name}_FILE"
done
exec "$@"
