#!/usr/bin/env bash
# The tests under load: runs a vitest command three times in a row with two CPU-burning
# processes beside it, and stops at the first failing run. A test that sleeps and then assumes
# another process got somewhere, or whose timeout only fits an idle machine, fails here instead
# of once in a while on CI.
#
#   bash test/stress.sh                                     # the whole suite
#   bash test/stress.sh npx vitest run --config test/vitest.config.ts test/integration/hostmount
#   RUNS=5 BURNERS=4 bash test/stress.sh ...                # more runs, more load
set -u
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
BURNERS=${BURNERS:-2}
if [ "$#" -eq 0 ]; then
  set -- npx vitest run --config test/vitest.config.ts
fi

burners=()
cmd=''
cleanup() {
  # Only what this script started, by pid: the command of an interrupted run, the busy loops.
  if [ -n "$cmd" ]; then
    kill "$cmd" 2>/dev/null
    wait "$cmd" 2>/dev/null
  fi
  if [ "${#burners[@]}" -gt 0 ]; then
    kill "${burners[@]}" 2>/dev/null
    wait "${burners[@]}" 2>/dev/null
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for _ in $(seq "$BURNERS"); do
  # A busy loop that never sleeps: `yes` writing to /dev/null.
  yes >/dev/null &
  burners+=("$!")
done
echo "stress: ${BURNERS} busy loops (pids ${burners[*]}) beside: $*" >&2

for run in $(seq "$RUNS"); do
  start=$(date +%s)
  # In the background and waited for, so that a signal to this script runs its traps at once.
  "$@" &
  cmd=$!
  wait "$cmd"
  status=$?
  cmd=''
  echo "stress: run ${run}/${RUNS}: exit ${status} after $(($(date +%s) - start)) s" >&2
  if [ "$status" -ne 0 ]; then
    exit "$status"
  fi
done
echo "stress: ${RUNS} runs passed" >&2
