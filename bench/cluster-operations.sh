#!/bin/bash
# Failed calls during local-cluster operations: a cluster from `bulwark cluster up`, one client
# calling the edge (POST /api/login with a wrong password: 401 means edge -> bulwark:///accounts
# -> accounts answered; anything else is a failed call), one call at a time, while each operation
# runs. Usage: bench/cluster-operations.sh [STATE_DIR]; BULWARK overrides how bulwark is run,
# UP_ARGS adds options to `cluster up` (e.g. UP_ARGS="--store postgres --replicas accounts=2").
set -u
B=${BULWARK:-"dotnet run -c Release --project src/Bulwark.Cli --"}
S=${1:-/tmp/bulwark-cluster-bench}
STOP=$S.stop
$B cluster down --state "$S" >/dev/null 2>&1
rm -rf "$S"
start=$(date +%s.%N)
$B cluster up --state "$S" --edge-port 0 ${UP_ARGS:-} > "$S.up" 2>&1 || { cat "$S.up"; exit 1; }
echo "cluster up: $(echo "$(date +%s.%N) - $start" | bc) s wall (command included)"
cat "$S.up"
port=$(grep -o 'http://127.0.0.1:[0-9]*' "$S.up" | tail -1 | cut -d: -f3)
probe() {
  local ok=0 fail=0 codes=""
  while [ ! -f "$STOP" ]; do
    c=$(curl -s -o /dev/null -w '%{http_code}' -m 5 "http://127.0.0.1:$port/api/login" -H 'Content-Type: application/json' -d '{"email":"nobody@bulwark.example","password":"x"}')
    if [ "$c" = "401" ]; then ok=$((ok+1)); else fail=$((fail+1)); codes="$codes $c"; fi
  done
  echo "calls ok=$ok failed=$fail${codes:+ (${codes:0:60}...)}"
}
run() {
  rm -f "$STOP"; probe > "$S.probe" & local p=$!
  sleep 1; local s; s=$(date +%s.%N); eval "$1" > "$S.op" 2>&1; local rc=$?; local e; e=$(date +%s.%N); sleep 1
  touch "$STOP"; wait $p
  echo "== $2: exit $rc, $(echo "$e - $s" | bc) s; $(cat "$S.probe")"
}
run "$B deploy accounts --version v2 --state $S" "deploy accounts v2"
run "BULWARK_TEST_NEVER_READY_VERSIONS=v3 $B deploy accounts --version v3 --healthy-within 5s --state $S" "deploy accounts v3 that never becomes ready (rolled back)"
run "$B rollback accounts --state $S" "rollback accounts"
run "for i in 1 2 3 4 5 6; do $B etcd add-member --state $S || exit 1; done; for m in etcd1 etcd2 etcd3 '' '' ''; do $B etcd remove-member \$m --state $S || exit 1; done" "etcd 3 -> 9 -> 3"
sleep 5
$B cluster status --state "$S"
s=$(date +%s.%N); $B cluster down --state "$S" | tail -1; echo "cluster down: $(echo "$(date +%s.%N) - $s" | bc) s wall"
rm -f "$S.up" "$S.op" "$S.probe" "$STOP"
