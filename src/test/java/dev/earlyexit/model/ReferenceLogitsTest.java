package dev.earlyexit.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.earlyexit.format.Llama2cCheckpoint;
import dev.earlyexit.tensor.DType;
import dev.earlyexit.tensor.Kernels;
import dev.earlyexit.tensor.ThreadPool;
import dev.earlyexit.testutil.TestModels;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The engine against logits and greedy tokens of an independent C implementation. */
class ReferenceLogitsTest {

    @Test
    void tokenByTokenMatchesReferenceLogitsAndGreedyTokens() throws Exception {
        Path model = TestModels.stories15M();
        var loaded = Llama2cCheckpoint.load(model, DType.F32);
        try (ThreadPool pool = new ThreadPool(2)) {
            Transformer tf = new Transformer(loaded.config(), loaded.weights(), pool);
            for (JsonNode ref : references()) {
                checkPrompt(tf, ref, false);
            }
        }
    }

    @Test
    void blockPrefillMatchesReferenceLogits() throws Exception {
        Path model = TestModels.stories15M();
        var loaded = Llama2cCheckpoint.load(model, DType.F32);
        try (ThreadPool pool = new ThreadPool(2)) {
            Transformer tf = new Transformer(loaded.config(), loaded.weights(), pool);
            for (JsonNode ref : references()) {
                checkPrompt(tf, ref, true);
            }
        }
    }

    static List<JsonNode> references() throws Exception {
        ObjectMapper om = new ObjectMapper();
        return Files.readAllLines(TestModels.resource("reference/stories15M/greedy.jsonl")).stream()
                .filter(l -> !l.isBlank()).map(l -> {
                    try {
                        return om.readTree(l);
                    } catch (Exception e) {
                        throw new RuntimeException(e);
                    }
                }).toList();
    }

    static float[] referenceLogits(JsonNode ref) throws Exception {
        byte[] bytes = Files.readAllBytes(TestModels.resource("reference/stories15M/" + ref.get("logits_file").asText()));
        float[] f = new float[bytes.length / 4];
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(f);
        return f;
    }

    /** Block mode: the whole token sequence in one forward; else one token at a time through the cache. */
    private void checkPrompt(Transformer tf, JsonNode ref, boolean block) throws Exception {
        ModelConfig c = tf.config();
        int[] tokens = toInts(ref.get("tokens"));
        int promptLen = ref.get("prompt_tokens").asInt();
        int[] positions = toInts(ref.get("logit_positions"));
        float[] expected = referenceLogits(ref);
        int vocab = c.vocabSize();
        assertThat(expected.length).isEqualTo(positions.length * vocab);

        KVCache cache = new KVCache(c);
        int n = tokens.length;
        float[] allLogits = new float[n * vocab];
        if (block) {
            float[] x = new float[n * c.dim()];
            tf.embed(tokens, 0, n, 0, x);
            tf.forward(x, n, 0, c.layers(), cache);
            tf.logitsBlock(x, n, allLogits);
        } else {
            float[] x = new float[c.dim()];
            float[] logits = new float[vocab];
            for (int p = 0; p < n; p++) {
                tf.embed(tokens, p, 1, p, x);
                tf.forward(x, 1, 0, c.layers(), cache);
                tf.logits(x, 0, logits);
                System.arraycopy(logits, 0, allLogits, p * vocab, vocab);
            }
        }
        float maxDiff = 0;
        for (int i = 0; i < positions.length; i++) {
            int p = positions[i];
            for (int v = 0; v < vocab; v++) {
                maxDiff = Math.max(maxDiff, Math.abs(allLogits[p * vocab + v] - expected[i * vocab + v]));
            }
        }
        assertThat(maxDiff).as("max |logit - reference| for prompt %s", ref.get("prompt")).isLessThan(1e-3f);
        // Every greedy choice after the prompt is the argmax of the previous position.
        for (int p = promptLen - 1; p < n - 1; p++) {
            assertThat(Kernels.argmax(allLogits, p * vocab, vocab)).as("greedy token at %d", p + 1).isEqualTo(tokens[p + 1]);
        }
    }

    static int[] toInts(JsonNode arr) {
        int[] a = new int[arr.size()];
        for (int i = 0; i < a.length; i++) {
            a[i] = arr.get(i).asInt();
        }
        return a;
    }
}
