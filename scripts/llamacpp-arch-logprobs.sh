#!/usr/bin/env bash
# Regenerates src/test/resources/gguf/arch/NAME-f32.logprobs.f32: llama.cpp's (npm node-llama-cpp 3.21.1)
# log-probabilities on each tiny architecture checkpoint of src/test/resources/reference/arch, written
# as f32 GGUF by our converter (GgufArchExportTest keeps the files it writes under -Dgguf.arch.out).
# Usage: NODE_PATH=/path/to/node_modules scripts/llamacpp-arch-logprobs.sh [work dir, default target/arch-gguf]
set -euo pipefail
work="${1:-target/arch-gguf}"
res=src/test/resources
mkdir -p "$work" "$res/gguf/arch"
mvn -B -q -o test -Dtest='GgufArchExportTest#writtenAndReadBackGivesTheHuggingFaceLogits' -Dgguf.arch.out="$work" \
    -Dsurefire.failIfNoSpecifiedTests=false >/dev/null
for name in gpt2 gpt_neox llama31 llama_gqa phi phi3 qwen2 qwen3; do
    ids="$(node -e 'console.log(require(process.argv[1]).input_ids.join(","))' "$PWD/$res/reference/arch/$name/reference.json")"
    node scripts/llamacpp-reference.mjs logprobs "$work/$name-f32.gguf" "$ids" "$res/gguf/arch/$name-f32.logprobs.f32"
done
