#!/usr/bin/env bash
# Micro-benchmarks (JMH), see docs/jmh.md. A first argument that is not an option picks benchmarks
# (a regex over their names; default: all); the rest go to JMH, e.g.
#   scripts/jmh.sh ExitHead -f 1 -wi 2 -i 3                        # exit heads only, a short run
#   scripts/jmh.sh -p shape=32000x288 -p dtype=f32 -p tokens=1      # a subset of the kernels
#   scripts/jmh.sh -rf json -rff target/jmh.json                     # machine-readable results
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
benchmarks='dev.earlyexit.bench.*'
if [[ $# -gt 0 && "$1" != -* ]]; then
  benchmarks="$1"
  shift
fi
mvn -q -B test-compile
cp_file="$(mktemp)"
mvn -q -B dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile="$cp_file" >/dev/null
java --add-modules jdk.incubator.vector -cp "target/classes:target/test-classes:$(cat "$cp_file")" \
  org.openjdk.jmh.Main "$benchmarks" "$@" 2> >(grep -v '^WARNING: Using incubator modules' >&2)
rm -f "$cp_file"
