package dev.earlyexit.perf;

import dev.earlyexit.tensor.DType;
import dev.earlyexit.tensor.Matrix;
import dev.earlyexit.tensor.ThreadPool;

import java.util.Random;

/** Development harness: bandwidth of one matrix-vector product. */
public final class QuickMatmulBench {
    public static void main(String[] args) {
        int rows = Integer.parseInt(args[0]);
        int cols = Integer.parseInt(args[1]);
        int threads = Integer.parseInt(args[2]);
        float[] w = new float[rows * cols];
        Random r = new Random(1);
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) r.nextGaussian();
        }
        Matrix m = Matrix.of(DType.parse(args[3]), w, rows, cols);
        float[] x = new float[cols];
        float[] out = new float[rows];
        try (ThreadPool pool = new ThreadPool(threads)) {
            for (int rep = 0; rep < 5; rep++) {
                long t0 = System.nanoTime();
                int n = 200;
                for (int i = 0; i < n; i++) {
                    m.matmul(x, 1, out, pool);
                }
                double s = (System.nanoTime() - t0) / 1e9 / n;
                System.out.printf("%.3f ms/call, %.1f GB/s%n", s * 1e3, m.bytes() / s / 1e9);
            }
        }
    }
}
