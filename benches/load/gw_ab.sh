#!/bin/bash
# usage: benches/load/gw_ab.sh GATEWAY_A GATEWAY_B [pairs] [secs] [public|bearer] — CPU µs per
# request of two gateway builds (one worker each, access log on, same nginx upstream), run one
# after the other in each pair, the order swapped every pair, so both share the machine's
# noise. Prints each pair's B/A ratio and their median: how a change to the gateway's own
# share of a proxied request is measured (README, "Performance"). WRK_THREADS and CONNS
# (default 1 and 32) set wrk's load.
set -e
A=$1; B=$2; PAIRS=${3:-8}; SECS=${4:-5}; KIND=${5:-public}
. "$(dirname "$0")/ab_common.sh"
start_upstream
start_gateway "$A" a
start_gateway "$B" b
trap 'kill $P_a $P_b 2>/dev/null; kill $UPP 2>/dev/null; wait $P_a $P_b $UPP 2>/dev/null; rm -rf $work' EXIT
measure() { # a|b -> µs per request
  local pid=P_$1 g=G_$1 t=T_$1 path=/public/x h=()
  [ "$KIND" = bearer ] && { path=/app/x; h=(-H "Authorization: Bearer ${!t}"); }
  : > $work/$1/gw.log
  cpu_per_request ${!pid} -t${WRK_THREADS:-1} -c${CONNS:-32} "${h[@]}" http://127.0.0.1:${!g}$path
}
measure a >/dev/null; measure b >/dev/null
alternate_pairs $PAIRS
