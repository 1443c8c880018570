package dev.earlyexit.decoding;

import dev.earlyexit.format.Llama2cCheckpoint;
import dev.earlyexit.model.KVCache;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.Transformer;
import dev.earlyexit.tensor.DType;
import dev.earlyexit.tensor.ThreadPool;
import dev.earlyexit.testutil.TestModels;
import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The decode step (embed, all layers, logits, sampling) allocates nothing on the driving thread or
 * the pool's workers once the JIT has compiled it, for every storage type.
 */
class NoAllocationTest {
    private static final int WINDOW = 100;
    private static final int MAX_WINDOWS = 30;

    @Test
    void decodeStepsAllocateNothing() throws Exception {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        for (DType dtype : DType.values()) {
            var m = Llama2cCheckpoint.load(TestModels.stories15M(), dtype);
            ModelConfig c = m.config();
            try (ThreadPool pool = new ThreadPool(2)) {
                Transformer tf = new Transformer(c, m.weights(), pool);
                KVCache cache = new KVCache(c);
                float[] x = new float[c.dim()];
                float[] logits = new float[c.vocabSize()];
                Sampler greedy = new Sampler(SamplingOptions.GREEDY, c.vocabSize());
                Sampler nucleus = new Sampler(new SamplingOptions(0.8f, 40, 0.9f, 1), c.vocabSize());
                int[] token = {1};
                // This thread and the pool's worker: the test runner's own threads allocate as they please.
                long[] ids = Thread.getAllStackTraces().keySet().stream()
                        .filter(t -> t == Thread.currentThread() || t.getName().startsWith("earlyexit-worker"))
                        .mapToLong(Thread::getId).toArray();
                assertThat(ids).hasSize(2);
                long[] before = new long[ids.length];
                long[] after = new long[ids.length];
                // Windows of decode steps until one allocates nothing: interpreted and C1-compiled
                // Vector API code allocates, so the first windows do; C2-compiled code must not.
                long lastWindow = Long.MAX_VALUE;
                int pos = 0;
                for (int w = 0; w < MAX_WINDOWS && lastWindow > 0; w++) {
                    if (pos + WINDOW > c.maxSeqLen()) {
                        cache.clear();
                        pos = 0;
                    }
                    threads.getThreadAllocatedBytes(ids); // the first call allocates its own bookkeeping
                    System.arraycopy(threads.getThreadAllocatedBytes(ids), 0, before, 0, ids.length);
                    for (int i = 0; i < WINDOW; i++, pos++) {
                        step(tf, cache, token, pos, x, logits, i % 2 == 0 ? greedy : nucleus);
                    }
                    System.arraycopy(threads.getThreadAllocatedBytes(ids), 0, after, 0, ids.length);
                    lastWindow = 0;
                    for (int t = 0; t < ids.length; t++) {
                        // Slack for the measuring itself (the returned array of counts).
                        lastWindow += Math.max(0, after[t] - before[t] - 64);
                    }
                }
                assertThat(lastWindow).as("bytes allocated in %d %s decode steps after warm-up", WINDOW, dtype).isZero();
            }
        }
    }

    @Test
    void earlyExitDecodingAllocatesNothingPerToken() throws Exception {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        var m = Llama2cCheckpoint.load(TestModels.stories15M(), DType.F32);
        try (ThreadPool pool = new ThreadPool(1)) {
            Transformer tf = new Transformer(m.config(), m.weights(), pool);
            var heads = dev.earlyexit.exits.ExitHeadProvider.copiedEveryLayer().heads(m.config(), m.weights());
            EarlyExitDecoder d = new EarlyExitDecoder(tf, heads, EarlyExitDecoderTest.MIXED,
                    dev.earlyexit.calibration.ConfidenceMetrics.MAX_PROB);
            int[] prompt = EarlyExitDecoderTest.PROMPT;
            long id = Thread.currentThread().getId();
            // A 60-token run may cost more than a 10-token run only by its result arrays (a few bytes
            // per token), never by per-token scratch; repeated until the JIT has compiled the loop.
            long extra = Long.MAX_VALUE;
            for (int w = 0; w < MAX_WINDOWS && extra >= 50 * 64; w++) {
                long a = threads.getThreadAllocatedBytes(id);
                d.generate(prompt, 10, SamplingOptions.GREEDY, null, false);
                long b = threads.getThreadAllocatedBytes(id);
                d.generate(prompt, 60, SamplingOptions.GREEDY, null, false);
                long c2 = threads.getThreadAllocatedBytes(id);
                extra = (c2 - b) - (b - a);
            }
            assertThat(extra).as("bytes a 60-token early-exit run allocates beyond a 10-token one").isLessThan(50 * 64);
        }
    }

    @Test
    void batchedEarlyExitStepsAllocateNothing() throws Exception {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        var m = Llama2cCheckpoint.load(TestModels.stories15M(), DType.F32);
        try (ThreadPool pool = new ThreadPool(1)) {
            Transformer tf = new Transformer(m.config(), m.weights(), pool);
            var heads = dev.earlyexit.exits.ExitHeadProvider.copiedEveryLayer().heads(m.config(), m.weights());
            EarlyExitBatch batch = new EarlyExitBatch(tf, heads, dev.earlyexit.calibration.ConfidenceMetrics.MAX_PROB);
            EarlyExitBatch.Sequence[] seqs = {batch.newSequence(), batch.newSequence(), batch.newSequence()};
            double[][] thresholds = {EarlyExitDecoderTest.MIXED, null, EarlyExitBatchTest.EAGER};
            SamplingOptions[] sampling = {SamplingOptions.GREEDY, new SamplingOptions(0.8f, 40, 0.9f, 1),
                    SamplingOptions.GREEDY};
            long id = Thread.currentThread().getId();
            // The same requests each window, started outside the measured steps; buffers that grow to the
            // most rows a layer has seen stop growing after the first window.
            long lastWindow = Long.MAX_VALUE;
            for (int w = 0; w < MAX_WINDOWS && lastWindow > 0; w++) {
                for (int i = 0; i < seqs.length; i++) {
                    seqs[i].start(EarlyExitBatchTest.PROMPTS[i], sampling[i], thresholds[i]);
                }
                threads.getThreadAllocatedBytes(id);
                long before = threads.getThreadAllocatedBytes(id);
                for (int t = 0; t < 40; t++) {
                    for (EarlyExitBatch.Sequence s : seqs) {
                        s.feed(s.token());
                    }
                    batch.step(seqs, seqs.length);
                }
                lastWindow = Math.max(0, threads.getThreadAllocatedBytes(id) - before - 64);
            }
            assertThat(lastWindow).as("bytes allocated in 40 batched early-exit steps after warm-up").isZero();
        }
    }

    private static void step(Transformer tf, KVCache cache, int[] token, int pos, float[] x, float[] logits, Sampler s) {
        tf.embed(token, 0, 1, pos, x);
        tf.forward(x, 1, 0, tf.config().layers(), cache);
        tf.logits(x, 0, logits);
        token[0] = s.sample(logits, 0);
    }
}
