// llama.cpp's view of a GGUF file, through npm node-llama-cpp 3.21.1 (prebuilt CPU build), for the
// GGUF tests' fixtures in src/test/resources/gguf/. Run with NODE_PATH pointing at a node_modules that
// has node-llama-cpp (e.g. NODE_PATH=/tmp/nlc/node_modules).
//   node scripts/llamacpp-reference.mjs tokenize FILE.gguf TEXTFILE [maxLines]
//       one JSON line: {"file", "bos", "eos", "add_bos" (as llama.cpp read them), "texts": [...], "ids": [[...]]}
//       (each non-empty line, no BOS, no special-token parsing; "ids_special": the same with special tokens parsed)
//   node scripts/llamacpp-reference.mjs greedy FILE.gguf "prompt" [tokens=32]
//       one JSON line: {"file", "prompt", "prompt_ids" (BOS first), "ids"} greedy, 1 thread
//   node scripts/llamacpp-reference.mjs top5 FILE.gguf PROMPTFILE [tokens=64]
//       per non-empty line of PROMPTFILE, one JSON line: {"file", "sha256" (of FILE), "prompt", "prompt_ids",
//       "ids" (greedy, 1 thread), "top5" (per generated position llama.cpp's five most probable next tokens
//       as [id, probability], softmax at temperature 1)}: ../shared/reference/gguf/llamacpp_greedy.jsonl's format
//   node scripts/llamacpp-reference.mjs logprobs FILE.gguf IDS OUT.f32
//       evaluates the comma-separated IDS as given (no BOS) in one batch and writes, for every position,
//       the log-probability of every vocabulary entry for the next token (float32 little-endian,
//       [positions, vocab]): log of llama.cpp's softmax of its raw logits (greedy sampler: nothing
//       truncated or penalised); prints one JSON line {"file", "ids", "vocab", "out"}
import {createRequire} from "module";
import {readFileSync, writeFileSync} from "fs";
import {createHash} from "crypto";
const require = createRequire(process.env.NODE_PATH ? process.env.NODE_PATH + "/" : import.meta.url);
const {getLlama} = await import(require.resolve("node-llama-cpp"));
const [cmd, path, arg, extra] = process.argv.slice(2);
const llama = await getLlama({gpu: false, build: "never"});
const model = await llama.loadModel({modelPath: path});
const file = path.split("/").pop();
if (cmd === "tokenize") {
  const texts = readFileSync(arg, "utf8").split("\n").filter(l => l.trim().length > 0).slice(0, Number(extra ?? 1e9));
  const ids = texts.map(t => Array.from(model.tokenize(t, false)));
  const idsSpecial = texts.map(t => Array.from(model.tokenize(t, true)));
  const t = model.tokens;
  console.log(JSON.stringify({file, bos: t.bos, eos: t.eos, add_bos: t.shouldPrependBosToken, texts, ids,
    ids_special: idsSpecial}));
} else if (cmd === "greedy") {
  const ctx = await model.createContext({contextSize: 512, threads: 1});
  const seq = ctx.getSequence();
  const prompt = [...(model.tokens.bos == null ? [] : [model.tokens.bos]), ...model.tokenize(arg, false)];
  const ids = [];
  for await (const t of seq.evaluate(prompt, {temperature: 0})) {
    ids.push(t);
    if (ids.length >= Number(extra ?? 32)) break;
  }
  console.log(JSON.stringify({file, prompt: arg, prompt_ids: Array.from(prompt), ids}));
} else if (cmd === "top5") {
  const sha256 = createHash("sha256").update(readFileSync(path)).digest("hex");
  const prompts = readFileSync(arg, "utf8").split("\n").filter(l => l.trim().length > 0);
  for (const text of prompts) {
    const ctx = await model.createContext({contextSize: 512, threads: 1});
    const seq = ctx.getSequence();
    const prompt = [...(model.tokens.bos == null ? [] : [model.tokens.bos]), ...model.tokenize(text, false)];
    const ids = [];
    const top5 = [];
    for await (const o of seq.evaluateWithMetadata(prompt, {probabilities: true}, {temperature: 0})) {
      ids.push(o.token);
      top5.push([...o.probabilities.entries()].slice(0, 5).map(([id, p]) => [id, Number(p.toFixed(6))]));
      if (ids.length >= Number(extra ?? 64)) break;
    }
    console.log(JSON.stringify({file, sha256, prompt: text, prompt_ids: Array.from(prompt), ids, top5}));
    await ctx.dispose();
  }
} else if (cmd === "logprobs") {
  const ids = arg.split(",").map(Number);
  const ctx = await model.createContext({contextSize: Math.max(64, ids.length), threads: 1,
    experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32",
    flashAttention: false}); // float32 K and V; CPU flash attention would round to f16 inside
  const seq = ctx.getSequence();
  const out = await seq.controlledEvaluate(ids.map(t => [t, {generateNext: {probabilities: true}}]));
  const n = out[0].next.probabilities.size; // every vocabulary entry: the greedy sampler keeps them all
  const logp = new Float32Array(ids.length * n).fill(-Infinity);
  out.forEach((o, pos) => {
    for (const [token, p] of o.next.probabilities) logp[pos * n + token] = Math.log(p);
  });
  writeFileSync(extra, Buffer.from(logp.buffer));
  console.log(JSON.stringify({file, ids, vocab: n, out: extra}));
} else {
  console.error("usage: tokenize FILE TEXT [n] | greedy FILE PROMPT [n] | top5 FILE PROMPTFILE [n] | logprobs FILE IDS OUT.f32");
  process.exit(2);
}
process.exit(0);
