#!/usr/bin/env bash
# Fuzzes each reader for SECONDS (default 60) with Jazzer, one target at a time at the lowest CPU priority.
# Not part of CI: plain `mvn test` replays the saved corpus. Findings land in
# src/test/resources/.../<Class>Inputs/<method>/ (kept as regression inputs once fixed).
# Usage: scripts/fuzz.sh [SECONDS] [Class#method ...]
# RUNS=N stops each target after N executions (whichever comes first with SECONDS).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(
    dev.earlyexit.format.FormatFuzzTest#safetensors
    dev.earlyexit.format.FormatFuzzTest#safetensorsIndex
    dev.earlyexit.format.FormatFuzzTest#llama2c
    dev.earlyexit.format.FormatFuzzTest#hfConfig
    dev.earlyexit.format.FormatFuzzTest#tokenizerConfig
    dev.earlyexit.format.GgufFuzzTest#gguf
    dev.earlyexit.format.GgufFuzzTest#ggufModel
    dev.earlyexit.tokenizer.TokenizerFuzzTest#tokenizerBin
    dev.earlyexit.tokenizer.TokenizerFuzzTest#tokenizerJson
    dev.earlyexit.exits.ExitHeadsFuzzTest#exitHeads
    dev.earlyexit.calibration.CalibrationFuzzTest#calibration
    dev.earlyexit.eval.DatasetFuzzTest#jsonl
    dev.earlyexit.eval.DatasetFuzzTest#csv
    dev.earlyexit.eval.DatasetFuzzTest#mmluCsv
    dev.earlyexit.eval.DatasetFuzzTest#parquet
    dev.earlyexit.eval.DatasetFuzzTest#labels
    dev.earlyexit.server.ServerFuzzTest#completionBody
    dev.earlyexit.server.ServerFuzzTest#chatBody
    dev.earlyexit.server.ServerFuzzTest#chatTemplate
  )
fi
mkdir -p target/fuzz
nice -n 19 mvn -B -q test-compile
for t in "${targets[@]}"; do
  log="target/fuzz/${t##*.}.log"
  echo "== $t (${seconds}s)"
  # JAZZER_MAX_DURATION overrides the annotation's 10-minute cap.
  # -timeout: one input running past 5 s is a finding (a hang).
  # -Xmx512m: an input is at most a few hundred kB, so an allocation that exhausts 512 MB is one a header
  # claimed, not one the file's size justifies; the OutOfMemoryError is then a finding.
  JAVA_TOOL_OPTIONS=-Xmx512m JAZZER_FUZZ=1 JAZZER_DISABLED_HOOKS=com.code_intelligence.jazzer.sanitizers.RegexInjection JAZZER_MAX_DURATION="${seconds}s" nice -n 19 mvn -B surefire:test@fuzz-regression -Dtest="$t" -Dsurefire.failIfNoSpecifiedTests=false \
      -Djazzer.internal.arg.0=-timeout=5 -Djazzer.internal.arg.1=-print_final_stats=1 \
      ${RUNS:+-Djazzer.internal.arg.2=-runs=$RUNS} > "$log" 2>&1 || echo "   FAILED (finding?), see $log"
  # libFuzzer's status lines: "#N DONE cov: C ft: F corp: ..." and the final "Done N runs in S second(s)".
  grep -E "^#[0-9]+ +(DONE|pulse)" "$log" | tail -1 | sed 's/^/   last status: /' || true
  grep -E "Done [0-9]+ runs|stat::number_of_executed_units" "$log" | tail -2 | sed 's/^/   /' || true
done
