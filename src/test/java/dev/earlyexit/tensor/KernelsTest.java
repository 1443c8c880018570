package dev.earlyexit.tensor;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
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

    /** Position counts cover the four-block, one-vector and scalar paths. */
    @Property(tries = 40)
    void transposedScoresEqualDotProducts(@ForAll @IntRange(min = 1, max = 150) int n,
                                          @ForAll @IntRange(min = 1, max = 80) int hd) {
        Random r = new Random(n * 131L + hd);
        int cap = n + 3;
        int qOff = 2;
        int kOff = 5;
        float[] q = MatrixTest.gaussian(r, qOff + hd);
        float[] kT = MatrixTest.gaussian(r, kOff + hd * cap);
        float[] out = new float[cap];
        Kernels.transposedScores(q, qOff, kT, kOff, cap, hd, n, 0.5f, out);
        for (int p = 0; p < n; p++) {
            double s = 0;
            double scale = 0;
            for (int d = 0; d < hd; d++) {
                s += (double) q[qOff + d] * kT[kOff + d * cap + p];
                scale += Math.abs((double) q[qOff + d] * kT[kOff + d * cap + p]);
            }
            assertThat((double) out[p]).as("position %d", p).isCloseTo(0.5 * s, within(1e-5 * scale + 1e-6));
        }
    }

    /** Widths cover the four-vector, one-vector and scalar paths (head sizes 48, 64, 80, 128 and odd ones). */
    @Property(tries = 40)
    void weightedRowSumEqualsSumOfScaledRows(@ForAll @IntRange(min = 1, max = 70) int count,
                                             @ForAll @IntRange(min = 1, max = 140) int n) {
        Random r = new Random(count * 977L + n);
        int stride = n + 7;
        int vOff = 3;
        int outOff = 4;
        float[] weights = MatrixTest.gaussian(r, count);
        float[] v = MatrixTest.gaussian(r, vOff + count * stride);
        float[] out = new float[outOff + n + 2];
        java.util.Arrays.fill(out, Float.NaN); // the kernel overwrites [outOff, outOff + n) and nothing else
        Kernels.weightedRowSum(weights, count, v, vOff, stride, out, outOff, n);
        for (int j = 0; j < n; j++) {
            double s = 0;
            double scale = 0;
            for (int p = 0; p < count; p++) {
                s += (double) weights[p] * v[vOff + p * stride + j];
                scale += Math.abs((double) weights[p] * v[vOff + p * stride + j]);
            }
            assertThat((double) out[outOff + j]).as("column %d", j).isCloseTo(s, within(1e-5 * scale + 1e-6));
        }
        assertThat(out[outOff - 1]).isNaN();
        assertThat(out[outOff + n]).isNaN();
    }

    @Test
    void vectorExpIsWithinTwoUlpOfMathExpAndZeroBelowTheNormalRange() {
        int lanes = Kernels.F.length();
        float[] x = new float[lanes];
        float[] y = new float[lanes];
        Random r = new Random(5);
        for (int k = 0; k < 20_000; k++) {
            for (int i = 0; i < lanes; i++) {
                x[i] = k < 10 ? -k * 0.25f : (float) (r.nextDouble() * 175.0 - 87.0);
            }
            Kernels.exp(jdk.incubator.vector.FloatVector.fromArray(Kernels.F, x, 0)).intoArray(y, 0);
            for (int i = 0; i < lanes; i++) {
                float expected = (float) Math.exp(x[i]);
                assertThat(Math.abs(y[i] - expected)).as("exp(%s)", x[i]).isLessThanOrEqualTo(2 * Math.ulp(expected));
            }
        }
        for (int i = 0; i < lanes; i++) {
            x[i] = i == 0 ? 0f : i == 1 ? -88f : i == 2 ? Float.NEGATIVE_INFINITY : -1000f * i;
        }
        Kernels.exp(jdk.incubator.vector.FloatVector.fromArray(Kernels.F, x, 0)).intoArray(y, 0);
        assertThat(y[0]).as("exp(0), softmax's largest entry").isEqualTo(1f);
        for (int i = 1; i < lanes; i++) {
            assertThat(y[i]).as("exp(%s)", x[i]).isZero();
        }
    }
}
