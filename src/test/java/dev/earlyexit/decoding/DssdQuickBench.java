package dev.earlyexit.decoding;

import dev.earlyexit.exits.ExitHead;
import dev.earlyexit.format.Llama2cCheckpoint;
import dev.earlyexit.model.Transformer;
import dev.earlyexit.tensor.DType;
import dev.earlyexit.tensor.ThreadPool;
import dev.earlyexit.testutil.TestModels;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Development harness, not a test: decode tokens/s of full-model greedy decoding, DSSD and the
 * LayerSkip baseline on stories15M with the logit-lens test heads after layers 2 and 4, over the five
 * reference prompts. Run from the repository root:
 * {@code java --add-modules jdk.incubator.vector -cp target/classes:target/test-classes:<deps>
 * dev.earlyexit.decoding.DssdQuickBench [threads] [tokens]}.
 *
 * <p>These heads read the whole 32000 x 288 classifier (about 37 MB in float32) per call, against
 * about 4 MB per layer, so each draft step costs more than a full decode step: they show the machinery
 * and its bookkeeping, not a speed-up, which needs reduced-vocabulary heads.
 */
public final class DssdQuickBench {
    public static void main(String[] args) throws Exception {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : 2;
        int tokens = args.length > 1 ? Integer.parseInt(args[1]) : 64;
        Path model = TestModels.stories15M();
        var m = Llama2cCheckpoint.load(model, DType.F32);
        List<int[]> prompts = new ArrayList<>();
        for (String line : Files.readAllLines(TestModels.resource("reference/stories15M/greedy.jsonl"))) {
            if (line.isBlank()) {
                continue;
            }
            var ref = new com.fasterxml.jackson.databind.ObjectMapper().readTree(line);
            int n = ref.get("prompt_tokens").asInt();
            int[] p = new int[n];
            for (int i = 0; i < n; i++) {
                p[i] = ref.get("tokens").get(i).asInt();
            }
            prompts.add(p);
        }
        try (ThreadPool pool = new ThreadPool(threads)) {
            Transformer tf = new Transformer(m.config(), m.weights(), pool);
            List<ExitHead> heads = List.of(new FinalNormClassifierTestHead(m.config(), m.weights(), 2),
                    new FinalNormClassifierTestHead(m.config(), m.weights(), 4));
            Generator full = new Generator(tf);
            SelfSpeculativeDecoder dssd = new SelfSpeculativeDecoder(tf, heads, ExitCriterion.maxProbability(0.5f), 4);
            SelfSpeculativeDecoder layerSkip = SelfSpeculativeDecoder.layerSkip(tf, heads.get(1), 2);
            for (int warm = 0; warm < 2; warm++) { // JIT warm-up
                full.generate(prompts.get(0), tokens, SamplingOptions.GREEDY, null, false);
                dssd.generate(prompts.get(0), tokens, SamplingOptions.GREEDY, null, false);
                layerSkip.generate(prompts.get(0), tokens, SamplingOptions.GREEDY, null, false);
            }
            long steps = 0;
            double ms = 0;
            for (int[] p : prompts) {
                GenerationResult r = full.generate(p, tokens, SamplingOptions.GREEDY, null, false);
                steps += r.decodeSteps();
                ms += r.decodeMs();
            }
            double fullTps = steps / (ms / 1000.0);
            System.out.printf("full greedy: %.1f tokens/s (%d tokens, %d threads)%n", fullTps, steps, threads);
            for (SelfSpeculativeDecoder d : List.of(dssd, layerSkip)) {
                SpeculativeSweep.Row row = SpeculativeSweep.run(d, d.mode(), -1, prompts, tokens);
                System.out.printf("%s%n    speed-up %.2fx over full greedy; head call %.1f MB, full-model token-layers %d%n", row,
                        row.tokensPerSecond() / fullTps, heads.get(0).bytesPerCall() / 1e6, steps * m.config().layers());
            }
        }
    }
}
