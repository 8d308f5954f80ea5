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
# CPU µs per request of process $1 over one wrk run (the rest of the arguments are wrk's, after
# `-d$SECS`); fails if any answer was not 2xx, since a refused request costs less.
cpu_per_request() {
  local pid=$1; shift
  local b=$(awk '{print $14+$15}' /proc/$pid/stat)
  local out=$(wrk -d${SECS}s "$@")
  local a=$(awk '{print $14+$15}' /proc/$pid/stat)
  local n=$(awk '/requests in/ {print $1}' <<<"$out")
  local non2=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  [ -z "$non2" ] || { echo "process $pid answered $non2 requests with other than 2xx" >&2; exit 1; }
  awk -v t=$((a-b)) -v n=$n 'BEGIN{printf "%.2f", t/100*1e6/n}'
}
# $1 pairs of `measure a` and `measure b` (a function the script defines, printing µs per
# request), the order swapped every pair so both share the machine's noise; prints each
# pair's B/A ratio and their median.
alternate_pairs() {
  local ratios=() i a b r
  for i in $(seq $1); do
    if (( i % 2 )); then a=$(measure a); b=$(measure b); else b=$(measure b); a=$(measure a); fi
    r=$(awk -v a=$a -v b=$b 'BEGIN{printf "%.3f", b/a}')
    ratios+=("$r"); echo "pair $i: A $a µs  B $b µs  B/A $r"
  done
  printf '%s\n' "${ratios[@]}" | sort -n | awk '{v[NR]=$1} END{m=(NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2; printf "median B/A %.3f over %d pairs (min %.3f, max %.3f)\n", m, NR, v[1], v[NR]}'
}
