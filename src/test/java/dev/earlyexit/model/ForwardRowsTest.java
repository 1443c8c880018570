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
        ModelConfig c = m.config();
        int dim = c.dim();
        int[][] prompts = {{1, 9038, 2501, 263, 931}, {1, 4335, 322}, {1, 450, 2217, 11203, 471, 1554, 29889}};
        int n = prompts.length;
        try (ThreadPool pool = new ThreadPool(2)) {
            Transformer tf = new Transformer(c, m.weights(), pool);
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
                    token[0] = 100 + 37 * s + step;
                    tf.embed(token, 0, 1, batched[s].length(0), one);
                    System.arraycopy(one, 0, rows, s * dim, dim);
                }
                tf.forwardRows(rows, n, batched);
                for (int s = 0; s < n; s++) {
                    token[0] = 100 + 37 * s + step;
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
            tf.forward(block, 1, 0, 2, lagging);
            assertThatThrownBy(() -> tf.forwardRows(new float[dim], 1, new KVCache[] {lagging}))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("layer 2");
        }
    }
}
