package dev.earlyexit.model;

import dev.earlyexit.format.Llama2cCheckpoint;
import dev.earlyexit.tensor.DType;
import dev.earlyexit.tensor.ThreadPool;
import dev.earlyexit.testutil.TestModels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Layer ranges, per-layer cache lengths and rollback: what early exit and speculative decoding stand on. */
class TransformerCacheTest {
    static Transformer tf;
    static ModelConfig c;
    static ThreadPool pool;
    static final int[] A = {1, 9038, 2501, 263, 931, 29892, 727, 471, 263, 2217};
    static final int[] B = {7826, 4257, 365, 2354, 29889};
    static final int[] C = {3118, 2462, 29892, 1183, 4446};

    @BeforeAll
    static void load() throws Exception {
        var m = Llama2cCheckpoint.load(TestModels.stories15M(), DType.F32);
        c = m.config();
        pool = new ThreadPool(2);
        tf = new Transformer(c, m.weights(), pool);
    }

    @AfterAll
    static void close() {
        if (pool != null) {
            pool.close();
        }
    }

    private float[] run(int[] tokens, int startPos, KVCache cache, int... splits) {
        float[] x = new float[tokens.length * c.dim()];
        tf.embed(tokens, 0, tokens.length, startPos, x);
        int from = 0;
        for (int to : splits) {
            tf.forward(x, tokens.length, from, to, cache);
            from = to;
        }
        tf.forward(x, tokens.length, from, c.layers(), cache);
        float[] logits = new float[tokens.length * c.vocabSize()];
        tf.logitsBlock(x, tokens.length, logits);
        return logits;
    }

    private static int[] concat(int[] a, int[] b) {
        int[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    private static float maxDiff(float[] a, int aOff, float[] b, int bOff, int n) {
        float m = 0;
        for (int i = 0; i < n; i++) {
            m = Math.max(m, Math.abs(a[aOff + i] - b[bOff + i]));
        }
        return m;
    }

    @Test
    void layerRangesComposeToTheFullForward() {
        float[] whole = run(A, 0, new KVCache(c));
        float[] split = run(A, 0, new KVCache(c), 2, 3, 5);
        assertThat(split).containsExactly(whole);
    }

    @Test
    void blockAndTokenByTokenAgree() {
        float[] whole = run(concat(A, B), 0, new KVCache(c));
        KVCache cache = new KVCache(c);
        run(A, 0, cache);
        float[] rest = run(B, A.length, cache);
        int v = c.vocabSize();
        assertThat(maxDiff(whole, A.length * v, rest, 0, B.length * v)).isLessThan(1e-4f);
    }

    @Test
    void rollbackThenContinueEqualsAFreshRun() {
        KVCache cache = new KVCache(c);
        run(A, 0, cache);
        run(B, A.length, cache);
        cache.truncateAll(A.length);
        float[] afterRollback = run(C, A.length, cache);

        KVCache fresh = new KVCache(c);
        float[] reference = run(concat(A, C), 0, fresh);
        int v = c.vocabSize();
        assertThat(maxDiff(afterRollback, 0, reference, A.length * v, C.length * v)).isLessThan(1e-4f);
        for (int l = 0; l < c.layers(); l++) {
            assertThat(cache.length(l)).isEqualTo(A.length + C.length);
            for (int p = 0; p < A.length + C.length; p++) {
                assertThat(maxDiff(cache.key(l, p), 0, fresh.key(l, p), 0, c.kvDim())).isLessThan(1e-4f);
                assertThat(maxDiff(cache.value(l, p), 0, fresh.value(l, p), 0, c.kvDim())).isLessThan(1e-4f);
            }
        }
    }

    @Test
    void layersMayLagAndCatchUp() {
        // A token that exits after layer 2 leaves layers 2..5 one position behind; running those layers
        // for it later (from its layer-2 hidden state) makes the cache equal to the full model's.
        KVCache cache = new KVCache(c);
        run(A, 0, cache);
        int[] tok = {B[0]};
        float[] h = new float[c.dim()];
        tf.embed(tok, 0, 1, A.length, h);
        tf.forward(h, 1, 0, 2, cache);
        assertThat(cache.length(1)).isEqualTo(A.length + 1);
        assertThat(cache.length(2)).isEqualTo(A.length);
        tf.forward(h, 1, 2, c.layers(), cache);

        KVCache fresh = new KVCache(c);
        run(concat(A, tok), 0, fresh);
        for (int l = 0; l < c.layers(); l++) {
            assertThat(maxDiff(cache.key(l, A.length), 0, fresh.key(l, A.length), 0, c.kvDim())).isLessThan(1e-4f);
        }
    }

    @Test
    void roomGrowsAsPositionsArriveWithTheSameResults() {
        // Room for 3 positions at first: blocks, single tokens, lagging layers and a rollback all cross
        // growth points, and every logit equals a run whose room was reserved up front.
        KVCache growing = new KVCache(c.layers(), c.kvDim(), c.maxSeqLen(), 3);
        KVCache reserved = new KVCache(c);
        reserved.reserve(c.maxSeqLen());
        for (KVCache cache : new KVCache[] {growing, reserved}) {
            assertThat(cache.capacity()).isEqualTo(c.maxSeqLen());
        }
        float[][] logits = new float[2][];
        KVCache[] caches = {growing, reserved};
        for (int i = 0; i < 2; i++) {
            KVCache cache = caches[i];
            run(A, 0, cache);
            float[] h = new float[c.dim()];
            tf.embed(new int[] {B[0]}, 0, 1, A.length, h);
            tf.forward(h, 1, 0, 2, cache); // layers 2.. lag one position behind
            tf.forward(h, 1, 2, c.layers(), cache);
            run(B, A.length + 1, cache);
            cache.truncateAll(A.length + 2);
            logits[i] = run(concat(C, A), A.length + 2, cache);
        }
        assertThat(logits[0]).containsExactly(logits[1]);
        int filled = A.length + 2 + C.length + A.length;
        for (int l = 0; l < c.layers(); l++) {
            assertThat(growing.length(l)).isEqualTo(filled);
            for (int p = 0; p < filled; p++) {
                assertThat(growing.key(l, p)).containsExactly(reserved.key(l, p));
                assertThat(growing.value(l, p)).containsExactly(reserved.value(l, p));
            }
        }
    }

    @Test
    void contextOverflowAndBadIdsAreClearErrors() {
        KVCache cache = new KVCache(c);
        int[] tooMany = new int[c.maxSeqLen() + 1];
        float[] x = new float[tooMany.length * c.dim()];
        tf.embed(tooMany, 0, tooMany.length, 0, x);
        assertThatThrownBy(() -> tf.forward(x, tooMany.length, 0, c.layers(), cache)).hasMessageContaining("context");
        assertThat(cache.length(0)).isZero();
        assertThatThrownBy(() -> tf.embed(new int[] {c.vocabSize()}, 0, 1, 0, x)).hasMessageContaining("outside the vocabulary");
        assertThatThrownBy(() -> cache.truncate(0, 3)).hasMessageContaining("cannot truncate");
    }
}
