package dev.earlyexit.tensor;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

class LanesTest {
    private static final int L = FloatVector.SPECIES_PREFERRED.length();

    @Test
    void sumAddsTheLanesInOrderFromLaneZero() {
        float[] lanes = new float[L];
        lanes[0] = 1e8f;
        lanes[1] = 1f;
        lanes[L - 1] = -1e8f;
        // in lane order the 1 is lost to rounding next to 1e8; a pairwise tree would keep it
        assertThat(Lanes.sum(lanes)).isEqualTo(0f);
    }

    /**
     * Kernels.dot's bits are those of its definition (lane j's fused multiply-adds over i = j mod L, the
     * lanes summed from lane 0, then the scalar tail) before and after the JIT has compiled it: JDK 25's
     * compiled reduceLanes summed in another order than its interpreter.
     */
    @Test
    void dotHasTheSameBitsInEveryCompilationTier() {
        Random random = new Random(7);
        int n = 4 * L + 3;
        int cases = 1000;
        float[] a = new float[cases * n];
        float[] b = new float[cases * n];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) (random.nextGaussian() * Math.pow(10, random.nextInt(5)));
            b[i] = (float) random.nextGaussian();
        }
        int mismatches = 0;
        for (int round = 0; round < 500; round++) { // the first rounds run interpreted, the last compiled
            for (int c = 0; c < cases; c++) {
                float dot = Kernels.dot(a, c * n, b, c * n, n);
                if (Float.floatToRawIntBits(dot) != Float.floatToRawIntBits(definition(a, b, c * n, n))) {
                    mismatches++;
                }
            }
        }
        assertThat(mismatches).isZero();
    }

    private static float definition(float[] a, float[] b, int off, int n) {
        int upper = n - n % L;
        float[] acc = new float[L];
        for (int i = 0; i < upper; i++) {
            acc[i % L] = Math.fma(a[off + i], b[off + i], acc[i % L]);
        }
        float s = acc[0];
        for (int j = 1; j < L; j++) {
            s += acc[j];
        }
        for (int i = upper; i < n; i++) {
            s += a[off + i] * b[off + i];
        }
        return s;
    }
}
