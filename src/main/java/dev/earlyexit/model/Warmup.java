package dev.earlyexit.model;

import dev.earlyexit.tensor.DType;
import dev.earlyexit.tensor.Kernels;
import dev.earlyexit.tensor.Matrix;
import dev.earlyexit.tensor.ThreadPool;

import java.util.SplittableRandom;

/**
 * Gets the just-in-time compiler going while a model loads. The Vector API is only fast once C2 has
 * compiled a kernel (interpreted, every vector operation allocates), and C2 compiles a method only
 * after thousands of calls: a cold {@code generate} spent its prompt and first hundred tokens at a
 * fraction of warm speed. Running the same forward pass on a tiny random model of the same storage
 * type in a background thread, while the real weights are read, makes those calls early.
 *
 * <p>The tiny model shares no state with the real one, so results are unaffected; the thread stops
 * when the loader says the real model is ready ({@link Running#stop}), else after a fixed number of steps.
 */
public final class Warmup {
    private static final int DIM = 64;
    private static final int HIDDEN = 128;
    private static final int VOCAB = 256;
    private static final int CONTEXT = 160;
    private static final int ROUNDS = 6;
    /** Prompt blocks of 2 to MAX_BLOCK tokens, run before the decode steps. */
    private static final int BLOCKS = 210;
    private static final int MAX_BLOCK = 8;

    /**
     * Weight files from this size on load without the warm-up. Loading them keeps every core busy for
     * seconds (zeroing new arrays, page faults, repacking), so a warm-up beside it only slows the load, and
     * their first prefill is long enough to compile the kernels by itself: on the 1.24 B Q8_0 file (1.3 GB,
     * 2 cores) the warm-up made loading 0.8-1.0 s longer and the first token 0.3-0.7 s later; on
     * stories15M (25-60 MB) a cold run's first prompt block took 150 ms (81-173) against 193 without it,
     * at the same wall time (6 alternating pairs, 2026-12-04; see {@link Running#stop}).
     */
    static final long LARGEST_WARMED_BYTES = 256L << 20;

    private Warmup() {
    }

    /** Whether a model whose weight files hold {@code weightBytes} (negative: unknown) gains from a warm-up. */
    public static boolean pays(long weightBytes) {
        return weightBytes < LARGEST_WARMED_BYTES;
    }

    /**
     * Starts the warm-up for weights stored as {@code dtype} on a daemon thread and returns at once;
     * {@link Running#stop} ends it once the real model is ready.
     */
    public static Running startInBackground(DType dtype) {
        Running running = new Running();
        running.thread = new Thread(() -> run(dtype, running), "earlyexit-warmup");
        running.thread.setDaemon(true);
        running.thread.start();
        return running;
    }

    /** A warm-up in progress. */
    public static final class Running {
        private volatile boolean stopped;
        private volatile int steps;
        private Thread thread;

        /**
         * Ends the warm-up after its current step. Call it when the real model can run: a warm-up still
         * going then takes a core from the real prompt (its blocks alone take 0.3-0.4 s on the 2-core VM,
         * stories15M loads in ~0.2 s). Measured on a cold 251-token generate, 8 alternating pairs: the
         * prompt block 268 -> 135 ms (median), decoding ~7% slower (274 -> 257 tokens/s, the decode
         * kernels now compile in the real run), wall time +0.08 s; resuming the warm-up's decode steps
         * 120 ms after the stop was slower in both.
         */
        public void stop() {
            stopped = true;
        }

        /** Forward passes run so far (blocks and decode steps). */
        public int steps() {
            return steps;
        }

        /** Waits for the warm-up thread to end (tests). */
        public void join() throws InterruptedException {
            thread.join();
        }
    }

    /** Runs the whole warm-up synchronously (tests); returns its forward passes. */
    public static int run(DType dtype) {
        Running running = new Running();
        run(dtype, running);
        return running.steps;
    }

    /**
     * Prompt blocks of every short length first, then decode steps through a random two-layer model,
     * until done or stopped. Blocks come first because a run's first work is its prompt: the first
     * 5-token block of a cold stories15M took 134-217 ms against ~5 ms warm, its block kernels (several
     * tokens per weight load) being the least called before.
     */
    private static void run(DType dtype, Running running) {
        ModelConfig c = new ModelConfig("warmup", DIM, HIDDEN, 2, 4, 2, DIM / 4, VOCAB, CONTEXT,
                ModelConfig.NormKind.RMS, 1e-5f, 10000f, DIM / 4, ModelConfig.RopeStyle.INTERLEAVED,
                ModelConfig.MlpKind.SWIGLU, ModelConfig.ResidualKind.SEQUENTIAL, false, 1, 2, RopeScaling.NONE, false);
        SplittableRandom random = new SplittableRandom(42);
        LayerWeights[] layers = new LayerWeights[c.layers()];
        for (int l = 0; l < layers.length; l++) {
            layers[l] = new LayerWeights(ones(DIM), null, matrix(dtype, c.qkvDim(), DIM, random), null,
                    matrix(dtype, DIM, c.qDim(), random), null, ones(DIM), null,
                    matrix(dtype, 2 * HIDDEN, DIM, random), null, matrix(dtype, DIM, HIDDEN, random), null, null, null);
        }
        Matrix embedding = matrix(dtype, VOCAB, DIM, random);
        ModelWeights w = new ModelWeights(embedding, null, layers, ones(DIM), null, embedding, null);
        try (ThreadPool pool = new ThreadPool(1)) {
            Transformer model = new Transformer(c, w, pool);
            KVCache cache = new KVCache(c);
            float[] block = new float[MAX_BLOCK * DIM];
            float[] logits = new float[VOCAB];
            int[] ids = new int[MAX_BLOCK];
            int[] one = new int[1];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = random.nextInt(VOCAB);
            }
            for (int b = 0; b < BLOCKS && !running.stopped; b++) {
                int T = 2 + b % (MAX_BLOCK - 1);
                cache.clear();
                model.embed(ids, 0, T, 0, block);
                model.forward(block, T, 0, c.layers(), cache);
                model.logits(block, T - 1, logits);
                running.steps++;
            }
            for (int round = 0; round < ROUNDS && !running.stopped; round++) {
                cache.clear();
                model.embed(ids, 0, MAX_BLOCK, 0, block);
                model.forward(block, MAX_BLOCK, 0, c.layers(), cache);
                model.logits(block, MAX_BLOCK - 1, logits);
                running.steps++;
                for (int pos = MAX_BLOCK; pos < CONTEXT - 1 && !running.stopped; pos++) {
                    one[0] = Kernels.argmax(logits, 0, VOCAB);
                    model.embed(one, 0, 1, pos, block);
                    model.forward(block, 1, 0, c.layers(), cache);
                    model.logits(block, 0, logits);
                    running.steps++;
                }
            }
        }
    }

    private static float[] ones(int n) {
        float[] a = new float[n];
        java.util.Arrays.fill(a, 1f);
        return a;
    }

    private static Matrix matrix(DType dtype, int rows, int cols, SplittableRandom random) {
        float[] data = new float[rows * cols];
        for (int i = 0; i < data.length; i++) {
            data[i] = (float) (random.nextDouble() - 0.5) * 0.2f;
        }
        return Matrix.of(dtype, data, rows, cols);
    }
}
