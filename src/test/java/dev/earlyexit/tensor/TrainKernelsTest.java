package dev.earlyexit.tensor;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** The training kernels against plain loops, and independent of the thread count. */
class TrainKernelsTest {

    private static float[] random(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) r.nextGaussian();
        }
        return x;
    }

    @Test
    void weightAndInputGradientsMatchPlainLoops() {
        int B = 5;
        int rows = 37;
        int cols = 45; // not a multiple of any vector length: exercises every tail
        float[] dZ = random(B * rows, 1);
        float[] X = random(B * cols, 2);
        float[] W = random(rows * cols, 3);
        float[] dW1 = random(rows * cols, 4);
        float[] dW2 = dW1.clone();
        float[] dX1 = new float[B * cols];
        float[] dX2 = new float[B * cols];
        try (ThreadPool one = new ThreadPool(1); ThreadPool two = new ThreadPool(2)) {
            new TrainKernels(one).accumulateWeightGradient(dZ, B, rows, X, cols, dW1);
            new TrainKernels(two).accumulateWeightGradient(dZ, B, rows, X, cols, dW2);
            new TrainKernels(one).inputGradient(dZ, B, W, rows, cols, dX1);
            new TrainKernels(two).inputGradient(dZ, B, W, rows, cols, dX2);
        }
        assertThat(dW2).containsExactly(dW1);
        assertThat(dX2).containsExactly(dX1);
        float[] dW0 = random(rows * cols, 4);
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                double s = dW0[r * cols + c];
                for (int b = 0; b < B; b++) {
                    s += (double) dZ[b * rows + r] * X[b * cols + c];
                }
                assertThat((double) dW1[r * cols + c]).isCloseTo(s, within(1e-4));
            }
        }
        for (int b = 0; b < B; b++) {
            for (int c = 0; c < cols; c++) {
                double s = 0;
                for (int r = 0; r < rows; r++) {
                    s += (double) dZ[b * rows + r] * W[r * cols + c];
                }
                assertThat((double) dX1[b * cols + c]).isCloseTo(s, within(1e-4));
            }
        }
    }

    @Test
    void adamWStepMatchesTheFormula() {
        int n = 20_000;
        float[] w = random(n, 5);
        float[] g = random(n, 6);
        float[] m = random(n, 7);
        float[] v = random(n, 8);
        for (int i = 0; i < n; i++) {
            v[i] = Math.abs(v[i]);
        }
        float[] w0 = w.clone();
        float[] m0 = m.clone();
        float[] v0 = v.clone();
        try (ThreadPool two = new ThreadPool(2)) {
            new TrainKernels(two).adamW(w, g, m, v, n, 0.01f, 0.9f, 0.999f, 1e-8f, 0.1f, 0.5f, 0.25f);
        }
        for (int i = 0; i < n; i += 997) {
            double mi = 0.9 * m0[i] + 0.1 * g[i];
            double vi = 0.999 * v0[i] + 0.001 * g[i] * g[i];
            double wi = w0[i] * (1 - 0.01 * 0.1) - 0.01 * (mi / 0.5) / (Math.sqrt(vi / 0.25) + 1e-8);
            assertThat((double) m[i]).isCloseTo(mi, within(1e-5));
            assertThat((double) v[i]).isCloseTo(vi, within(1e-5));
            assertThat((double) w[i]).isCloseTo(wi, within(1e-5));
        }
    }
}
