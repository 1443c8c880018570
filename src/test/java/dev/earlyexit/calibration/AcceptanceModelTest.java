package dev.earlyexit.calibration;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class AcceptanceModelTest {

    @Test
    void poolsViolatorsAndSmoothsEachBlock() {
        // Confidences 0.1..0.6; agreement F T F T T T: (0.2 T, 0.3 F) violate the order and pool.
        double[] conf = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6};
        boolean[] agree = {false, true, false, true, true, true};
        AcceptanceModel m = AcceptanceModel.of(ThresholdCurve.of(conf, agree));
        assertThat(m.steps()).isEqualTo(3); // {0.1} {0.2, 0.3} {0.4, 0.5, 0.6}
        assertThat(m.probability(0.1)).isCloseTo(1.0 / 3, within(1e-12));   // (0 + 1) / (1 + 2)
        assertThat(m.probability(0.25)).isCloseTo(2.0 / 4, within(1e-12));  // (1 + 1) / (2 + 2)
        assertThat(m.probability(0.3)).isCloseTo(2.0 / 4, within(1e-12));
        assertThat(m.probability(0.45)).isCloseTo(4.0 / 5, within(1e-12));  // (3 + 1) / (3 + 2)
        assertThat(m.probability(0.99)).isCloseTo(4.0 / 5, within(1e-12));
        assertThat(m.probability(-5)).isCloseTo(1.0 / 3, within(1e-12));    // below every value: the lowest block
        assertThat(m.probability(Double.NaN)).isCloseTo(1.0 / 3, within(1e-12));
    }

    @Test
    void tiesFormOneGroup() {
        double[] conf = {0.5, 0.5, 0.5, 0.9};
        boolean[] agree = {true, false, false, true};
        AcceptanceModel m = AcceptanceModel.of(ThresholdCurve.of(conf, agree));
        assertThat(m.probability(0.5)).isCloseTo(2.0 / 5, within(1e-12));
        assertThat(m.probability(0.9)).isCloseTo(2.0 / 3, within(1e-12));
    }

    @Test
    void anEmptyCurveKnowsNothing() {
        AcceptanceModel m = AcceptanceModel.of(ThresholdCurve.of(new double[0], new boolean[0]));
        assertThat(m.probability(0.7)).isEqualTo(0.5);
    }

    @Property(tries = 50)
    void isNonDecreasingAndAProbability(@ForAll @IntRange(min = 1, max = 400) int n, @ForAll long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        double[] conf = new double[n];
        boolean[] agree = new boolean[n];
        for (int i = 0; i < n; i++) {
            conf[i] = Math.round(r.nextDouble() * 50) / 50.0; // ties included
            agree[i] = r.nextDouble() < conf[i];
        }
        AcceptanceModel m = AcceptanceModel.of(ThresholdCurve.of(conf, agree));
        double previous = 0;
        for (double c = -0.1; c <= 1.1; c += 0.01) {
            double p = m.probability(c);
            assertThat(p).isGreaterThan(0).isLessThan(1).isGreaterThanOrEqualTo(previous);
            previous = p;
        }
    }
}
