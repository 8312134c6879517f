#!/bin/bash
# $1 = ZVP_LOAD_ONLY mode, $2 = line that marks the start of the phase to record ("" = at once after warm-up), $3 = out
# $4 = seconds to wait after that line, $5 = seconds to record (default 3). Output: /tmp/$3.{out,data}
BIN=${BIN:?the portal_load bench binary, from cargo bench --no-run}
ZVP_LOAD_ONLY=$1 ZVP_LOAD_SECONDS=5 ZVP_LOAD_STORES=0 $BIN --bench > /tmp/$3.out 2>&1 &
PID=$!
until grep -q "$2" /tmp/$3.out; do sleep 0.05; done
[ -n "$4" ] && sleep $4
perf record -F 400 --call-graph dwarf,16384 -p $PID -o /tmp/$3.data -- sleep ${5:-3} 2>/tmp/$3.perf.err
wait $PID
