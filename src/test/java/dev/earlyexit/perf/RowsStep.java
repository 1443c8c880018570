package dev.earlyexit.perf;

import dev.earlyexit.model.KVCache;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.Transformer;
import dev.earlyexit.store.LoadedModel;
import dev.earlyexit.store.ModelCache;
import dev.earlyexit.store.ModelResolver;
import dev.earlyexit.tensor.DType;
import dev.earlyexit.tensor.Kernels;
import dev.earlyexit.tensor.ThreadPool;

import java.util.Arrays;
import java.util.Locale;

/**
 * Manual experiment (not a test): the server's batched decode step, forwardRows + logitsBlock + argmax,
 * for 1 and T rows of different sequences at position ~100, alternating; prints the medians, split into
 * layers and classifier. Usage: java ... RowsStep MODEL T REPS
 */
public final class RowsStep {
    public static void main(String[] args) throws Exception {
        LoadedModel m = new ModelResolver(ModelCache.defaultCache(), System.err::println).load(args[0], null, DType.F32);
        ModelConfig c = m.config();
        int T = Integer.parseInt(args[1]);
        int reps = Integer.parseInt(args[2]);
        try (ThreadPool pool = new ThreadPool(2)) {
            Transformer tf = new Transformer(c, m.weights(), pool);
            KVCache[] caches = new KVCache[T];
            int ctx = 100;
            int[] ids = new int[ctx];
            for (int i = 0; i < ctx; i++) {
                ids[i] = 1 + (i * 37) % 1000;
            }
            float[] prompt = new float[ctx * c.dim()];
            for (int t = 0; t < T; t++) {
                caches[t] = new KVCache(c);
                tf.embed(ids, 0, ctx, 0, prompt);
                tf.forward(prompt, ctx, 0, c.layers(), caches[t]);
            }
            float[] x = new float[T * c.dim()];
            float[] logits = new float[T * c.vocabSize()];
            double[][] layers = new double[2][reps];
            double[][] cls = new double[2][reps];
            for (int r = -20; r < reps; r++) {
                for (int v = 0; v < 2; v++) {
                    int rows = v == 0 ? 1 : T;
                    for (int t = 0; t < rows; t++) {
                        caches[t].truncateAll(ctx);
                        tf.embed(ids, t, 1, ctx, x);
                    }
                    long t0 = System.nanoTime();
                    tf.forwardRows(x, rows, Arrays.copyOf(caches, rows));
                    long t1 = System.nanoTime();
                    tf.logitsBlock(x, rows, logits);
                    for (int t = 0; t < rows; t++) {
                        Kernels.argmax(logits, t * c.vocabSize(), c.vocabSize());
                    }
                    long t2 = System.nanoTime();
                    if (r >= 0) {
                        layers[v][r] = (t1 - t0) / 1e6;
                        cls[v][r] = (t2 - t1) / 1e6;
                    }
                }
            }
            double l1 = med(layers[0]), lT = med(layers[1]), c1 = med(cls[0]), cT = med(cls[1]);
            System.out.printf(Locale.ROOT, "1 row: layers %.3f ms, classifier %.3f ms, total %.3f%n", l1, c1, l1 + c1);
            System.out.printf(Locale.ROOT, "%d rows: layers %.3f ms, classifier %.3f ms, total %.3f (%.2fx one row; "
                    + "throughput %.2fx)%n", T, lT, cT, lT + cT, (lT + cT) / (l1 + c1), T * (l1 + c1) / (lT + cT));
        }
    }

    private static double med(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }
}
