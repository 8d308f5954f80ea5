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
measure() { # a|b -> µs per request
  if [ $1 = a ]; then cpu_per_request $AP -t1 -c32 http://127.0.0.1:$PA/x
  else cpu_per_request $BP -t1 -c32 http://127.0.0.1:$PB/x; fi
}
wrk -t1 -c32 -d2s http://127.0.0.1:$PA/x >/dev/null; wrk -t1 -c32 -d2s http://127.0.0.1:$PB/x >/dev/null
alternate_pairs $PAIRS
