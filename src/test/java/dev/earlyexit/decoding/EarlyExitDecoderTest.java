package dev.earlyexit.decoding;

import dev.earlyexit.calibration.ConfidenceMetrics;
import dev.earlyexit.calibration.SequenceProbe;
import dev.earlyexit.exits.ExitHeadProvider;
import dev.earlyexit.exits.HeadSet;
import dev.earlyexit.format.Llama2cCheckpoint;
import dev.earlyexit.model.KVCache;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.Transformer;
import dev.earlyexit.tensor.DType;
import dev.earlyexit.tensor.ThreadPool;
import dev.earlyexit.testutil.TestModels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Early-exit decoding on stories15M with untrained copied heads after every layer but the last. */
class EarlyExitDecoderTest {
    static Transformer tf;
    static ModelConfig c;
    static ThreadPool pool;
    static HeadSet heads;
    static final int[] PROMPT = {1, 9038, 2501, 263, 931}; // "Once upon a time"
    /**
     * Max-probability thresholds under which tokens exit at several depths (about a calibration's
     * ε = 0.5 to 0.8 for these untrained heads); the copied heads at layers 1 and 2 are confidently
     * wrong (mostly ","), so they are not consulted.
     */
    static final double[] MIXED = {Double.POSITIVE_INFINITY, Double.POSITIVE_INFINITY, 0.66, 0.8, 0.5};

    @BeforeAll
    static void load() throws Exception {
        var m = Llama2cCheckpoint.load(TestModels.stories15M(), DType.F32);
        c = m.config();
        pool = new ThreadPool(1);
        tf = new Transformer(c, m.weights(), pool);
        heads = ExitHeadProvider.copiedEveryLayer().heads(c, m.weights());
    }

    @AfterAll
    static void close() {
        if (pool != null) {
            pool.close();
        }
    }

    private static double[] never() {
        double[] t = new double[heads.size()];
        Arrays.fill(t, Double.POSITIVE_INFINITY);
        return t;
    }

    @Test
    void withNoHeadAbleToExitTheOutputIsTheFullModelsGreedyOutput() {
        GenerationResult full = new Generator(tf).generate(PROMPT, 40, SamplingOptions.GREEDY, null);
        EarlyExitDecoder d = new EarlyExitDecoder(tf, heads, never(), ConfidenceMetrics.MAX_PROB);
        assertThat(d.consultedLayers()).isEmpty();
        EarlyExitResult r = d.generate(PROMPT, 40, SamplingOptions.GREEDY, null);
        assertThat(r.generation().ids()).containsExactly(full.ids());
        assertThat(r.exitLayers()).containsOnly(c.layers());
        assertThat(r.fillRows()).isZero();
        assertThat(r.headCalls()).isZero();
    }

    @Test
    void kvCacheEqualsTheFullModelsAfterEarlyExits() {
        EarlyExitDecoder d = new EarlyExitDecoder(tf, heads, MIXED, ConfidenceMetrics.MAX_PROB);
        EarlyExitResult r = d.generate(PROMPT, 60, SamplingOptions.GREEDY, null, false);
        int[] exits = r.exitLayers();
        assertThat(Arrays.stream(exits).distinct().count()).as("exit layers %s", Arrays.toString(exits))
                .isGreaterThanOrEqualTo(3);
        assertThat(r.fillRows()).isPositive();

        int fed = d.positions();
        int[] seq = new int[fed];
        System.arraycopy(PROMPT, 0, seq, 0, PROMPT.length);
        System.arraycopy(r.generation().ids(), 0, seq, PROMPT.length, fed - PROMPT.length);
        KVCache ref = new KVCache(c);
        float[] x = new float[fed * c.dim()];
        tf.embed(seq, 0, fed, 0, x);
        tf.forward(x, fed, 0, c.layers(), ref);

        KVCache kv = d.cache();
        // Lazily filled: whatever a layer holds already equals the full model; deeper layers never lead.
        for (int l = 0; l < c.layers(); l++) {
            assertThat(kv.length(l)).isLessThanOrEqualTo(fed);
            if (l > 0) {
                assertThat(kv.length(l)).isLessThanOrEqualTo(kv.length(l - 1));
            }
            assertSame(kv, ref, l, kv.length(l));
        }
        d.fillCache();
        for (int l = 0; l < c.layers(); l++) {
            assertThat(kv.length(l)).isEqualTo(fed);
            assertSame(kv, ref, l, fed);
        }
    }

    private static void assertSame(KVCache kv, KVCache ref, int layer, int positions) {
        for (int p = 0; p < positions; p++) {
            float[] k = kv.key(layer, p);
            float[] kr = ref.key(layer, p);
            float[] v = kv.value(layer, p);
            float[] vr = ref.value(layer, p);
            for (int i = 0; i < k.length; i++) {
                assertThat(Math.abs(k[i] - kr[i])).as("key layer %d pos %d", layer, p).isLessThan(1e-4f);
                assertThat(Math.abs(v[i] - vr[i])).as("value layer %d pos %d", layer, p).isLessThan(1e-4f);
            }
        }
    }

    @Test
    void exitLayersAgreeWithExitCountsAndWithTheTeacherForcedRule() {
        EarlyExitDecoder d = new EarlyExitDecoder(tf, heads, MIXED, ConfidenceMetrics.MAX_PROB);
        EarlyExitResult r = d.generate(PROMPT, 50, SamplingOptions.GREEDY, null, false);
        int[] exits = r.exitLayers();
        int[] counts = r.exitsPerHead();
        int[] layers = r.headLayers();
        assertThat(Arrays.stream(counts).sum()).isEqualTo(exits.length);
        for (int i = 0; i < layers.length; i++) {
            int layer = layers[i];
            assertThat(counts[i]).isEqualTo((int) Arrays.stream(exits).filter(e -> e == layer).count());
        }
        assertThat(counts[layers.length]).isEqualTo((int) Arrays.stream(exits).filter(e -> e == c.layers()).count());
        assertThat(exits[0]).isEqualTo(c.layers()); // the prefill's token
        assertThat(r.meanLayers()).isEqualTo(Arrays.stream(exits).average().orElseThrow());
        assertThat(r.tokenLayers()).isEqualTo(Arrays.stream(exits).skip(1).sum());

        // Teacher-forced, the same rule on the same tokens picks the same exits and the same tokens.
        int[] ids = r.generation().ids();
        int[] seq = new int[PROMPT.length + ids.length];
        System.arraycopy(PROMPT, 0, seq, 0, PROMPT.length);
        System.arraycopy(ids, 0, seq, PROMPT.length, ids.length);
        SequenceProbe.Result p = new SequenceProbe(tf, heads, List.of(ConfidenceMetrics.MAX_PROB)).run(seq);
        int mismatches = 0;
        for (int i = 1; i < ids.length; i++) {
            int pos = PROMPT.length - 1 + i;
            int k = EarlyExitDecoder.exitingHead(p.confidence()[0], pos, MIXED);
            int layer = k < 0 ? c.layers() : heads.head(k).layer();
            int token = k < 0 ? p.modelArgmax()[pos] : p.headArgmax()[k][pos];
            if (layer != exits[i] || token != ids[i]) {
                mismatches++;
            }
        }
        assertThat(mismatches).isZero();
    }

    @Test
    void samplingWithEarlyExitIsDeterministicForASeed() {
        SamplingOptions s = new SamplingOptions(0.9f, 0, 0.9f, 11L);
        EarlyExitDecoder d = new EarlyExitDecoder(tf, heads, MIXED, ConfidenceMetrics.MAX_PROB);
        EarlyExitResult a = d.generate(PROMPT, 40, s, null, false);
        EarlyExitResult b = d.generate(PROMPT, 40, s, null, false);
        assertThat(a.generation().ids()).containsExactly(b.generation().ids());
        assertThat(a.exitLayers()).containsExactly(b.exitLayers());
        assertThat(Arrays.stream(a.exitLayers()).anyMatch(e -> e < c.layers())).isTrue();
        EarlyExitResult other = d.generate(PROMPT, 40, new SamplingOptions(0.9f, 0, 0.9f, 12L), null, false);
        assertThat(other.generation().ids()).isNotEqualTo(a.generation().ids());
    }

    @Test
    void calmStyleCopyFillOwesNothingAndTeacherForcingFollowsTheProbe() {
        EarlyExitDecoder copy = new EarlyExitDecoder(tf, heads, MIXED, ConfidenceMetrics.MAX_PROB,
                EarlyExitDecoder.KvFill.COPY_HIDDEN);
        EarlyExitResult r = copy.generate(PROMPT, 30, SamplingOptions.GREEDY, null, false);
        assertThat(Arrays.stream(r.exitLayers()).anyMatch(e -> e < c.layers())).isTrue();
        for (int l = 0; l < c.layers(); l++) {
            assertThat(copy.cache().length(l)).isEqualTo(copy.positions());
        }
        assertThat(r.fillRows()).isPositive();

        // Teacher-forced through the exact decode loop on the approximate run's text: the choices equal the
        // teacher-forced probe's (the exact cache is the full model's whatever is fed).
        int[] text = r.generation().ids();
        EarlyExitDecoder exact = new EarlyExitDecoder(tf, heads, MIXED, ConfidenceMetrics.MAX_PROB);
        int[] chosen = exact.generate(PROMPT, text.length, SamplingOptions.GREEDY, null, false, text).generation().ids();
        int[] seq = new int[PROMPT.length + text.length];
        System.arraycopy(PROMPT, 0, seq, 0, PROMPT.length);
        System.arraycopy(text, 0, seq, PROMPT.length, text.length);
        SequenceProbe.Result p = new SequenceProbe(tf, heads, List.of(ConfidenceMetrics.MAX_PROB)).run(seq);
        for (int i = 1; i < text.length; i++) {
            int pos = PROMPT.length - 1 + i;
            int k = EarlyExitDecoder.exitingHead(p.confidence()[0], pos, MIXED);
            assertThat(chosen[i]).as("token %d", i).isEqualTo(k < 0 ? p.modelArgmax()[pos] : p.headArgmax()[k][pos]);
        }
    }
}
