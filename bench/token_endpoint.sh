#!/usr/bin/env bash
# Measures the token endpoint the production way: gunicorn + PostgreSQL, driven by wrk over
# loopback with client_credentials requests (HTTP Basic client auth, form body).
#
#   bench/token_endpoint.sh            # WORKERS=4 DURATION=20s CONNECTIONS=16 by default
#
# It uses its own database (doorman_bench, recreated each run) and port 8811.
set -euo pipefail
cd "$(dirname "$0")/.."
bin/setup >/dev/null
command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null; }

WORKERS="${WORKERS:-4}"
DURATION="${DURATION:-20s}"
CONNECTIONS="${CONNECTIONS:-16}"
PORT="${PORT:-8811}"
DB=doorman_bench

export DOORMAN_ENV=production
export DOORMAN_SECRET_KEY="bench-$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
export DOORMAN_BASE_URL="http://127.0.0.1:$PORT"
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$DB"
export DOORMAN_LOG_LEVEL=WARNING
export DOORMAN_RATELIMIT_ENABLED=false  # one client from one address: the limits would cap the run

psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $DB" >/dev/null
psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $DB" >/dev/null
.venv/bin/python manage.py migrate --no-input -v 0
.venv/bin/python manage.py bootstrap --org "Bench Org" --admin bench \
    --password "bench-password-$RANDOM-x" --email bench@example.com >/dev/null
credentials=$(.venv/bin/python manage.py shell -c "
from accounts.access import Access
from accounts.models import User
from connected_apps.services import connected_app_create
admin = User.objects.get(username='bench')
created = connected_app_create(
    access=Access(user=admin), owner=admin.organization, client_name='Bench robot',
    grant_types=['client_credentials'],
    scopes=[{'scope': 'read:organization', 'context_params': {'org': str(admin.organization_id)}}],
)
print(f'{created.app.client_id}:{created.client_secret}')
")
credentials=$(printf "%s" "$credentials" | tail -n 1)
export BENCH_BASIC=$(printf "%s" "$credentials" | base64 -w0)

.venv/bin/gunicorn config.wsgi --workers "$WORKERS" --bind "127.0.0.1:$PORT" \
    --log-level warning --pid var/bench-gunicorn.pid &
trap 'kill $(cat var/bench-gunicorn.pid) 2>/dev/null || true' EXIT
for _ in $(seq 50); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/.well-known/openid-configuration" && break
    sleep 0.2
done

url="http://127.0.0.1:$PORT/accounts/api/v2/oauth2/token"
check=$(curl -s -H "Authorization: Basic $BENCH_BASIC" -d grant_type=client_credentials "$url")
echo "$check" | grep -q access_token || { echo "token request failed: $check" >&2; exit 1; }

echo "== client_credentials, $WORKERS gunicorn workers, $CONNECTIONS connections, $DURATION"
wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/token_request.lua "$url"
