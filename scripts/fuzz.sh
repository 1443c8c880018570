#!/usr/bin/env bash
# Fuzzes each reader for SECONDS (default 60) with Jazzer, one target at a time at the lowest CPU priority.
# Not part of CI: plain `mvn test` replays the saved corpus. Findings land in
# src/test/resources/.../<Class>Inputs/<method>/ (kept as regression inputs once fixed).
# Usage: scripts/fuzz.sh [SECONDS] [Class#method ...]
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
    dev.earlyexit.format.gguf.GgufFuzzTest#gguf
    dev.earlyexit.tokenizer.TokenizerFuzzTest#tokenizerBin
    dev.earlyexit.tokenizer.TokenizerFuzzTest#tokenizerJson
    dev.earlyexit.exits.ExitHeadsFuzzTest#exitHeads
    dev.earlyexit.calibration.CalibrationFuzzTest#calibration
    dev.earlyexit.eval.DatasetFuzzTest#jsonl
    dev.earlyexit.eval.DatasetFuzzTest#csv
    dev.earlyexit.eval.DatasetFuzzTest#mmluCsv
    dev.earlyexit.eval.DatasetFuzzTest#parquet
    dev.earlyexit.eval.DatasetFuzzTest#labels
  )
fi
mkdir -p target/fuzz
nice -n 19 mvn -B -q -o test-compile
for t in "${targets[@]}"; do
  log="target/fuzz/${t##*.}.log"
  echo "== $t (${seconds}s)"
  # JAZZER_MAX_DURATION overrides the annotation's 10-minute cap.
  # -timeout: one input running past 5 s is a finding (a hang).
  JAZZER_FUZZ=1 JAZZER_DISABLED_HOOKS=com.code_intelligence.jazzer.sanitizers.RegexInjection JAZZER_MAX_DURATION="${seconds}s" nice -n 19 mvn -B -o surefire:test@fuzz-regression -Dtest="$t" -Dsurefire.failIfNoSpecifiedTests=false \
      -Djazzer.internal.arg.0=-timeout=5 -Djazzer.internal.arg.1=-print_final_stats=1 > "$log" 2>&1 || echo "   FAILED (finding?), see $log"
  # libFuzzer's status lines: "#N DONE cov: C ft: F corp: ..." and the final "Done N runs in S second(s)".
  grep -E "^#[0-9]+ +(DONE|pulse)" "$log" | tail -1 | sed 's/^/   last status: /' || true
  grep -E "Done [0-9]+ runs|stat::number_of_executed_units" "$log" | tail -2 | sed 's/^/   /' || true
done
