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
 * by itself after a fixed number of steps.
 */
public final class Warmup {
    private static final int DIM = 64;
    private static final int HIDDEN = 128;
    private static final int VOCAB = 256;
    private static final int CONTEXT = 160;
    private static final int ROUNDS = 6;

    /**
     * Weight files from this size on load without the warm-up. Loading them keeps every core busy for
     * seconds (zeroing new arrays, page faults, repacking), so a warm-up beside it only slows the load, and
     * their first prefill is long enough to compile the kernels by itself: on the 1.24 B Q8_0 file (1.3 GB,
     * 2 cores) the warm-up made loading 0.8-1.0 s longer and the first token 0.3-0.7 s later; on
     * stories15M (25-60 MB) it makes a cold run's decoding 25% faster at no cost in wall time.
     */
    static final long LARGEST_WARMED_BYTES = 256L << 20;

    private Warmup() {
    }

    /** Whether a model whose weight files hold {@code weightBytes} (negative: unknown) gains from a warm-up. */
    public static boolean pays(long weightBytes) {
        return weightBytes < LARGEST_WARMED_BYTES;
    }

    /** Starts the warm-up for weights stored as {@code dtype} on a daemon thread and returns at once. */
    public static Thread startInBackground(DType dtype) {
        Thread t = new Thread(() -> run(dtype), "earlyexit-warmup");
        t.setDaemon(true);
        t.start();
        return t;
    }

    /** Runs prompt blocks and decode steps through a random two-layer model (for tests: synchronous). */
    public static void run(DType dtype) {
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
            float[] block = new float[8 * DIM];
            float[] logits = new float[VOCAB];
            int[] ids = new int[8];
            for (int round = 0; round < ROUNDS; round++) {
                cache.clear();
                for (int i = 0; i < ids.length; i++) {
                    ids[i] = random.nextInt(VOCAB);
                }
                model.embed(ids, 0, ids.length, 0, block);
                model.forward(block, ids.length, 0, c.layers(), cache);
                model.logits(block, ids.length - 1, logits);
                for (int pos = ids.length; pos < CONTEXT - 1; pos++) {
                    ids[0] = Kernels.argmax(logits, 0, VOCAB);
                    model.embed(ids, 0, 1, pos, block);
                    model.forward(block, 1, 0, c.layers(), cache);
                    model.logits(block, 0, logits);
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
