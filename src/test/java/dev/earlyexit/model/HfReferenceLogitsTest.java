package dev.earlyexit.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.earlyexit.format.HfCheckpoint;
import dev.earlyexit.tensor.DType;
import dev.earlyexit.tensor.Kernels;
import dev.earlyexit.tensor.ThreadPool;
import dev.earlyexit.testutil.TestModels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Hugging Face checkpoints of each supported architecture against float64 PyTorch references
 * (src/test/resources/reference/arch): every logit of a 24-token input, by block prefill and by
 * token-by-token decoding, and 16 greedy tokens.
 */
class HfReferenceLogitsTest {
    private static ThreadPool pool;

    @BeforeAll
    static void startPool() {
        pool = new ThreadPool(2);
    }

    @AfterAll
    static void stopPool() {
        pool.close();
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt_neox", "phi", "gpt2", "qwen2", "llama_gqa", "qwen3", "llama31", "phi3"})
    void matchesReferenceLogitsAndGreedyTokens(String name) throws Exception {
        Path dir = TestModels.resource("reference/arch/" + name);
        JsonNode ref = new ObjectMapper().readTree(dir.resolve("reference.json").toFile());
        float[] expected = readFloats(dir.resolve(ref.get("logits_file").asText()));
        int[] ids = ReferenceLogitsTest.toInts(ref.get("input_ids"));
        double tolerance = 1e-4 * ref.get("max_abs_logit").asDouble();

        HfCheckpoint.Loaded m = HfCheckpoint.load(dir, DType.F32);
        Transformer tf = new Transformer(m.config(), m.weights(), pool);
        int vocab = m.config().vocabSize();
        assertThat(expected).hasSize(ids.length * vocab);

        float blockDiff = maxDiff(logits(tf, ids, true), expected);
        float stepDiff = maxDiff(logits(tf, ids, false), expected);
        System.out.printf("%s: max |logit - ref| block %.3g, token-by-token %.3g (tolerance %.3g)%n",
                name, blockDiff, stepDiff, tolerance);
        assertThat((double) blockDiff).as("block prefill").isLessThan(tolerance);
        assertThat((double) stepDiff).as("token by token").isLessThan(tolerance);

        int[] greedy = greedy(tf, ReferenceLogitsTest.toInts(ref.get("greedy_prompt")), ref.get("greedy_ids").size());
        assertThat(greedy).containsExactly(ReferenceLogitsTest.toInts(ref.get("greedy_ids")));
    }

    /** Logits at every position: one block forward, or one token at a time through the KV cache. */
    static float[] logits(Transformer tf, int[] ids, boolean block) {
        ModelConfig c = tf.config();
        int n = ids.length;
        int vocab = c.vocabSize();
        KVCache cache = new KVCache(c);
        float[] out = new float[n * vocab];
        if (block) {
            float[] x = new float[n * c.dim()];
            tf.embed(ids, 0, n, 0, x);
            tf.forward(x, n, 0, c.layers(), cache);
            tf.logitsBlock(x, n, out);
        } else {
            float[] x = new float[c.dim()];
            float[] row = new float[vocab];
            for (int p = 0; p < n; p++) {
                tf.embed(ids, p, 1, p, x);
                tf.forward(x, 1, 0, c.layers(), cache);
                tf.logits(x, 0, row);
                System.arraycopy(row, 0, out, p * vocab, vocab);
            }
        }
        return out;
    }

    /** Prefills the prompt as one block, then decodes {@code count} argmax tokens through the cache. */
    static int[] greedy(Transformer tf, int[] prompt, int count) {
        ModelConfig c = tf.config();
        KVCache cache = new KVCache(c);
        float[] x = new float[prompt.length * c.dim()];
        float[] row = new float[c.vocabSize()];
        tf.embed(prompt, 0, prompt.length, 0, x);
        tf.forward(x, prompt.length, 0, c.layers(), cache);
        tf.logits(x, prompt.length - 1, row);
        int[] out = new int[count];
        for (int i = 0; i < count; i++) {
            out[i] = Kernels.argmax(row, 0, row.length);
            if (i + 1 < count) {
                tf.embed(out, i, 1, prompt.length + i, x);
                tf.forward(x, 1, 0, c.layers(), cache);
                tf.logits(x, 0, row);
            }
        }
        return out;
    }

    static float maxDiff(float[] a, float[] b) {
        float d = 0;
        for (int i = 0; i < a.length; i++) {
            d = Math.max(d, Math.abs(a[i] - b[i]));
        }
        return d;
    }

    static float[] readFloats(Path file) throws Exception {
        byte[] bytes = Files.readAllBytes(file);
        float[] f = new float[bytes.length / 4];
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(f);
        return f;
    }
}
