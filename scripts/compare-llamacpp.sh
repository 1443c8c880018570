#!/usr/bin/env bash
# Side by side with llama.cpp on the same GGUF files, in alternating rounds: decode tokens/s (greedy after
# "Once upon a time"), the time to evaluate a 225-token prompt (llama.cpp's count with the Llama-3
# tokenizer), and, from a fresh process each, the load time (file to ready, before any token), the first
# token of a short prompt after it, and peak RSS, for each file given. Prints tables of medians and
# per-round ratios.
#
#   scripts/compare-llamacpp.sh [-r ROUNDS] [-t THREADS] [-n TOKENS] FILE.gguf...
#
# llama.cpp comes from npm (node-llama-cpp 3.21.1, its prebuilt CPU build), set up once in
# $LLAMACPP_DIR (default /tmp/earlyexit-llamacpp). A model of Llama-3.2-1B's shape with random weights:
#   python3 ../shared/tools/make_random_llama.py /tmp/llama1b tokenizer.json   (bf16 and q8_0 GGUFs)
# and ../shared/tools/gguf_quantize.c for q4_0 / q4_k. Not part of the build or the tests.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rounds=3 threads=2 tokens=64
while getopts "r:t:n:" o; do
  case "$o" in r) rounds=$OPTARG ;; t) threads=$OPTARG ;; n) tokens=$OPTARG ;; *) exit 2 ;; esac
done
shift $((OPTIND - 1))
(($# > 0)) || { echo "usage: $0 [-r ROUNDS] [-t THREADS] [-n TOKENS] FILE.gguf..." >&2; exit 2; }

dir="${LLAMACPP_DIR:-/tmp/earlyexit-llamacpp}"
if [[ ! -d "$dir/node_modules/node-llama-cpp" ]]; then
  mkdir -p "$dir"
  (cd "$dir" && npm init -y >/dev/null && npm i -E node-llama-cpp@3.21.1 >/dev/null)
fi
bench_js="$dir/llamacpp_bench.mjs"
if [[ -f "$root/../shared/tools/llamacpp_bench.mjs" ]]; then
  cp "$root/../shared/tools/llamacpp_bench.mjs" "$bench_js"
fi
[[ -f "$bench_js" ]] || { echo "$0: needs llamacpp_bench.mjs (../shared/tools) in $dir" >&2; exit 1; }
load_js="$dir/llamacpp-load.mjs"
cp "$root/scripts/llamacpp-load.mjs" "$load_js"
rss="$(mktemp)"

long_prompt="$(printf 'The little dog ran to the park and played with a red ball. %.0s' $(seq 16))"
long_prompt="${long_prompt% }"
results="$(mktemp)"
for ((r = 1; r <= rounds; r++)); do
  for f in "$@"; do
    # llama.cpp first in odd rounds, ours first in even ones, so neither always runs on a warmer machine.
    for side in $( ((r % 2)) && echo "llama ours" || echo "ours llama"); do
      if [[ $side == llama ]]; then
        l="$(/usr/bin/time -f %M -o "$rss" node "$load_js" "$f" "$threads")"
        python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print("load", sys.argv[2], sys.argv[3], "llama.cpp", d["load_ms"], d["first_token_ms"], open(sys.argv[4]).read().split()[-1])' "$l" "$r" "$f" "$rss" >>"$results"
        j="$(node "$bench_js" "$f" "$threads" "$tokens")"
        python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(sys.argv[2], sys.argv[3], "llama.cpp", d["decode_tokens_per_s"], d["prefill_ms"])' "$j" "$r" "$f" >>"$results"
      else
        l="$(/usr/bin/time -f %M -o "$rss" "$root/earlyexit" generate --model "$f" --threads "$threads" --prompt "Once upon a time" --max-tokens 1 --json)"
        python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print("load", sys.argv[2], sys.argv[3], "earlyexit", d["load_ms"], d["prefill_ms"], open(sys.argv[4]).read().split()[-1])' "$l" "$r" "$f" "$rss" >>"$results"
        d="$("$root/earlyexit" bench --model "$f" --threads "$threads" --tokens "$tokens" --runs 3 --warmup 1 --no-progress --json)"
        p="$("$root/earlyexit" bench --model "$f" --threads "$threads" --tokens 2 --runs 1 --warmup 1 --no-progress --json --prompt "$long_prompt")"
        python3 -c 'import json,sys; d=json.loads(sys.argv[1]); p=json.loads(sys.argv[2]); print(sys.argv[3], sys.argv[4], "earlyexit", d["tokens_per_s"], p["results"][-1]["prefill_ms"], p["prompt_tokens"])' "$d" "$p" "$r" "$f" >>"$results"
      fi
    done
  done
done
python3 - "$results" <<'PY'
import sys, os, statistics as st, collections
lines = [l.split() for l in open(sys.argv[1])]
loads = [l[1:] for l in lines if l[0] == "load"]
rows = [l for l in lines if l[0] != "load"]
by = collections.defaultdict(dict)
for r in rows:
    by[(r[1], r[0])][r[2]] = (float(r[3]), float(r[4]), r[5] if len(r) > 5 else "")
files = sorted({k[0] for k in by})
print("| file | llama.cpp decode tok/s | ours | ratio (median of rounds) | llama.cpp prefill ms | ours | ratio (llama.cpp / ours) |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for f in files:
    rs = [v for k, v in by.items() if k[0] == f and "llama.cpp" in v and "earlyexit" in v]
    ld = [v["llama.cpp"][0] for v in rs]; od = [v["earlyexit"][0] for v in rs]
    lp = [v["llama.cpp"][1] for v in rs]; op = [v["earlyexit"][1] for v in rs]
    dr = [o / l for o, l in zip(od, ld)]; pr = [l / o for o, l in zip(op, lp)]
    print(f"| {f.split('/')[-1]} | {st.median(ld):.2f} | {st.median(od):.2f} | {st.median(dr):.2f}x | {st.median(lp):.0f} | {st.median(op):.0f} | {st.median(pr):.2f}x |")
ours = [r for r in rows if len(r) > 5]
print(f"({len(rows)} runs; our long prompt: {ours[-1][5] if ours else '?'} tokens with the file's tokenizer, BOS included)")
print()
print("| file | size GB | llama.cpp load ms | ours | llama.cpp first token ms | ours | llama.cpp peak RSS GB | ours | ours / size |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for f in files:
    def med(engine, i):
        return st.median(float(l[3 + i]) for l in loads if l[1] == f and l[2] == engine)
    size = os.path.getsize(f) / 1e9
    print(f"| {f.split('/')[-1]} | {size:.2f} | {med('llama.cpp', 0):.0f} | {med('earlyexit', 0):.0f} | "
          f"{med('llama.cpp', 1):.0f} | {med('earlyexit', 1):.0f} | {med('llama.cpp', 2) / 1e6:.2f} | "
          f"{med('earlyexit', 2) / 1e6:.2f} | {med('earlyexit', 2) / 1e6 / size:.2f}x |")
print("(load: file to ready before any token, llama.cpp mapping the file lazily; first token: a 4-5 token prompt after it, ours with a cold JIT; RSS in kB/1e6)")
PY
rm -f "$results" "$rss"
