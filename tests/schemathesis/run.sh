#!/usr/bin/env bash
# The OpenAPI contract checked by a tool no one here wrote: schemathesis (PyPI) generates
# requests from /api/openapi.json (admin listener) against a running gateway, with its
# server-error, conformance and auth checks. Usage: tests/schemathesis/run.sh [binary] [seconds]
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-target/debug/portcullis}
budget=${2:-120}
command -v schemathesis >/dev/null 2>&1 || python3 -m pip install --quiet schemathesis

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
admin=$(free_port)
dir=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$dir"' EXIT

cat > "$dir/portcullis.yaml" <<YAML
server:
  listen: "127.0.0.1:$port"
  admin_listen: "127.0.0.1:$admin"
  data_dir: "$dir/data"
  threads: 2
database:
  url: "sqlite://$dir/data/portcullis.db"
tokens:
  secret: "schemathesis-secret-that-is-long-enough"
upstreams:
  app: { builtin: whoami }
routes:
  - { path: "/**", upstream: app, auth: required }
rate_limits:
  login: { per_minute: 100000, burst: 100000 }
  account: { free_failures: 100000, max_backoff: "1s" }
signup: { enabled: true }
YAML

PORTCULLIS_ADMIN_EMAIL=root@example.test PORTCULLIS_ADMIN_PASSWORD=schemathesis-admin-1 \
  RUST_LOG=warn "$bin" serve --config "$dir/portcullis.yaml" >"$dir/gateway.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$admin/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
token=$(curl -fsS "http://127.0.0.1:$port/api/login" -H 'content-type: application/json' \
  -d '{"email":"root@example.test","password":"schemathesis-admin-1"}' | tr -d '"')

# Authenticated as the admin; `ignored_auth` repeats each secured call without credentials
# and expects a refusal. Logouts end the session on the way: later calls then check 401s.
status=0
schemathesis run "http://127.0.0.1:$admin/api/openapi.json" \
  --url "http://127.0.0.1:$port" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,ignored_auth \
  --header "Authorization: Bearer $token" \
  --max-time "$budget" \
  --workers 2 \
  --suppress-health-check all \
  --warnings off || status=$?
if grep -q "panicked" "$dir/gateway.log"; then
  echo "the gateway panicked:"; grep -A5 panicked "$dir/gateway.log"; status=1
fi
exit $status
