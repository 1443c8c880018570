#!/usr/bin/env bash
# Kernel micro-benchmarks (JMH). Arguments go to JMH, e.g.
#   scripts/jmh.sh -p shape=32000x288 -p dtype=f32 -p tokens=1      # a subset
#   scripts/jmh.sh -rf json -rff target/jmh.json                     # machine-readable results
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mvn -q -B test-compile
cp_file="$(mktemp)"
mvn -q -B dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile="$cp_file" >/dev/null
java --add-modules jdk.incubator.vector -cp "target/classes:target/test-classes:$(cat "$cp_file")" \
  org.openjdk.jmh.Main 'dev.earlyexit.bench.*' "$@" 2> >(grep -v '^WARNING: Using incubator modules' >&2)
rm -f "$cp_file"
