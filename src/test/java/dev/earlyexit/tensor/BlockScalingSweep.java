package dev.earlyexit.tensor;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Locale;
import java.util.Random;

/**
 * Manual experiment (not a test): what a block of T tokens costs against one token through one weight
 * matrix (issue 13's block-scaling target), T = 1, 2, 4, 5, 8, 9 in alternating rounds on the given pool
 * size, random weights of the given type. Prints each T's median µs and its ratio to T = 1.
 * Usage: java ... BlockScalingSweep THREADS ROUNDS ROWS COLS TYPE
 */
public final class BlockScalingSweep {
    private static final int[] TOKENS = {1, 2, 4, 5, 8, 9};

    public static void main(String[] args) {
        int threads = Integer.parseInt(args[0]);
        int rounds = Integer.parseInt(args[1]);
        int rows = Integer.parseInt(args[2]);
        int cols = Integer.parseInt(args[3]);
        GgmlType type = GgmlType.valueOf(args[4].toUpperCase(Locale.ROOT));
        Random r = new Random(1);
        float[] w = gaussian(r, rows * cols);
        float[] x = gaussian(r, TOKENS[TOKENS.length - 1] * cols);
        float[] out = new float[TOKENS[TOKENS.length - 1] * rows];
        Matrix m = GgmlMatrices.of(type, ByteBuffer.wrap(GgmlMatrices.quantize(type, w, 0, rows, cols)), rows, cols);
        double[][] us = new double[TOKENS.length][rounds];
        try (ThreadPool pool = new ThreadPool(threads)) {
            for (int round = -rounds / 2; round < rounds; round++) { // the first half of as many rounds warms up
                for (int k = 0; k < TOKENS.length; k++) {
                    long t0 = System.nanoTime();
                    m.matmul(x, TOKENS[k], out, pool);
                    long t1 = System.nanoTime();
                    if (round >= 0) {
                        us[k][round] = (t1 - t0) / 1e3;
                    }
                }
            }
        }
        double one = median(us[0]);
        for (int k = 0; k < TOKENS.length; k++) {
            System.out.printf(Locale.ROOT, "%s %dx%d, %d threads, T=%d: %.1f us, %.2fx T=1%n", type, rows, cols, threads,
                    TOKENS[k], median(us[k]), median(us[k]) / one);
        }
    }

    private static float[] gaussian(Random r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return v;
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }
}
