// llama.cpp's time to be ready on a GGUF file, through node-llama-cpp 3.21.1 (as llamacpp_bench.mjs):
// loading the model and a context, then the first token of "Once upon a time". Prints one JSON line.
// Usage (from the folder where node-llama-cpp is installed): node llamacpp-load.mjs model.gguf [threads=2]
import {getLlama} from "node-llama-cpp";
const [path, threads = "2"] = process.argv.slice(2);
const llama = await getLlama({gpu: false, build: "never"});
const t0 = performance.now();
const model = await llama.loadModel({modelPath: path});
const ctx = await model.createContext({contextSize: 512, threads: Number(threads), batchSize: 512});
const t1 = performance.now();
const seq = ctx.getSequence();
const bos = model.tokens.bos == null ? [] : [model.tokens.bos];
for await (const _ of seq.evaluate([...bos, ...model.tokenize("Once upon a time", false)], {temperature: 0})) {
  break;
}
const t2 = performance.now();
console.log(JSON.stringify({model: path, load_ms: t1 - t0, first_token_ms: t2 - t1}));
