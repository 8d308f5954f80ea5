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
one() { # name -> µs per request
  local pid=P_$1 g=G_$1 t=T_$1 path=/public/x h=()
  [ "$KIND" = bearer ] && { path=/app/x; h=(-H "Authorization: Bearer ${!t}"); }
  : > $work/$1/gw.log
  local b=$(awk '{print $14+$15}' /proc/${!pid}/stat)
  local out=$(wrk -t${WRK_THREADS:-1} -c${CONNS:-32} -d${SECS}s "${h[@]}" http://127.0.0.1:${!g}$path)
  local a=$(awk '{print $14+$15}' /proc/${!pid}/stat)
  local n=$(awk '/requests in/ {print $1}' <<<"$out")
  local non2=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  [ -z "$non2" ] || { echo "gateway $1 answered $non2 requests with other than 2xx" >&2; exit 1; }
  awk -v t=$((a-b)) -v n=$n 'BEGIN{printf "%.2f", t/100*1e6/n}'
}
one a >/dev/null; one b >/dev/null
ratios=()
for i in $(seq $PAIRS); do
  if (( i % 2 )); then a=$(one a); b=$(one b); else b=$(one b); a=$(one a); fi
  r=$(awk -v a=$a -v b=$b 'BEGIN{printf "%.3f", b/a}')
  ratios+=("$r"); echo "pair $i: A $a µs  B $b µs  B/A $r"
done
printf '%s\n' "${ratios[@]}" | sort -n | awk '{v[NR]=$1} END{m=(NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2; printf "median B/A %.3f over %d pairs (min %.3f, max %.3f)\n", m, NR, v[1], v[NR]}'
