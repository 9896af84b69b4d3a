#!/usr/bin/env bash
# Usage: prepare.sh <port> <fixtures-json-path>
# Expects `node server.js <port>` to be running already; logs bench-user in,
# consents, runs real code flows and writes the harness fixtures JSON.
set -euo pipefail
PORT=${1:?usage: prepare.sh <port> <fixtures-json-path>}
OUT=${2:?usage: prepare.sh <port> <fixtures-json-path>}
cd "$(dirname "$0")"

# npm ci unless node_modules was installed from this very lockfile already.
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json \
      || package.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund --loglevel=error
fi

# Wait (up to ~15 s) for the server the harness started.
for _ in $(seq 150); do
  curl -fsS -o /dev/null "http://127.0.0.1:$PORT/.well-known/openid-configuration" 2>/dev/null && break
  sleep 0.1
done

node fixtures.js "$PORT" "$OUT"
