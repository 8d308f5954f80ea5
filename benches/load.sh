#!/usr/bin/env bash
# Load test on loopback: wrk against a small upstream directly, then through the gateway on a
# public route and on an authenticated route. Prints requests/s and the gateway's CPU time per
# request, so the figures can be read as ratios from one run.
# Usage: benches/load.sh [seconds=10] [connections=32]   (BIN=path to compare another build)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
CONNS=${2:-32}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
cargo build --release --bin portcullis --example upstream >/dev/null
BIN=${BIN:-target/release/portcullis}

work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
UP=$(port); GW=$(port); ADMIN=$(port)

target/release/examples/upstream "127.0.0.1:$UP" &
cat > "$work/load.yaml" <<YAML
server: { listen: "127.0.0.1:$GW", admin_listen: "127.0.0.1:$ADMIN", data_dir: "$work", threads: 1 }
database: { url: "sqlite://$work/load.db" }
tokens: { secret: "load-test-secret-load-test-secret-0123456789" }
upstreams: { app: { addrs: ["127.0.0.1:$UP"] } }
routes:
  - { path: "/public/**", upstream: app, auth: none }
  - { path: "/**", upstream: app, auth: required }
rate_limits: { login: { per_minute: 1000, burst: 100 } }
YAML
RUST_LOG=warn PORTCULLIS_ADMIN_EMAIL=load@example.test PORTCULLIS_ADMIN_PASSWORD=load-password-1 \
  "$BIN" serve --config "$work/load.yaml" > "$work/gw.log" 2>&1 &
GWPID=$!
for _ in $(seq 100); do curl -sf "127.0.0.1:$ADMIN/healthz" >/dev/null && break; sleep 0.1; done
TOKEN=$(curl -s "127.0.0.1:$GW/api/login" -H 'content-type: application/json' \
  -d '{"email":"load@example.test","password":"load-password-1"}' | tr -d '"')

cpu_ticks() { awk '{print $14+$15}' "/proc/$GWPID/stat"; }
hz=$(getconf CLK_TCK)
run() { # name, url, extra wrk args...
  local name=$1 url=$2; shift 2
  local before; before=$(cpu_ticks)
  local out; out=$(wrk -t1 -c"$CONNS" -d"${SECS}s" "$@" "$url")
  local after; after=$(cpu_ticks)
  local rps; rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  local reqs; reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  local us; us=$(awk -v t=$((after - before)) -v hz="$hz" -v n="$reqs" 'BEGIN { printf "%.1f", n ? t / hz * 1e6 / n : 0 }')
  printf '%-28s %10s req/s   gateway CPU %6s us/request\n' "$name" "$rps" "$us"
}
echo "wrk: 1 thread, $CONNS connections, ${SECS}s each; gateway: 1 worker thread"
run "upstream directly" "http://127.0.0.1:$UP/x"
run "gateway, public route" "http://127.0.0.1:$GW/public/x"
run "gateway, bearer token" "http://127.0.0.1:$GW/app/x" -H "Authorization: Bearer $TOKEN"
run "gateway, bad token (401)" "http://127.0.0.1:$GW/app/x" -H "Authorization: Bearer nope"
