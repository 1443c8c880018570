#!/usr/bin/env bash
# Regenerates the committed Parquet test fixtures from the SQL in their READMEs, with the DuckDB of
# the test dependencies (dev.earlyexit.testutil.DuckDbFixtures). Arguments: READMEs (default: every
# README.md under src/test/resources with a ```sql block).
# The tests check that each README writes its committed files byte for byte, so run this after
# editing a README's SQL or upgrading DuckDB, then rerun the tests the fixtures serve.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ $# -eq 0 ]]; then
  mapfile -t readmes < <(grep -rl --include=README.md '^```sql' src/test/resources | sort)
  set -- "${readmes[@]}"
fi
mvn -q -B test-compile
cp_file="$(mktemp)"
mvn -q -B dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile="$cp_file" >/dev/null
java -cp "target/classes:target/test-classes:$(cat "$cp_file")" dev.earlyexit.testutil.DuckDbFixtures "$@"
rm -f "$cp_file"
