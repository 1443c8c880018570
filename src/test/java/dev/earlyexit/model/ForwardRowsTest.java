package dev.earlyexit.model;

import dev.earlyexit.store.LoadedModel;
import dev.earlyexit.store.ModelCache;
import dev.earlyexit.store.ModelResolver;
import dev.earlyexit.tensor.DType;
import dev.earlyexit.tensor.ThreadPool;
import dev.earlyexit.testutil.TestModels;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Rows of different sequences in one block give exactly what each sequence gets alone. */
class ForwardRowsTest {

    @Test
    void aBlockOfSequencesEqualsEachAloneBitForBit() throws Exception {
        LoadedModel m = new ModelResolver(new ModelCache(Files.createTempDirectory("ee-cache")), s -> { })
                .load(TestModels.stories15M().toString(), null, DType.F32);
        int[][] prompts = {{1, 9038, 2501, 263, 931}, {1, 4335, 322}, {1, 450, 2217, 11203, 471, 1554, 29889}};
        check(m.config(), m.weights(), prompts, 37);
    }

    /** Qwen3-style: grouped-query attention and per-head q/k RMSNorm, on random weights. */
    @Test
    void qkNormAndGroupedQueriesToo() {
        java.util.SplittableRandom r = new java.util.SplittableRandom(5);
        int dim = 16;
        int hidden = 32;
        int vocab = 40;
        ModelConfig c = new ModelConfig("qwen3-tiny", dim, hidden, 2, 4, 2, 4, vocab, 32, ModelConfig.NormKind.RMS,
                1e-6f, 10000f, 4, ModelConfig.RopeStyle.HALF, ModelConfig.MlpKind.SWIGLU,
                ModelConfig.ResidualKind.SEQUENTIAL, false, 1, 2, RopeScaling.NONE, true);
        LayerWeights[] layers = new LayerWeights[2];
        for (int l = 0; l < 2; l++) {
            layers[l] = new LayerWeights(gain(r, dim), null, mat(r, c.qkvDim(), dim), null, mat(r, dim, c.qDim()), null,
                    gain(r, dim), null, mat(r, 2 * hidden, dim), null, mat(r, dim, hidden), null, gain(r, 4),
                    gain(r, 4));
        }
        ModelWeights w = new ModelWeights(mat(r, vocab, dim), null, layers, gain(r, dim), null, mat(r, vocab, dim),
                null);
        check(c, w, new int[][] {{1, 5, 7}, {1, 9}, {1, 3, 30, 31, 2}}, 3);
    }

    private static float[] gain(java.util.SplittableRandom r, int n) {
        float[] g = new float[n];
        for (int i = 0; i < n; i++) {
            g[i] = 1f + (float) (0.2 * r.nextGaussian());
        }
        return g;
    }

    private static dev.earlyexit.tensor.F32Matrix mat(java.util.SplittableRandom r, int rows, int cols) {
        float[] v = new float[rows * cols];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (r.nextGaussian() / Math.sqrt(cols));
        }
        return new dev.earlyexit.tensor.F32Matrix(v, rows, cols);
    }

    private static void check(ModelConfig c, ModelWeights weights, int[][] prompts, int tokenStride) {
        int dim = c.dim();
        int n = prompts.length;
        try (ThreadPool pool = new ThreadPool(2)) {
            Transformer tf = new Transformer(c, weights, pool);
            KVCache[] batched = new KVCache[n];
            KVCache[] alone = new KVCache[n];
            for (int s = 0; s < n; s++) {
                batched[s] = new KVCache(c);
                alone[s] = new KVCache(c);
                for (KVCache cache : new KVCache[] {batched[s], alone[s]}) {
                    float[] block = new float[prompts[s].length * dim];
                    tf.embed(prompts[s], 0, prompts[s].length, 0, block);
                    tf.forward(block, prompts[s].length, 0, c.layers(), cache);
                }
            }
            int[] token = new int[1];
            float[] rows = new float[n * dim];
            float[] one = new float[dim];
            for (int step = 0; step < 5; step++) {
                for (int s = 0; s < n; s++) {
                    token[0] = (100 + tokenStride * s + step) % c.vocabSize();
                    tf.embed(token, 0, 1, batched[s].length(0), one);
                    System.arraycopy(one, 0, rows, s * dim, dim);
                }
                tf.forwardRows(rows, n, batched);
                for (int s = 0; s < n; s++) {
                    token[0] = (100 + tokenStride * s + step) % c.vocabSize();
                    tf.embed(token, 0, 1, alone[s].length(0), one);
                    tf.forward(one, 1, 0, c.layers(), alone[s]);
                    float[] got = java.util.Arrays.copyOfRange(rows, s * dim, (s + 1) * dim);
                    assertThat(got).as("sequence %d step %d", s, step).containsExactly(one);
                }
            }
            for (int s = 0; s < n; s++) {
                for (int l = 0; l < c.layers(); l++) {
                    assertThat(batched[s].length(l)).isEqualTo(alone[s].length(l));
                    assertThat(batched[s].key(l, batched[s].length(l) - 1))
                            .containsExactly(alone[s].key(l, alone[s].length(l) - 1));
                }
            }
            KVCache lagging = new KVCache(c);
            float[] block = new float[dim];
            tf.forward(block, 1, 0, 1, lagging); // layer 0 holds a position the others lack
            assertThatThrownBy(() -> tf.forwardRows(new float[dim], 1, new KVCache[] {lagging}))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("layer 1");
        }
    }
}
