package dev.earlyexit.model;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** The rescaled rotary frequencies against values computed independently of this code. */
class RopeScalingTest {

    /*
     * Computed once with python3 + numpy (float64), transcribing transformers' _compute_llama3_parameters:
     *   inv = 1 / theta ** (arange(0, dim, 2) / dim); wl = 2 * pi / inv
     *   out = where(wl > orig / lo, inv / factor, inv); s = (orig / wl - lo) / (hi - lo)
     *   out = where(~(wl < orig / hi) & ~(wl > orig / lo), (1 - s) * out / factor + s * out, out)
     */
    private static final double[] LLAMA31_REFERENCE = {  // dim 16, theta 5e5, factor 4, lo 1, hi 4, orig 64
        1.0, 0.09576297140341929, 0.009401507732715983, 0.0018231661843042771, 0.00035355339059327376,
        6.856204391905182e-05, 1.3295739742362472e-05, 2.578346344303115e-06};
    private static final double[] LLAMA3_8B_EVERY_16TH = {  // dim 128, theta 5e5, factor 8, lo 1, hi 4, orig 8192
        1.0, 0.03760603093086393, 0.0005248461609929547, 6.647869871181236e-06};

    @Test
    void llama3MatchesTheReferenceFormula() {
        double[] small = RopeScaling.llama3(4, 1, 4, 64).inverseFrequencies(16, 500000);
        assertRelativelyClose(small, LLAMA31_REFERENCE);
        double[] big = RopeScaling.llama3(8, 1, 4, 8192).inverseFrequencies(128, 500000);
        double[] sampled = new double[LLAMA3_8B_EVERY_16TH.length];
        for (int i = 0; i < sampled.length; i++) {
            sampled[i] = big[16 * i];
        }
        assertRelativelyClose(sampled, LLAMA3_8B_EVERY_16TH);
    }

    @Test
    void linearAndFrequencyFactorsDivide() {
        double[] plain = RopeScaling.NONE.inverseFrequencies(8, 10000);
        assertRelativelyClose(plain, new double[] {1, 0.1, 0.01, 0.001});
        double[] linear = RopeScaling.linear(2).inverseFrequencies(8, 10000);
        assertRelativelyClose(linear, new double[] {0.5, 0.05, 0.005, 0.0005});
        double[] factors = RopeScaling.freqFactors(new float[] {1, 2, 4, 8}).inverseFrequencies(8, 10000);
        assertRelativelyClose(factors, new double[] {1, 0.05, 0.0025, 0.000125});
        assertThatThrownBy(() -> RopeScaling.freqFactors(new float[] {1, 2}).inverseFrequencies(8, 10000))
                .hasMessageContaining("2 RoPE frequency factors for 8 rotary dims");
        assertThat(RopeScaling.freqFactors(new float[] {1, 2})).isEqualTo(RopeScaling.freqFactors(new float[] {1, 2}));
    }

    private static void assertRelativelyClose(double[] actual, double[] expected) {
        assertThat(actual).hasSize(expected.length);
        for (int i = 0; i < expected.length; i++) {
            assertThat(actual[i]).as("pair " + i).isCloseTo(expected[i], within(1e-12 * expected[i]));
        }
    }
}
