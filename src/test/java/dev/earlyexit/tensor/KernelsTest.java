package dev.earlyexit.tensor;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class KernelsTest {

    @Test
    void softmaxIsANormalizedExponential() {
        Random r = new Random(1);
        for (int n : new int[] {1, 5, 16, 17, 100, 32000}) {
            float[] x = new float[n];
            for (int i = 0; i < n; i++) {
                x[i] = (float) (r.nextGaussian() * 5);
            }
            double max = Double.NEGATIVE_INFINITY;
            for (float v : x) {
                max = Math.max(max, v);
            }
            double sum = 0;
            for (float v : x) {
                sum += Math.exp(v - max);
            }
            float[] y = x.clone();
            Kernels.softmax(y, 0, n);
            for (int i = 0; i < n; i++) {
                assertThat((double) y[i]).isCloseTo(Math.exp(x[i] - max) / sum, within(1e-6));
            }
        }
    }

    @Test
    void rmsNormAndLayerNormMatchTheirDefinitions() {
        Random r = new Random(2);
        int n = 37;
        float[] x = new float[n];
        float[] w = new float[n];
        float[] b = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) r.nextGaussian();
            w[i] = (float) r.nextGaussian();
            b[i] = (float) r.nextGaussian();
        }
        double ss = 0;
        double mean = 0;
        for (float v : x) {
            ss += v * v;
            mean += v;
        }
        mean /= n;
        double var = 0;
        for (float v : x) {
            var += (v - mean) * (v - mean);
        }
        var /= n;
        float[] out = new float[n];
        Kernels.rmsNorm(out, 0, x, 0, w, n, 1e-5f);
        for (int i = 0; i < n; i++) {
            assertThat((double) out[i]).isCloseTo(w[i] * x[i] / Math.sqrt(ss / n + 1e-5), within(1e-5));
        }
        Kernels.layerNorm(out, 0, x, 0, w, b, n, 1e-5f);
        for (int i = 0; i < n; i++) {
            assertThat((double) out[i]).isCloseTo((x[i] - mean) / Math.sqrt(var + 1e-5) * w[i] + b[i], within(1e-5));
        }
    }

    @Test
    void geluVariantsMatchKnownValues() {
        float[] x = {-3f, -1f, 0f, 0.5f, 2f};
        float[] exact = x.clone();
        Kernels.geluExact(exact, 0, x.length);
        // x * Phi(x), Phi from the standard normal table.
        double[] expected = {-3 * 0.0013498980, -1 * 0.1586552539, 0, 0.5 * 0.6914624613, 2 * 0.9772498681};
        for (int i = 0; i < x.length; i++) {
            assertThat((double) exact[i]).isCloseTo(expected[i], within(1e-6));
        }
        float[] tanh = x.clone();
        Kernels.geluTanh(tanh, 0, x.length);
        for (int i = 0; i < x.length; i++) {
            assertThat((double) tanh[i]).isCloseTo(expected[i], within(1e-3));
        }
    }

    @Test
    void transposedScoresEqualDotProducts() {
        Random r = new Random(4);
        int hd = 48;
        int cap = 40;
        int n = 37;
        float[] q = MatrixTest.gaussian(r, hd);
        float[] kT = MatrixTest.gaussian(r, hd * cap);
        float[] out = new float[cap];
        Kernels.transposedScores(q, 0, kT, 0, cap, hd, n, 0.5f, out);
        for (int p = 0; p < n; p++) {
            double s = 0;
            for (int d = 0; d < hd; d++) {
                s += q[d] * kT[d * cap + p];
            }
            assertThat((double) out[p]).isCloseTo(0.5 * s, within(1e-4));
        }
    }
}
