#!/bin/bash
# usage: benches/load/profile.sh GATEWAY OUT [public|bearer] [secs] — a DWARF call-graph
# profile of one gateway (one worker, access log on, nginx upstream) under wrk -t1 -c32, saved
# as OUT.data, with OUT listing functions by their share including callees. Then split a
# function's samples by what it calls (or is called by) with callees.py:
#   perf script -i OUT.data -F comm,ip,sym > OUT.script
#   benches/load/callees.py OUT.script 'ProxyHttp>::request_filter'
set -e
BIN=$1; OUT=$2; KIND=${3:-public}; SECS=${4:-3}
. "$(dirname "$0")/ab_common.sh"
start_upstream
start_gateway "$BIN" p
trap 'kill $P_p 2>/dev/null; kill $UPP 2>/dev/null; wait $P_p $UPP 2>/dev/null; rm -rf $work' EXIT
path=/public/x; h=()
[ "$KIND" = bearer ] && { path=/app/x; h=(-H "Authorization: Bearer $T_p"); }
wrk -t1 -c32 -d$((SECS + 3))s "${h[@]}" http://127.0.0.1:$G_p$path > /dev/null & WP=$!
sleep 1
perf record -F 700 --call-graph dwarf,32768 -p $P_p -o "$OUT.data" -- sleep "$SECS" >/dev/null 2>&1
wait $WP
perf report -i "$OUT.data" --children --sort sym --stdio 2>/dev/null |
  grep -E "^ +[0-9.]+% +[0-9.]+%" | head -200 > "$OUT"
