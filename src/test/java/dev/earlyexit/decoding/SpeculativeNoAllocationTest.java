package dev.earlyexit.decoding;

import dev.earlyexit.calibration.AcceptanceModel;
import dev.earlyexit.calibration.ConfidenceMetric;
import dev.earlyexit.calibration.ThresholdCurve;
import dev.earlyexit.exits.ExitHead;
import dev.earlyexit.format.HfCheckpoint;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.Transformer;
import dev.earlyexit.tensor.DType;
import dev.earlyexit.tensor.ThreadPool;
import dev.earlyexit.testutil.TestModels;
import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Draft-and-verify rounds allocate nothing once compiled: a generation of 100 tokens allocates no more
 * than one of 10 tokens plus its longer result arrays, greedy and sampling, on the driving thread and
 * the pool's worker.
 */
class SpeculativeNoAllocationTest {
    private static final int SHORT = 10;
    private static final int LONG = 100;
    /** out, exit layers and their trimmed copies: four ints per token. */
    private static final long BYTES_PER_TOKEN = 16;
    private static final int MAX_WINDOWS = 40;

    @Test
    void roundsAllocateNothing() throws Exception {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        Path dir = TestModels.resource("reference/arch/llama_gqa");
        HfCheckpoint.Loaded m = HfCheckpoint.load(dir, DType.F32);
        ModelConfig c = m.config();
        int[] prompt = SelfSpeculativeArchTest.prompts(dir, c).get(0);
        try (ThreadPool pool = new ThreadPool(2)) {
            Transformer tf = new Transformer(c, m.weights(), pool);
            List<ExitHead> heads = List.of(new FinalNormClassifierTestHead(c, m.weights(), 1),
                    new FinalNormClassifierTestHead(c, m.weights(), 2));
            // A fixed criterion, and a calibrated plan's rule (acceptance models, window, unrun last drafts).
            double[] conf = {0.01, 0.05, 0.1, 0.3, 0.6, 0.9};
            boolean[] agree = {false, false, true, false, true, true};
            AcceptanceModel model = AcceptanceModel.of(ThresholdCurve.of(conf, agree));
            DraftRule planned = new AcceptanceDraftRule(ConfidenceMetric.byName("max-prob"),
                    new AcceptanceModel[] {model, model}, 0.1, 0.2, 0.6);
            for (SelfSpeculativeDecoder d : List.of(
                    new SelfSpeculativeDecoder(tf, heads, ExitCriterion.maxProbability(0.02f), 4),
                    new SelfSpeculativeDecoder(tf, heads, planned, 6))) {
                assertRoundsAllocateNothing(threads, d, prompt);
            }
        }
    }

    private static void assertRoundsAllocateNothing(com.sun.management.ThreadMXBean threads, SelfSpeculativeDecoder d,
                                                    int[] prompt) {
        long[] ids = Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t == Thread.currentThread() || t.getName().startsWith("earlyexit-worker"))
                .mapToLong(Thread::getId).toArray();
        assertThat(ids).hasSize(2);
        for (SamplingOptions sampling : List.of(SamplingOptions.GREEDY, new SamplingOptions(0.9f, 20, 0.95f, 7))) {
            long extra = Long.MAX_VALUE;
            long drafted = 0;
            for (int w = 0; w < MAX_WINDOWS && extra > 0; w++) {
                long shortRun = allocated(threads, ids, () -> d.generate(prompt, SHORT, sampling, null, false));
                long[] draftedLong = new long[1];
                long longRun = allocated(threads, ids,
                        () -> draftedLong[0] = d.generate(prompt, LONG, sampling, null, false).drafted());
                long shortAgain = allocated(threads, ids, () -> d.generate(prompt, SHORT, sampling, null, false));
                drafted = draftedLong[0];
                if (Math.abs(shortAgain - shortRun) > 64) {
                    continue; // still compiling: the short runs themselves differ
                }
                extra = Math.max(0, longRun - shortRun - BYTES_PER_TOKEN * (LONG - SHORT) - 512);
            }
            assertThat(drafted).isPositive();
            assertThat(extra).as("bytes the %d extra tokens allocated beyond their result arrays (%s, %s)",
                    LONG - SHORT, sampling, d.mode()).isZero();
        }
    }

    private static long allocated(com.sun.management.ThreadMXBean threads, long[] ids, Runnable r) {
        threads.getThreadAllocatedBytes(ids);
        long[] before = threads.getThreadAllocatedBytes(ids);
        r.run();
        long[] after = threads.getThreadAllocatedBytes(ids);
        long sum = 0;
        for (int i = 0; i < ids.length; i++) {
            sum += after[i] - before[i];
        }
        return sum;
    }
}
