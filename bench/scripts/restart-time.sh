#!/usr/bin/env bash
# Measures how long the local cluster's ledger (a single writer) is away when its process is
# killed: from SIGKILL to /health/ready answering 200 again on the same port (the supervisor
# notices the exit, starts it again, it opens its store and starts discovery). Run N times with
# etcd answering, then N times with every etcd member hung (SIGSTOP): the process then starts
# from its discovery snapshot. Prints one line per run and the median of each set.
# Usage: bench/scripts/restart-time.sh [RUNS]   (needs etcd on PATH; builds nothing: run after scripts/test or dotnet build -c Release)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-5}
state=$(mktemp -d /tmp/bulwark-restart-XXXXXX)
bulwark() { dotnet src/Bulwark.Cli/bin/Release/net10.0/bulwark.dll "$@"; }
trap 'for p in $(python3 -c "import json;print(\" \".join(str(m[\"pid\"]) for m in json.load(open(\"$state/cluster.json\"))[\"members\"]))" 2>/dev/null); do kill -CONT "$p" 2>/dev/null || true; done; bulwark cluster down --state "$state" >/dev/null 2>&1 || true; rm -rf "$state"' EXIT
bulwark cluster up --state "$state" --etcd-members 3 --replicas feed=0,cards=0,edge=0 --edge-port 0 >/dev/null
field() { python3 -c "import json;s=json.load(open('$state/cluster.json'));i=[i for i in s['instances'] if i['service']=='ledger'][0];print(i['$1'])"; }
members() { python3 -c "import json;print(' '.join(str(m['pid']) for m in json.load(open('$state/cluster.json'))['members']))"; }
measure() {
  local pid port start now code
  pid=$(field pid); port=$(field port)
  start=$(date +%s%N)
  kill -KILL "$pid"
  for _ in $(seq 1 600); do
    code=$(curl -s -o /dev/null -m 1 --http2-prior-knowledge -w '%{http_code}' "http://127.0.0.1:$port/health/ready" || true)
    if [ "$code" = 200 ] && [ "$(field pid)" != "$pid" ]; then break; fi
    sleep 0.05
  done
  now=$(date +%s%N)
  echo $(( (now - start) / 1000000 ))
}
for mode in "etcd answering" "etcd hung"; do
  [ "$mode" = "etcd hung" ] && for p in $(members); do kill -STOP "$p"; done
  times=()
  for i in $(seq 1 "$runs"); do
    sleep "${RESTART_GAP_SECONDS:-62}"
    t=$(measure); times+=("$t"); echo "$mode run $i: ledger ready again after $t ms"
  done
  [ "$mode" = "etcd hung" ] && for p in $(members); do kill -CONT "$p"; done
  printf '%s\n' "${times[@]}" | sort -n | awk -v m="$mode" '{a[NR]=$1} END {print m ": median " a[int((NR+1)/2)] " ms of " NR " runs"}'
done
