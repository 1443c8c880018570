#!/usr/bin/env bash
# Server throughput: 1 greedy stream against N concurrent ones, per decoding mode, alternating rounds.
# Usage: scripts/serve-bench.sh [rounds=3] [streams=4] [tokens=200] [modes=full]
#   modes: a comma list of early_exit modes, each optionally with :epsilon (full,early-exit:0.9,dssd).
#   With full alone the bench runs an in-process server on stories15M (2 model threads). Any other
#   mode (or MODEL set) needs a real server: the bench then starts `./earlyexit serve --model
#   ${MODEL:-stories15M} --slots N` on port ${PORT:-18080} (heads and calibration found as serve finds
#   them; `./earlyexit demo` makes them) and measures it over HTTP.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3} streams=${2:-4} tokens=${3:-200} modes=${4:-full}
mvn -q -o test-compile dependency:build-classpath -Dmdep.outputFile=target/cp.txt >/dev/null
bench() {
  java --add-modules jdk.incubator.vector -XX:+UseSerialGC -Xmn16m -XX:PretenureSizeThreshold=1m -XX:ObjectAlignmentInBytes=64 \
    -cp "target/test-classes:target/classes:$(cat target/cp.txt)" dev.earlyexit.server.ServerThroughputBench "$@"
}
if [[ "$modes" == full && -z "${MODEL:-}" ]]; then
  exec bench "$rounds" "$streams" "$tokens" fixture full
fi
port=${PORT:-18080}
./earlyexit serve --model "${MODEL:-stories15M}" --slots "$streams" --port "$port" --threads 2 >target/serve-bench.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 600); do
  curl -sf "localhost:$port/health" >/dev/null && break
  kill -0 $server 2>/dev/null || { cat target/serve-bench.log; exit 1; }
  sleep 0.5
done
bench "$rounds" "$streams" "$tokens" "http://127.0.0.1:$port" "$modes"
