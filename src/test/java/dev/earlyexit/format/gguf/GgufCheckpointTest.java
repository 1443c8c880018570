package dev.earlyexit.format.gguf;

import dev.earlyexit.format.Llama2cCheckpoint;
import dev.earlyexit.model.KVCache;
import dev.earlyexit.model.Transformer;
import dev.earlyexit.tensor.DType;
import dev.earlyexit.tensor.ThreadPool;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class GgufCheckpointTest {
    private static final ThreadPool POOL = ThreadPool.ofAvailableCores();
    private static final Path F16 = Path.of("../shared/reference/gguf/stories15M-f16.gguf");
    private static final Path BIN = Path.of("../shared/models/stories15M/model.bin");

    @Test
    void stories15MF16GgufGivesTheLogitsOfModelBin() throws Exception {
        assumeTrue(Files.isRegularFile(F16), "needs " + F16 + " (absent)");
        assumeTrue(Files.isRegularFile(BIN), "needs " + BIN + " (absent)");
        GgufCheckpoint.Loaded g = GgufCheckpoint.load(F16);
        Llama2cCheckpoint.Loaded ref = Llama2cCheckpoint.load(BIN, DType.F32);
        assertThat(g.config().vocabSize()).isEqualTo(ref.config().vocabSize());
        var bin = dev.earlyexit.tokenizer.SentencePieceBpeTokenizer.load(BIN.resolveSibling("tokenizer.bin"));
        for (String text : new String[]{"Once upon a time, there was a little girl named Lily.", "Ünïcødé 日本語 🙂 tabs\tand  spaces"}) {
            assertThat(g.tokenizerOrNull().encode(text)).as(text).containsExactly(bin.encode(text));
        }
        assertThat(g.config().ropeStyle()).isEqualTo(ref.config().ropeStyle());
        int[] ids = {1, 9038, 2501, 263, 931, 29892, 727, 471};
        float[] a = logits(new Transformer(g.config(), g.weights(), POOL), ids);
        float[] b = logits(new Transformer(ref.config(), ref.weights(), POOL), ids);
        int argA = 0, argB = 0;
        double maxDiff = 0;
        for (int i = 0; i < a.length; i++) {
            if (a[i] > a[argA]) argA = i;
            if (b[i] > b[argB]) argB = i;
            maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
        }
        assertThat(argA).isEqualTo(argB);
        assertThat(maxDiff).as("f16 weights vs f32").isLessThan(0.1);
    }

    /** Teacher-forced argmax at every generated position equals the next greedy token: the same as greedy equality. */
    @Test
    void stories15MF16GgufReproducesTheReferenceGreedyTokens() throws Exception {
        assumeTrue(Files.isRegularFile(F16), "needs " + F16 + " (absent)");
        Path greedy = Path.of("src/test/resources/reference/stories15M/greedy.jsonl");
        GgufCheckpoint.Loaded g = GgufCheckpoint.load(F16);
        Transformer t = new Transformer(g.config(), g.weights(), POOL);
        var om = new com.fasterxml.jackson.databind.ObjectMapper();
        int prompts = 0;
        for (String line : Files.readAllLines(greedy)) {
            if (line.isBlank()) {
                continue;
            }
            var ref = om.readTree(line);
            int[] tokens = new int[ref.get("tokens").size()];
            for (int i = 0; i < tokens.length; i++) {
                tokens[i] = ref.get("tokens").get(i).asInt();
            }
            int promptLen = ref.get("prompt_tokens").asInt();
            var c = g.config();
            KVCache cache = new KVCache(c);
            int T = tokens.length - 1;
            float[] x = new float[T * c.dim()];
            t.embed(tokens, 0, T, 0, x);
            t.forward(x, T, 0, c.layers(), cache);
            float[] out = new float[c.vocabSize()];
            for (int pos = promptLen - 1; pos < T; pos++) {
                t.logits(x, pos, out);
                int arg = 0;
                for (int i = 1; i < out.length; i++) {
                    if (out[i] > out[arg]) arg = i;
                }
                assertThat(arg).as("prompt " + prompts + " position " + pos).isEqualTo(tokens[pos + 1]);
            }
            prompts++;
        }
        assertThat(prompts).isEqualTo(5);
    }

    private static float[] logits(Transformer t, int[] ids) {
        var c = t.config();
        KVCache cache = new KVCache(c);
        float[] x = new float[ids.length * c.dim()];
        t.embed(ids, 0, ids.length, 0, x);
        t.forward(x, ids.length, 0, c.layers(), cache);
        float[] out = new float[c.vocabSize()];
        t.logits(x, ids.length - 1, out);
        return out;
    }
}
