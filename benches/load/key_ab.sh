#!/bin/bash
# usage: benches/load/key_ab.sh BIN [rounds] [secs] — Bearer and API-key CPU per request on one
# gateway (one worker, nginx upstream), alternated round by round so both share the noise.
set -e
BIN=$1; R=${2:-4}; SECS=${3:-6}
. "$(dirname "$0")/ab_common.sh"
start_upstream
GW=$(port); AD=$(port)
mkdir -p $work/data
cat > $work/gw.yaml <<Y
server: { listen: "127.0.0.1:$GW", admin_listen: "127.0.0.1:$AD", data_dir: "$work/data", threads: 1 }
database: { url: "sqlite://$work/data/load.db" }
tokens: { secret: "load-test-secret-load-test-secret-0123456789" }
upstreams: { app: { addrs: ["127.0.0.1:$UP"] } }
routes:
  - { name: app, path: "/**", upstream: app, auth: required }
Y
RUST_LOG=info PORTCULLIS_ADMIN_EMAIL=load@example.test PORTCULLIS_ADMIN_PASSWORD=load-password-1 $BIN serve --config $work/gw.yaml >> $work/gw.log 2>&1 & GWP=$!
for _ in $(seq 200); do curl -sf 127.0.0.1:$AD/healthz >/dev/null && break; sleep 0.1; done
TOKEN=$(curl -sf 127.0.0.1:$GW/api/login -H 'content-type: application/json' -d '{"email":"load@example.test","password":"load-password-1"}' | tr -d '"')
KEY=$(curl -sf 127.0.0.1:$GW/api/auth/api-keys -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"name":"ab"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
URL=http://127.0.0.1:$GW/app/x
one() { # label credential
  : > $work/gw.log
  local b=$(awk '{print $14+$15}' /proc/$GWP/stat)
  local out=$(wrk -t1 -c32 -d${SECS}s -H "Authorization: Bearer $2" $URL)
  local a=$(awk '{print $14+$15}' /proc/$GWP/stat)
  local n=$(awk '/requests in/ {print $1}' <<<"$out")
  echo "$1 $(awk -v t=$((a-b)) -v n=$n 'BEGIN{printf "%.2f", t/100*1e6/n}')"
}
wrk -t1 -c32 -d2s -H "Authorization: Bearer $TOKEN" $URL >/dev/null
wrk -t1 -c32 -d2s -H "Authorization: Bearer $KEY" $URL >/dev/null
for r in $(seq $R); do one bearer "$TOKEN"; one key "$KEY"; done
kill $GWP; wait $GWP 2>/dev/null; kill $UPP; wait 2>/dev/null; rm -rf $work
