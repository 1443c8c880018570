#!/usr/bin/env bash
# Server throughput: 1 greedy stream against N concurrent ones on stories15M, alternating rounds.
# Usage: scripts/serve-bench.sh [rounds=3] [streams=4] [tokens=200]   (2 model threads)
set -euo pipefail
cd "$(dirname "$0")/.."
mvn -q -o test-compile dependency:build-classpath -Dmdep.outputFile=target/cp.txt >/dev/null
exec java --add-modules jdk.incubator.vector -XX:+UseSerialGC -Xmn16m -XX:PretenureSizeThreshold=1m -XX:ObjectAlignmentInBytes=64 \
  -cp "target/test-classes:target/classes:$(cat target/cp.txt)" dev.earlyexit.server.ServerThroughputBench "$@"
