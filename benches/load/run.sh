#!/usr/bin/env bash
# The load benchmark: Portcullis against HAProxy, nginx, a bare Pingora proxy (the framework's
# floor: examples/bare_pingora.rs on the same vendored crates) and Go's reverse proxy with a
# standard-library HS256 check (benches/load/goproxy) on this machine, in one run.
#
#   benches/load/run.sh            # 3 interleaved rounds of 10 s per scenario (~10 minutes)
#   ROUNDS=5 SECS=15 benches/load/run.sh
#   BASELINE=/path/to/older/portcullis benches/load/run.sh   # that build too, in the same rounds
#   BIN=/path/to/portcullis benches/load/run.sh                # that build instead of this tree's
#
# A fixed upstream (nginx `return 200`) is measured directly and behind each proxy. Every proxy
# gets one worker thread; wrk runs 2 threads and 64 connections (WRK_THREADS, CONNS). Scenarios
# are interleaved (A B C … A B C …) after a warm-up, so a noisy neighbour hits all of them alike.
# For each: requests/s, p50/p99 latency, and the proxy's CPU time per request from
# /proc/PID/stat — the figure that stays stable on a shared machine — with its user and
# system parts. Then a login flood runs against authenticated traffic. Writes
# benches/load/results/latest.{csv,md}.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-10}
CONNS=${CONNS:-64}
WRK_THREADS=${WRK_THREADS:-2}
OUT=benches/load/results
mkdir -p "$OUT"

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v strace >/dev/null || need+=(strace)
command -v openssl >/dev/null || need+=(openssl)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || need+=(haproxy)
command -v go >/dev/null || need+=(golang-go)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}" >&2
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need[@]}" >/dev/null
fi
export PATH="$PATH:/usr/sbin"
# BIN=/path/to/portcullis measures that build instead of building this tree.
if [ -z "${BIN:-}" ]; then
  cargo build --release --bin portcullis 2>&1 | tail -1
  BIN=target/release/portcullis
fi
cargo build --release --example bare_pingora 2>&1 | tail -1
BARE_BIN=target/release/examples/bare_pingora

work=$(mktemp -d)
# Gateways are started inside $(...), so they are not this shell's jobs: their pids are listed.
cleanup() {
  kill $(jobs -p) $(cat "$work/pids" 2>/dev/null) 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
UP=$(port); NGX=$(port); HAP=$(port); HAPJ=$(port); GW=$(port); ADMIN=$(port); GWB=$(port); ADMINB=$(port)
HAPS=$(port); GWS=$(port); BARE=$(port); GOP=$(port)
SECRET="load-test-secret-load-test-secret-0123456789"
OIDC_SECRET="load-client-secret-0123456789"
# The hashed OpenID client's secret_hash, made as a user makes one.
OIDC_HASH=$(printf '%s\n' "$OIDC_SECRET" | "$BIN" oidc hash-secret)

# --- the upstream, and nginx as a proxy (one process each, no master) ---
nginx_conf() { # file, port, location body
  cat > "$1" <<NGINX
worker_processes 1;
daemon off;
master_process off;
pid $work/$(basename "$1").pid;
error_log $work/$(basename "$1").err warn;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_requests 1000000;
  upstream app { server 127.0.0.1:$UP; keepalive 128; keepalive_requests 1000000; }
  server { listen 127.0.0.1:$2; location / { $3 } }
}
NGINX
}
nginx_conf "$work/upstream.conf" "$UP" 'return 200 "ok\n";'
nginx_conf "$work/proxy.conf" "$NGX" 'proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection "";'
nginx -p "$work" -c "$work/upstream.conf" & UP_PID=$!
nginx -p "$work" -c "$work/proxy.conf" & NGX_PID=$!

# --- one certificate for the HTTPS rows (HAProxy and the gateway alike: P-256, TLS 1.3) ---
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  -addext "basicConstraints=critical,CA:FALSE" \
  -keyout "$work/tls.key" -out "$work/tls.pem" 2>/dev/null
cat "$work/tls.pem" "$work/tls.key" > "$work/tls-combined.pem"

# --- HAProxy: plain and jwt_verify (HS256, with the exp check) on two frontends; the
# jwt_verify one listens over TLS too ---
cat > "$work/haproxy.cfg" <<HAPROXY
global
  nbthread 1
  maxconn 8000
defaults
  mode http
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  http-reuse always
backend app
  server up 127.0.0.1:$UP maxconn 1000
frontend plain
  bind 127.0.0.1:$HAP
  default_backend app
frontend jwt
  bind 127.0.0.1:$HAPJ
  bind 127.0.0.1:$HAPS ssl crt $work/tls-combined.pem alpn http/1.1
  http-request set-var(txn.bearer) http_auth_bearer
  http-request set-var(txn.alg) var(txn.bearer),jwt_header_query('\$.alg')
  http-request deny deny_status 401 unless { var(txn.alg) -m str HS256 }
  http-request deny deny_status 401 unless { var(txn.bearer),jwt_verify(txn.alg,"$SECRET") -m int 1 }
  http-request set-var(txn.now) date()
  http-request set-var(txn.exp) var(txn.bearer),jwt_payload_query('\$.exp','int')
  http-request deny deny_status 401 if { var(txn.exp),sub(txn.now) -m int lt 0 }
  default_backend app
HAPROXY
haproxy -db -f "$work/haproxy.cfg" > "$work/haproxy.log" 2>&1 & HAP_PID=$!

# --- the floors: a bare Pingora proxy, and Go's reverse proxy with an HS256 check ---
"$BARE_BIN" "127.0.0.1:$BARE" "127.0.0.1:$UP" > "$work/bare.log" 2>&1 & BARE_PID=$!
(cd benches/load/goproxy && go build -o "$work/goproxy" .)
"$work/goproxy" "127.0.0.1:$GOP" "127.0.0.1:$UP" "$SECRET" > "$work/goproxy.log" 2>&1 & GO_PID=$!

# --- the gateway (and, with BASELINE, an older build beside it on the same config) ---
start_gateway() { # binary, port, admin port, name[, threads[, more server keys]]; prints its pid
  local dir="$work/$4" threads=${5:-1} more=${6:-}
  mkdir -p "$dir/data"
  # threads "default": the gateway's own default (one per core).
  local t=", threads: $threads"; [ "$threads" = default ] && t=
  cat > "$dir/gateway.yaml" <<YAML
server: { listen: "127.0.0.1:$2", admin_listen: "127.0.0.1:$3", data_dir: "$dir/data"$t$more }
database: { url: "sqlite://$dir/data/load.db" }
tokens: { secret: "$SECRET" }
upstreams: { app: { addrs: ["127.0.0.1:$UP"] } }
networks: { office: ["203.0.113.0/24", "2001:db8::/32"] }
routes:
  - { name: public, path: "/public/**", upstream: app, auth: none }
  # The policy row: three allow blocks (the load user is in no group, so the second decides)
  # and a deny block, beside the same Bearer request on a plain route.
  - name: policy
    path: "/policy/**"
    upstream: app
    auth: required
    allow:
      - { groups: [eng] }
      - { email_domains: [example.test] }
      - { networks: [office] }
    deny:
      - { methods: [DELETE] }
  - { name: app, path: "/**", upstream: app, auth: required }
# The login flood below measures the argon2 queue, not the per-IP limit; the OpenID rows
# measure the endpoints, not their limits.
rate_limits:
  login: { per_minute: 1000000, burst: 100000 }
  oidc_token: { per_minute: 100000000, burst: 1000000 }
  oidc_client: { per_minute: 100000000, burst: 1000000 }
# The OpenID rows: a resource server introspecting with a plain secret and with an argon2
# secret_hash (the secret of both is "load-client-secret-0123456789"), and a machine client
# taking client_credentials tokens.
oidc_provider:
  enabled: true
  issuer: "http://127.0.0.1:$2"
  clients:
    rs-plain:
      secret: "load-client-secret-0123456789"
      grant_types: [client_credentials]
      service_account: load@example.test
      scopes: [openid, email]
    rs-hashed:
      secret_hash: "$OIDC_HASH"
      grant_types: [client_credentials]
      service_account: load@example.test
      scopes: [openid, email]
${EXTRA_YAML:-}
YAML
  # The access log stays on (one line per request, into a file, as in production); the file
  # is emptied between scenarios. HAProxy and nginx run without logs.
  RUST_LOG=info PORTCULLIS_ADMIN_EMAIL=load@example.test PORTCULLIS_ADMIN_PASSWORD=load-password-1 \
    "$1" serve --config "$dir/gateway.yaml" >> "$dir/gateway.log" 2>&1 &
  echo $! | tee -a "$work/pids"
}
login_token() { # port
  for _ in $(seq 200); do curl -sf "127.0.0.1:$2/healthz" >/dev/null && break; sleep 0.1; done
  curl -sf "127.0.0.1:$1/api/login" -H 'content-type: application/json' \
    -d '{"email":"load@example.test","password":"load-password-1"}' | tr -d '"'
}
GW_PID=$(start_gateway "$BIN" "$GW" "$ADMIN" gateway 1 \
  ", tls: { listen: \"127.0.0.1:$GWS\", cert_file: \"$work/tls.pem\", key_file: \"$work/tls.key\" }")
TOKEN=$(login_token "$GW" "$ADMIN")
[ -n "$TOKEN" ] || { echo "login failed"; cat "$work/gateway/gateway.log"; exit 1; }
# An API key of the same user, for the key row beside Bearer.
APIKEY=$(curl -sf "127.0.0.1:$GW/api/auth/api-keys" -H "Authorization: Bearer $TOKEN" \
  -H 'content-type: application/json' -d '{"name":"load"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
[ -n "$APIKEY" ] || { echo "API key creation failed"; exit 1; }
if [ -n "${BASELINE:-}" ]; then
  GWB_PID=$(start_gateway "$BASELINE" "$GWB" "$ADMINB" baseline)
  TOKENB=$(login_token "$GWB" "$ADMINB")
  [ -n "$TOKENB" ] || { echo "baseline login failed"; cat "$work/baseline/gateway.log"; exit 1; }
fi
for p in "$UP" "$NGX" "$HAP" "$HAPJ" "$BARE" "$GOP"; do
  for _ in $(seq 100); do curl -s -o /dev/null "127.0.0.1:$p/" && break; sleep 0.05; done
done
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "127.0.0.1:$HAPJ/x")" = 200 ] ||
  { echo "HAProxy refused a valid token"; cat "$work/haproxy.log"; exit 1; }
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer nope" "127.0.0.1:$HAPJ/x")" = 401 ] ||
  { echo "HAProxy accepted a bad token"; exit 1; }
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "127.0.0.1:$GOP/x")" = 200 ] ||
  { echo "the Go proxy refused a valid token"; cat "$work/goproxy.log"; exit 1; }
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer nope" "127.0.0.1:$GOP/x")" = 401 ] ||
  { echo "the Go proxy accepted a bad token"; exit 1; }
[ "$(curl -s -o /dev/null -w '%{http_code}' "127.0.0.1:$BARE/x")" = 200 ] ||
  { echo "the bare Pingora proxy does not answer"; cat "$work/bare.log"; exit 1; }
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "127.0.0.1:$GW/policy/x")" = 200 ] ||
  { echo "the policy route refused the load user"; exit 1; }

# Tokens never seen before, for the cache-miss scenario: a file per round.
per_round=$((SECS * 60000))
for r in $(seq "$ROUNDS"); do
  python3 benches/load/mint_tokens.py "$TOKEN" "$SECRET" "$per_round" $(( (r - 1) * per_round )) > "$work/tokens.$r"
done

# User and system CPU ticks of a process, "user sys".
cpu_ticks() { awk '{print $14, $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
per_request() { awk -v t="$1" -v hz="$HZ" -v n="$2" 'BEGIN { printf "%.1f", (n && t) ? t / hz * 1e6 / n : 0 }'; } # ticks requests -> µs
CSV="$OUT/latest.csv"
echo "round,scenario,requests_per_s,p50_ms,p99_ms,proxy_cpu_us_per_request,non_2xx,socket_errors,proxy_user_us_per_request,proxy_sys_us_per_request" > "$CSV"

# wrk's latency figures come as 1.23ms / 456.78us / 1.02s; in ms.
to_ms() { awk '{ v=$1; if (v ~ /us$/) { sub(/us$/,"",v); v/=1000 } else if (v ~ /ms$/) { sub(/ms$/,"",v) } else if (v ~ /s$/) { sub(/s$/,"",v); v*=1000 } printf "%.3f", v }' <<<"$1"; }

measure() { # round scenario pid url [wrk args...]; pid "-" for none
  local round=$1 name=$2 pid=$3 url=$4; shift 4
  local before="0 0" after="0 0" out
  [ "$pid" = - ] || before=$(cpu_ticks "$pid")
  out=$(wrk -t"$WRK_THREADS" -c"$CONNS" -d"${SECS}s" --latency "$@" "$url")
  [ "$pid" = - ] || after=$(cpu_ticks "$pid")
  for f in "$work"/*/gateway.log; do : > "$f"; done
  local rps reqs p50 p99 non2xx errors us user sys
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  p50=$(to_ms "$(awk '$1=="50%" {print $2}' <<<"$out")")
  p99=$(to_ms "$(awk '$1=="99%" {print $2}' <<<"$out")")
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out"); non2xx=${non2xx:-0}
  errors=$(awk '/Socket errors/ {gsub(",",""); print $4+$6+$8+$10}' <<<"$out"); errors=${errors:-0}
  local ub sb ua sa
  read -r ub sb <<<"$before"; read -r ua sa <<<"$after"
  us=$(per_request $((ua + sa - ub - sb)) "$reqs")
  user=$(per_request $((ua - ub)) "$reqs"); sys=$(per_request $((sa - sb)) "$reqs")
  echo "$round,$name,$rps,$p50,$p99,$us,$non2xx,$errors,$user,$sys" >> "$CSV"
  printf '  %-38s %9s req/s  p50 %7s ms  p99 %7s ms  CPU %6s us/req (user %s, sys %s)  non-2xx %s\n' "$name" "$rps" "$p50" "$p99" "$us" "$user" "$sys" "$non2xx"
}

AUTH=(-H "Authorization: Bearer $TOKEN")
COOKIE=(-H "Cookie: portcullis_session=$TOKEN")
scenarios() { # round
  measure "$1" "upstream directly" - "http://127.0.0.1:$UP/x"
  measure "$1" "nginx proxy" "$NGX_PID" "http://127.0.0.1:$NGX/x"
  measure "$1" "haproxy proxy" "$HAP_PID" "http://127.0.0.1:$HAP/x"
  measure "$1" "haproxy jwt_verify HS256" "$HAP_PID" "http://127.0.0.1:$HAPJ/x" "${AUTH[@]}"
  measure "$1" "bare pingora proxy" "$BARE_PID" "http://127.0.0.1:$BARE/x"
  # The floors again with one connection: every send then wakes a peer that was waiting, for
  # every proxy alike, so the kernel's share per request is compared without the wake-ups a
  # slower proxy adds under saturation (its peers idle more, and each send must wake them).
  CONNS=1 WRK_THREADS=1 measure "$1" "haproxy proxy (one connection)" "$HAP_PID" "http://127.0.0.1:$HAP/x"
  CONNS=1 WRK_THREADS=1 measure "$1" "bare pingora proxy (one connection)" "$BARE_PID" "http://127.0.0.1:$BARE/x"
  CONNS=1 WRK_THREADS=1 measure "$1" "gateway public route (one connection)" "$GW_PID" "http://127.0.0.1:$GW/public/x"
  measure "$1" "go reverse proxy public" "$GO_PID" "http://127.0.0.1:$GOP/public/x"
  measure "$1" "go reverse proxy HS256" "$GO_PID" "http://127.0.0.1:$GOP/x" "${AUTH[@]}"
  measure "$1" "gateway public route" "$GW_PID" "http://127.0.0.1:$GW/public/x"
  measure "$1" "gateway bearer (cached)" "$GW_PID" "http://127.0.0.1:$GW/app/x" "${AUTH[@]}"
  measure "$1" "gateway bearer + policy" "$GW_PID" "http://127.0.0.1:$GW/policy/x" "${AUTH[@]}"
  measure "$1" "gateway session cookie" "$GW_PID" "http://127.0.0.1:$GW/app/x" "${COOKIE[@]}"
  measure "$1" "gateway api key" "$GW_PID" "http://127.0.0.1:$GW/app/x" -H "Authorization: Bearer $APIKEY"
  measure "$1" "haproxy jwt_verify HS256 (HTTPS)" "$HAP_PID" "https://127.0.0.1:$HAPS/x" "${AUTH[@]}"
  measure "$1" "gateway bearer (HTTPS)" "$GW_PID" "https://127.0.0.1:$GWS/app/x" "${AUTH[@]}"
  TOKENS_FILE="$work/tokens.$1" measure "$1" "gateway fresh token (miss)" "$GW_PID" \
    "http://127.0.0.1:$GW/app/x" -s benches/load/fresh_token.lua
  if [ -n "${BASELINE:-}" ]; then
    measure "$1" "baseline public route" "$GWB_PID" "http://127.0.0.1:$GWB/public/x"
    measure "$1" "baseline bearer (cached)" "$GWB_PID" "http://127.0.0.1:$GWB/app/x" \
      -H "Authorization: Bearer $TOKENB"
    measure "$1" "baseline session cookie" "$GWB_PID" "http://127.0.0.1:$GWB/app/x" \
      -H "Cookie: portcullis_session=$TOKENB"
  fi
}

# ROUNDS=0 FLOOD=0: only the system-call counts (a minute), e.g. while working on them;
# ROUNDS=0 SYSCALLS=0: only the login flood.
FLOOD=${FLOOD:-1}
[ "$ROUNDS" = 0 ] || echo "warm-up"
[ "$ROUNDS" = 0 ] || for url in "$UP/x" "$NGX/x" "$HAP/x" "$BARE/x" "$GOP/public/x" "$GW/public/x"; do wrk -t1 -c8 -d2s "http://127.0.0.1:$url" >/dev/null; done
wrk -t1 -c8 -d2s "${AUTH[@]}" "http://127.0.0.1:$HAPJ/x" >/dev/null
wrk -t1 -c8 -d2s "${AUTH[@]}" "http://127.0.0.1:$GOP/x" >/dev/null
wrk -t1 -c8 -d2s "${AUTH[@]}" "http://127.0.0.1:$GW/app/x" >/dev/null
wrk -t1 -c8 -d2s "${AUTH[@]}" "http://127.0.0.1:$GW/policy/x" >/dev/null
wrk -t1 -c8 -d2s -H "Authorization: Bearer $APIKEY" "http://127.0.0.1:$GW/app/x" >/dev/null
wrk -t1 -c8 -d2s "${AUTH[@]}" "https://127.0.0.1:$HAPS/x" >/dev/null
wrk -t1 -c8 -d2s "${AUTH[@]}" "https://127.0.0.1:$GWS/app/x" >/dev/null
[ -z "${BASELINE:-}" ] || wrk -t1 -c8 -d2s -H "Authorization: Bearer $TOKENB" "http://127.0.0.1:$GWB/app/x" >/dev/null
for r in $(seq "$ROUNDS"); do
  echo "round $r of $ROUNDS (wrk -t$WRK_THREADS -c$CONNS, ${SECS}s each)"
  scenarios "$r"
done

# --- system calls per proxied request: strace -c -f attached for a fixed wrk run (one wrk
# thread, 32 connections, 5 s). Counts, not times: strace slows everything it watches.
echo "system calls per request (strace -c -f, wrk -t1 -c32 -d5s)"
GWD=$(port); ADMIND=$(port)
GWD_PID=$(start_gateway "$BIN" "$GWD" "$ADMIND" default-threads default)
TOKEND=$(login_token "$GWD" "$ADMIND")
AUTHD=(-H "Authorization: Bearer $TOKEND")
SYS="$OUT/syscalls.csv"
echo "scenario,requests,calls,per_request,top" > "$SYS"
syscalls() { # name pid url [wrk args...]
  local name=$1 pid=$2 url=$3; shift 3
  wrk -t1 -c32 -d1s "$@" "$url" >/dev/null
  local trace="$work/strace.out"
  strace -f -c -U calls,name -o "$trace" -p "$pid" 2>/dev/null & local st=$!
  sleep 1
  local out; out=$(wrk -t1 -c32 -d5s "$@" "$url")
  kill -INT "$st"; wait "$st" 2>/dev/null || true
  local reqs; reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  python3 - "$trace" "$reqs" "$name" >> "$SYS" <<'PY'
import sys
trace, reqs, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
calls = {}
for line in open(trace):
    f = line.split()
    if len(f) == 2 and f[0].isdigit() and f[1] != "total":
        calls[f[1]] = int(f[0])
total = sum(calls.values())
top = " ".join(f"{k}={v / reqs:.2f}" for k, v in sorted(calls.items(), key=lambda kv: -kv[1])[:6])
print(f"{name},{reqs},{total},{total / reqs:.2f},{top}")
PY
  tail -1 "$SYS" | awk -F, '{ printf "  %-34s %6s per request  (%s)\n", $1, $4, $5 }'
}
SYSCALLS=${SYSCALLS:-1}
[ "$SYSCALLS" = 0 ] || {
syscalls "haproxy jwt_verify HS256" "$HAP_PID" "http://127.0.0.1:$HAPJ/x" "${AUTH[@]}"
syscalls "haproxy proxy" "$HAP_PID" "http://127.0.0.1:$HAP/x"
syscalls "bare pingora proxy (1 thread)" "$BARE_PID" "http://127.0.0.1:$BARE/x"
syscalls "gateway public route" "$GWD_PID" "http://127.0.0.1:$GWD/public/x"
syscalls "gateway bearer (cached)" "$GWD_PID" "http://127.0.0.1:$GWD/app/x" -H "Authorization: Bearer $TOKEND"
syscalls "gateway session cookie" "$GWD_PID" "http://127.0.0.1:$GWD/app/x" -H "Cookie: portcullis_session=$TOKEND"
if [ -n "${BASELINE:-}" ]; then
  syscalls "baseline bearer (cached; 1 thread)" "$GWB_PID" "http://127.0.0.1:$GWB/app/x" -H "Authorization: Bearer $TOKENB"
fi
}

# --- sign-in under contention: sequential sign-ins timed with the gateway idle, beside two busy
# processes at normal priority (a neighbour on a shared host), and while proxied traffic keeps
# every core busy ---
CONTENTION=${CONTENTION:-1}
SIGNINS=${SIGNINS:-20}
signins() { # label; prints p50/p99/max of $SIGNINS sequential sign-ins, and a CSV line
  local times
  times=$(for _ in $(seq "$SIGNINS"); do
    curl -s -o /dev/null -w '%{time_total} %{http_code}\n' "127.0.0.1:$GWD/api/login" \
      -H 'content-type: application/json' -d '{"email":"load@example.test","password":"load-password-1"}'
  done | sort -n)
  awk -v label="$1" -v csv="$OUT/signins.csv" '{ t[NR] = $1 * 1000; codes[$2]++ } END {
    n = NR; i50 = int(n * 0.5); if (i50 < n * 0.5) i50++; i99 = int(n * 0.99); if (i99 < n * 0.99) i99++
    c = ""; for (k in codes) c = c k "=" codes[k] " "
    printf "  %-36s p50 %6.0f ms  p99 %6.0f ms  max %6.0f ms  (%s)\n", label, t[i50], t[i99], t[n], c
    printf "%s,%.0f,%.0f,%.0f,%s\n", label, t[i50], t[i99], t[n], c >> csv }' <<<"$times"
}
if [ "$CONTENTION" = 1 ]; then
  echo "sign-in under contention ($SIGNINS sequential sign-ins each)"
  echo "case,p50_ms,p99_ms,max_ms,statuses" > "$OUT/signins.csv"
  signins "gateway otherwise idle"
  busy=()
  for _ in 1 2; do sh -c 'while :; do :; done' & busy+=($!); done
  signins "two busy processes beside it"
  kill "${busy[@]}"; wait "${busy[@]}" 2>/dev/null || true
  wrk -t2 -c64 -d600s "${AUTHD[@]}" "http://127.0.0.1:$GWD/app/x" > /dev/null & SAT=$!
  sleep 1
  signins "proxied load saturating the cores"
  kill "$SAT"; wait "$SAT" 2>/dev/null || true
fi

# --- the OpenID provider's endpoints, each its own row (not on the proxied path): introspection
# by a resource server with a plain secret and with a secret_hash (argon2 once, then the
# remembered match), and client_credentials tokens (one RS256 signature each) ---
OIDC=${OIDC:-1}
if [ "$OIDC" = 1 ]; then
  echo "OpenID provider (default threads, wrk -t1: introspection -c8, token -c16)"
  basic() { printf '%s:%s' "$1" "$OIDC_SECRET" | base64 -w0; }
  AT=$(curl -sf "127.0.0.1:$GWD/oidc/token" -H "Authorization: Basic $(basic rs-plain)" \
    -d grant_type=client_credentials | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  [ -n "$AT" ] || { echo "client_credentials failed"; cat "$work/default-threads/gateway.log"; exit 1; }
  for c in rs-plain rs-hashed; do
    active=$(curl -sf "127.0.0.1:$GWD/oidc/introspect" -H "Authorization: Basic $(basic $c)" -d "token=$AT" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["active"])')
    [ "$active" = True ] || { echo "introspection by $c did not find the token active"; exit 1; }
  done
  FORM_BODY="token=$AT" measure oidc "introspection (plain secret)" "$GWD_PID" \
    "http://127.0.0.1:$GWD/oidc/introspect" -t1 -c8 -s benches/load/form_post.lua -H "Authorization: Basic $(basic rs-plain)"
  FORM_BODY="token=$AT" measure oidc "introspection (secret_hash)" "$GWD_PID" \
    "http://127.0.0.1:$GWD/oidc/introspect" -t1 -c8 -s benches/load/form_post.lua -H "Authorization: Basic $(basic rs-hashed)"
  FORM_BODY="grant_type=client_credentials" measure oidc "token (client_credentials, RS256)" "$GWD_PID" \
    "http://127.0.0.1:$GWD/oidc/token" -t1 -c16 -s benches/load/form_post.lua -H "Authorization: Basic $(basic rs-plain)"
fi

if [ "$FLOOD" = 0 ]; then
  kill "$GWD_PID"
  cat "$SYS"
  exit 0
fi

# --- login flood: 200 clients logging in while authenticated traffic goes on, against the
# gateway with its default thread count (the one the system calls were counted on) ---
echo "login flood (default threads)"
FLOOD_CONNS=${FLOOD_CONNS:-200}
measure flood "bearer alone (16 conns)" "$GWD_PID" "http://127.0.0.1:$GWD/app/x" "${AUTHD[@]}" -c16 -t1
wrk -t1 -c"$FLOOD_CONNS" -d"$((SECS + 2))s" --latency -s benches/load/login.lua \
  "http://127.0.0.1:$GWD/api/login" > "$work/flood.txt" &
FLOOD=$!
sleep 1
measure flood "bearer during login flood" "$GWD_PID" "http://127.0.0.1:$GWD/app/x" "${AUTHD[@]}" -c16 -t1
wait $FLOOD
kill "$GWD_PID"
cat "$work/flood.txt" | grep -E "Requests/sec|99%|50%|Non-2xx|statuses" | sed 's/^/  login flood: /'
grep -E "statuses" "$work/flood.txt" | sed 's/^ *statuses: *//' > "$work/flood.statuses" || true
{
  echo "login_flood_requests_per_s,$(awk '/Requests\/sec/ {print $2}' "$work/flood.txt")"
  echo "login_flood_p50_ms,$(to_ms "$(awk '$1=="50%" {print $2}' "$work/flood.txt")")"
  echo "login_flood_p99_ms,$(to_ms "$(awk '$1=="99%" {print $2}' "$work/flood.txt")")"
  echo "login_flood_statuses,$(cat "$work/flood.statuses")"
} > "$OUT/flood.csv"

python3 benches/load/report.py "$CSV" "$OUT/flood.csv" "$SYS" > "$OUT/latest.md"
cat "$OUT/latest.md"
