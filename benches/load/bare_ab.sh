#!/bin/bash
# usage: benches/load/bare_ab.sh BIN_A BIN_B [pairs] [secs] — CPU µs per request of two builds
# of examples/bare_pingora (one thread each, same nginx upstream), run one after the other in
# each pair, the order swapped every pair, so both share the machine's noise. Prints each
# pair's B/A ratio and their median: how a vendored patch is measured (vendor/PATCHES.md).
set -e
A=$1; B=$2; PAIRS=${3:-12}; SECS=${4:-6}
. "$(dirname "$0")/ab_common.sh"
start_upstream
PA=$(port); PB=$(port)
"$A" 127.0.0.1:$PA 127.0.0.1:$UP > $work/a.log 2>&1 & AP=$!
"$B" 127.0.0.1:$PB 127.0.0.1:$UP > $work/b.log 2>&1 & BP=$!
trap 'kill -INT $AP $BP; kill $UPP 2>/dev/null; wait 2>/dev/null; rm -rf $work' EXIT
for p in $PA $PB; do for _ in $(seq 100); do curl -sf 127.0.0.1:$p/x >/dev/null && break; sleep 0.1; done; done
one() { # pid port -> µs per request
  local b=$(awk '{print $14+$15}' /proc/$1/stat)
  local out=$(wrk -t1 -c32 -d${SECS}s http://127.0.0.1:$2/x)
  local a=$(awk '{print $14+$15}' /proc/$1/stat)
  local n=$(awk '/requests in/ {print $1}' <<<"$out")
  awk -v t=$((a-b)) -v n=$n 'BEGIN{printf "%.2f", t/100*1e6/n}'
}
wrk -t1 -c32 -d2s http://127.0.0.1:$PA/x >/dev/null; wrk -t1 -c32 -d2s http://127.0.0.1:$PB/x >/dev/null
ratios=()
for i in $(seq $PAIRS); do
  if (( i % 2 )); then a=$(one $AP $PA); b=$(one $BP $PB); else b=$(one $BP $PB); a=$(one $AP $PA); fi
  r=$(awk -v a=$a -v b=$b 'BEGIN{printf "%.3f", b/a}')
  ratios+=("$r"); echo "pair $i: A $a µs  B $b µs  B/A $r"
done
printf '%s\n' "${ratios[@]}" | sort -n | awk '{v[NR]=$1} END{m=(NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2; printf "median B/A %.3f over %d pairs (min %.3f, max %.3f)\n", m, NR, v[1], v[NR]}'
