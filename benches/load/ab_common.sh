# Sourced by the A/B scripts (bare_ab.sh, key_ab.sh): a work directory, free ports, and the
# fixed nginx upstream every proxy under test forwards to.
work=$(mktemp -d); export PATH=$PATH:/usr/sbin
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Starts nginx answering 200 "ok" on 127.0.0.1:$UP; sets UP and UPP (its pid).
start_upstream() {
  UP=$(port)
  cat > $work/up.conf <<N
worker_processes 1; daemon off; master_process off; pid $work/up.pid; error_log $work/up.err warn;
events { worker_connections 8192; }
http { access_log off; keepalive_requests 1000000; server { listen 127.0.0.1:$UP; location / { return 200 "ok\n"; } } }
N
  nginx -p $work -c $work/up.conf & UPP=$!
}
# Starts gateway $1 (one worker, access log on) in $work/$2 on fresh ports, forwarding to
# $UP: a public route /public/** and a signed-in one for the rest. Sets G_<name> (its port),
# P_<name> (its pid) and T_<name> (a Bearer token of its admin).
start_gateway() {
  local bin=$1 name=$2 g a
  g=$(port); a=$(port)
  mkdir -p $work/$name/data
  cat > $work/$name/gw.yaml <<Y
server: { listen: "127.0.0.1:$g", admin_listen: "127.0.0.1:$a", data_dir: "$work/$name/data", threads: 1 }
database: { url: "sqlite://$work/$name/data/load.db" }
tokens: { secret: "load-test-secret-load-test-secret-0123456789" }
upstreams: { app: { addrs: ["127.0.0.1:$UP"] } }
routes:
  - { name: public, path: "/public/**", upstream: app, auth: none }
  - { name: app, path: "/**", upstream: app, auth: required }
Y
  RUST_LOG=info PORTCULLIS_ADMIN_EMAIL=load@example.test PORTCULLIS_ADMIN_PASSWORD=load-password-1 \
    "$bin" serve --config $work/$name/gw.yaml > $work/$name/gw.log 2>&1 &
  eval "P_$name=$!; G_$name=$g"
  for _ in $(seq 200); do curl -sf 127.0.0.1:$a/healthz >/dev/null && break; sleep 0.1; done
  eval "T_$name=$(curl -sf 127.0.0.1:$g/api/login -H 'content-type: application/json' \
    -d '{"email":"load@example.test","password":"load-password-1"}' | tr -d '"')"
}
