#!/bin/bash
# usage: benches/load/key_ab.sh BIN [rounds] [secs] — Bearer and API-key CPU per request on one
# gateway (one worker, nginx upstream), alternated round by round so both share the noise.
set -e
BIN=$1; R=${2:-4}; SECS=${3:-6}
. "$(dirname "$0")/ab_common.sh"
start_upstream
start_gateway "$BIN" k
GW=$G_k; GWP=$P_k; TOKEN=$T_k
KEY=$(curl -sf 127.0.0.1:$GW/api/auth/api-keys -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"name":"ab"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
URL=http://127.0.0.1:$GW/app/x
one() { # label credential
  : > $work/k/gw.log
  echo "$1 $(cpu_per_request $GWP -t1 -c32 -H "Authorization: Bearer $2" $URL)"
}
wrk -t1 -c32 -d2s -H "Authorization: Bearer $TOKEN" $URL >/dev/null
wrk -t1 -c32 -d2s -H "Authorization: Bearer $KEY" $URL >/dev/null
for r in $(seq $R); do one bearer "$TOKEN"; one key "$KEY"; done
kill $GWP; wait $GWP 2>/dev/null; kill $UPP; wait $UPP 2>/dev/null; rm -rf $work
