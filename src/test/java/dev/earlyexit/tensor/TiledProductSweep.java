package dev.earlyexit.tensor;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Locale;
import java.util.Random;

/**
 * Manual experiment (not a test): a block of T tokens through one weight matrix, the per-row kernels
 * (multiplyRows) against the tiled product (matmul at T >= TILED_MIN_T), alternating, on the given
 * pool size. Prints the median ms and GFLOP/s of each. Usage: java ... TiledProductSweep THREADS ROUNDS
 * ROWS COLS T TYPE...
 */
public final class TiledProductSweep {
    public static void main(String[] args) {
        int threads = Integer.parseInt(args[0]);
        int rounds = Integer.parseInt(args[1]);
        int rows = Integer.parseInt(args[2]);
        int cols = Integer.parseInt(args[3]);
        int T = Integer.parseInt(args[4]);
        Random r = new Random(1);
        float[] x = new float[T * cols];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        float[] out = new float[T * rows];
        try (ThreadPool pool = new ThreadPool(threads)) {
            for (int a = 5; a < args.length; a++) {
                GgmlType type = GgmlType.valueOf(args[a].toUpperCase(Locale.ROOT));
                float[] w = new float[rows * cols];
                for (int i = 0; i < w.length; i++) {
                    w[i] = (float) r.nextGaussian();
                }
                Matrix m = GgmlMatrices.of(type, ByteBuffer.wrap(GgmlMatrices.quantize(type, w, 0, rows, cols)), rows, cols);
                float[] rowInput = m.input(x, T, pool).clone(); // as the pool's product prepares it (Q4_K adds sums)
                ThreadPool.RangeTask perRow = (s, e, worker) -> m.multiplyRows(s * 8, Math.min(rows, e * 8), rowInput, T, out, rows, 0);
                double[] rowMs = new double[rounds];
                double[] tiledMs = new double[rounds];
                for (int i = 0; i < 3; i++) {
                    pool.parallelFor((rows + 7) / 8, perRow);
                    m.matmul(x, T, out, pool);
                }
                for (int i = 0; i < rounds; i++) {
                    long t0 = System.nanoTime();
                    pool.parallelFor((rows + 7) / 8, perRow);
                    long t1 = System.nanoTime();
                    m.matmul(x, T, out, pool);
                    long t2 = System.nanoTime();
                    rowMs[i] = (t1 - t0) / 1e6;
                    tiledMs[i] = (t2 - t1) / 1e6;
                }
                double flop = 2.0 * rows * cols * T;
                double a0 = median(rowMs);
                double a1 = median(tiledMs);
                System.out.printf(Locale.ROOT, "%-5s %dx%d T=%d  per-row %.1f ms (%.1f GFLOP/s)  tiled %.1f ms (%.1f GFLOP/s)  %.2fx%n",
                        type, rows, cols, T, a0, flop / a0 / 1e6, a1, flop / a1 / 1e6, a0 / a1);
            }
        }
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }
}
