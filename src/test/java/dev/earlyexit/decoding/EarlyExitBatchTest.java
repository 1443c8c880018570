package dev.earlyexit.decoding;

import dev.earlyexit.calibration.ConfidenceMetrics;
import dev.earlyexit.exits.ExitHeadProvider;
import dev.earlyexit.exits.HeadSet;
import dev.earlyexit.format.Llama2cCheckpoint;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.Transformer;
import dev.earlyexit.tensor.DType;
import dev.earlyexit.tensor.ThreadPool;
import dev.earlyexit.testutil.TestModels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Sequences stepped together in one batch give, each, what {@link EarlyExitDecoder} (or, with no head,
 * {@link Generator}) gives for it alone: the same tokens at the same exit layers, greedy and sampled.
 */
class EarlyExitBatchTest {
    static Transformer tf;
    static ModelConfig c;
    static ThreadPool pool;
    static HeadSet heads;
    static final int[][] PROMPTS = {
            {1, 9038, 2501, 263, 931},          // "Once upon a time"
            {1, 4335, 322, 365, 2354, 892},     // "Tom and Lily were"
            {1, 450, 2217, 11203},              // "The little dog"
    };
    static final double[] MIXED = EarlyExitDecoderTest.MIXED;
    static final double[] EAGER = {Double.POSITIVE_INFINITY, Double.POSITIVE_INFINITY, 0.4, 0.4, 0.3};

    @BeforeAll
    static void load() throws Exception {
        var m = Llama2cCheckpoint.load(TestModels.stories15M(), DType.F32);
        c = m.config();
        pool = new ThreadPool(2);
        tf = new Transformer(c, m.weights(), pool);
        heads = ExitHeadProvider.copiedEveryLayer().heads(c, m.weights());
    }

    @AfterAll
    static void close() {
        if (pool != null) {
            pool.close();
        }
    }

    /** Tokens and exit layers of each request, all decoded in one batch; request i joins at step joinAt[i]. */
    private static int[][][] batched(double[][] thresholds, SamplingOptions[] sampling, int[] joinAt, int tokens) {
        EarlyExitBatch batch = new EarlyExitBatch(tf, heads, ConfidenceMetrics.MAX_PROB);
        int n = thresholds.length;
        EarlyExitBatch.Sequence[] seqs = new EarlyExitBatch.Sequence[n];
        int[][] ids = new int[n][tokens];
        int[][] layers = new int[n][tokens];
        int[] produced = new int[n];
        EarlyExitBatch.Sequence[] active = new EarlyExitBatch.Sequence[n];
        int[] owner = new int[n];
        for (int step = 0; ; step++) {
            for (int i = 0; i < n; i++) {
                if (joinAt[i] == step) {
                    seqs[i] = batch.newSequence();
                    seqs[i].start(PROMPTS[i], sampling[i], thresholds[i]);
                    ids[i][0] = seqs[i].token();
                    layers[i][0] = seqs[i].exitLayer();
                    produced[i] = 1;
                }
            }
            int T = 0;
            for (int i = 0; i < n; i++) {
                if (seqs[i] != null && produced[i] < tokens) {
                    seqs[i].feed(ids[i][produced[i] - 1]);
                    active[T] = seqs[i];
                    owner[T++] = i;
                }
            }
            if (T == 0 && step > Arrays.stream(joinAt).max().getAsInt()) {
                return new int[][][] {ids, layers};
            }
            batch.step(active, T);
            for (int t = 0; t < T; t++) {
                int i = owner[t];
                ids[i][produced[i]] = active[t].token();
                layers[i][produced[i]] = active[t].exitLayer();
                produced[i]++;
            }
        }
    }

    private static void assertEachAsAlone(double[][] thresholds, SamplingOptions[] sampling, int[] joinAt, int tokens) {
        int[][][] b = batched(thresholds, sampling, joinAt, tokens);
        int exitsBeforeLast = 0;
        for (int i = 0; i < thresholds.length; i++) {
            double[] tau = thresholds[i];
            int[] ids;
            int[] layers;
            if (tau == null) {
                ids = new Generator(tf).generate(PROMPTS[i], tokens, sampling[i], null, false).ids();
                layers = new int[tokens];
                Arrays.fill(layers, c.layers());
            } else {
                EarlyExitResult r = new EarlyExitDecoder(tf, heads, tau, ConfidenceMetrics.MAX_PROB)
                        .generate(PROMPTS[i], tokens, sampling[i], null, false);
                ids = r.generation().ids();
                layers = r.exitLayers();
            }
            assertThat(b[0][i]).as("request %d tokens", i).containsExactly(ids);
            assertThat(b[1][i]).as("request %d exit layers", i).containsExactly(layers);
            exitsBeforeLast += (int) Arrays.stream(layers).filter(l -> l < c.layers()).count();
        }
        assertThat(exitsBeforeLast).as("the test needs tokens that exit early").isGreaterThan(10);
    }

    @Test
    void greedyRequestsWithDifferentThresholdsDecodeAsAlone() {
        SamplingOptions g = SamplingOptions.GREEDY;
        assertEachAsAlone(new double[][] {MIXED, null, EAGER}, new SamplingOptions[] {g, g, g}, new int[] {0, 0, 0}, 60);
    }

    @Test
    void requestsThatJoinLaterAndSampleDecodeAsAlone() {
        SamplingOptions a = new SamplingOptions(0.9f, 0, 0.95f, 7);
        SamplingOptions b = new SamplingOptions(1.0f, 40, 1f, 11);
        assertEachAsAlone(new double[][] {EAGER, MIXED, null}, new SamplingOptions[] {a, b, SamplingOptions.GREEDY},
                new int[] {0, 5, 17}, 50);
    }
}
