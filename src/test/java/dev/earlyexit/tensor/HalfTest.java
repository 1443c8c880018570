package dev.earlyexit.tensor;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class HalfTest {

    @Test
    void everyHalfWidensAndNarrowsBackToItself() {
        for (int h = 0; h < 0x10000; h++) {
            float f = Half.toFloat(h);
            if (Float.isNaN(f)) {
                assertThat(Half.fromFloat(f) & 0x7C00).isEqualTo(0x7C00);
                continue;
            }
            assertThat(Half.fromFloat(f) & 0xFFFF).as("half %04x", h).isEqualTo(h);
        }
    }

    @Test
    void theKernelsWideningEqualsTheExactOneForEveryFiniteHalf() {
        for (int h = 0; h < 0x10000; h++) {
            if ((h & 0x7C00) == 0x7C00) {
                continue; // infinities and NaN: not promised
            }
            float exact = Half.toFloat(h);
            assertThat(Float.floatToRawIntBits(Half.finiteToFloat((short) h))).as("half %04x", h)
                    .isEqualTo(Float.floatToRawIntBits(exact)); // -0 stays -0
        }
    }

    @Test
    void widensKnownValues() {
        assertThat(Half.toFloat(0x3C00)).isEqualTo(1f);
        assertThat(Half.toFloat(0xC000)).isEqualTo(-2f);
        assertThat(Half.toFloat(0x7BFF)).isEqualTo(65504f);
        assertThat(Half.toFloat(0x0001)).isEqualTo(0x1p-24f);
        assertThat(Half.toFloat(0x7C00)).isEqualTo(Float.POSITIVE_INFINITY);
    }

    @Test
    void midpointsRoundToEven() {
        // Between consecutive halves a and a+1 (same sign, finite), the float midpoint goes to the even one,
        // and anything off the midpoint to the nearer one.
        for (int h = 0; h < 0x7BFF; h++) {
            float lo = Half.toFloat(h);
            float hi = Half.toFloat(h + 1);
            float mid = (float) (((double) lo + hi) / 2);
            int even = (h & 1) == 0 ? h : h + 1;
            assertThat(Half.fromFloat(mid) & 0xFFFF).as("midpoint after %04x", h).isEqualTo(even);
            assertThat(Half.fromFloat(Math.nextDown(mid)) & 0xFFFF).isEqualTo(h);
            assertThat(Half.fromFloat(Math.nextUp(mid)) & 0xFFFF).isEqualTo(h + 1);
            assertThat(Half.fromFloat(-mid) & 0xFFFF).isEqualTo(even | 0x8000);
        }
        assertThat(Half.fromFloat(65520f) & 0xFFFF).isEqualTo(0x7C00); // rounds past the largest half
        assertThat(Half.fromFloat(Math.nextDown(65520f)) & 0xFFFF).isEqualTo(0x7BFF);
    }
}
