package dev.earlyexit.calibration;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** The exact binomial lower bound, and the Learn-then-Test thresholds built on it. */
class ClopperPearsonTest {
    @Test
    void lowerBoundMatchesIndependentlyComputedValues() {
        // Reference values from a separate python3 script using only math.comb: the exact binomial tail
        // P(Bin(n, p) >= k) summed term by term, and bisection on p for tail = delta.
        // 5 of 10 at one-sided 95% is also the textbook 90% two-sided interval's lower end, 0.2224.
        assertThat(ClopperPearson.lowerBound(5, 10, 0.05)).isCloseTo(0.22244110100812908, within(1e-9));
        assertThat(ClopperPearson.lowerBound(9, 10, 0.1)).isCloseTo(0.6631522766932751, within(1e-9));
        assertThat(ClopperPearson.lowerBound(95, 100, 0.1)).isCloseTo(0.9092285303859298, within(1e-9));
        assertThat(ClopperPearson.lowerBound(48, 50, 0.1)).isCloseTo(0.8970407914632808, within(1e-9));
        assertThat(ClopperPearson.lowerBound(290, 300, 0.1)).isCloseTo(0.949107929722081, within(1e-9));
        assertThat(ClopperPearson.lowerBound(7, 20, 0.025)).isCloseTo(0.15390920478454118, within(1e-9));
        assertThat(ClopperPearson.lowerBound(999, 1000, 0.01)).isCloseTo(0.9933803316043515, within(1e-9));
        assertThat(ClopperPearson.lowerBound(1, 1, 0.1)).isCloseTo(0.1, within(1e-12));
        assertThat(ClopperPearson.lowerBound(0, 7, 0.1)).isZero();
    }

    @Test
    void testingTheBoundAgreesWithComputingIt() {
        for (int n = 1; n <= 60; n += 7) {
            for (int k = 0; k <= n; k++) {
                double lb = ClopperPearson.lowerBound(k, n, 0.1);
                assertThat(ClopperPearson.boundAtLeast(k, n, lb - 1e-6, 0.1)).isTrue();
                assertThat(ClopperPearson.boundAtLeast(k, n, lb + 1e-6, 0.1)).isFalse();
            }
        }
    }

    @Test
    void deltaOutsideTheOpenUnitIntervalIsRefused() {
        for (double d : new double[] {0, 1, -0.1, 1.5, Double.NaN}) {
            assertThatThrownBy(() -> ThresholdRule.guarantee(d)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("delta must be in (0, 1)");
        }
        assertThatThrownBy(() -> ThresholdRule.parse("lucky", 0.1)).hasMessageContaining("unknown threshold rule");
    }

    @Property(tries = 200)
    void boundGrowsWithSuccesses(@ForAll @IntRange(min = 1, max = 400) int n, @ForAll @IntRange(min = 0, max = 400) int k) {
        int kk = Math.min(k, n - 1);
        double lower = ClopperPearson.lowerBound(kk, n, 0.1);
        double higher = ClopperPearson.lowerBound(kk + 1, n, 0.1);
        assertThat(higher).isGreaterThan(lower);
        assertThat(lower).isLessThanOrEqualTo((double) kk / n);
    }

    @Property(tries = 20)
    void boundCoversTheTrueRateAtLeastOneMinusDeltaOfTheTime(@ForAll @IntRange(min = 5, max = 300) int n,
                                                             @ForAll @IntRange(min = 1, max = 99) int percent) {
        double p = percent / 100.0;
        SplittableRandom random = new SplittableRandom(42L * n + percent);
        int trials = 2000;
        int covered = 0;
        for (int t = 0; t < trials; t++) {
            int k = 0;
            for (int i = 0; i < n; i++) {
                if (random.nextDouble() < p) {
                    k++;
                }
            }
            if (ClopperPearson.lowerBound(k, n, 0.1) <= p) {
                covered++;
            }
        }
        // Exact intervals are conservative: coverage >= 0.9; 3.5 standard errors of slack for the simulation.
        assertThat(covered / (double) trials).isGreaterThanOrEqualTo(0.9 - 3.5 * Math.sqrt(0.09 / trials));
    }

    @Test
    void learnThenTestStopsAtTheFirstFailureFromTheConfidentEnd() {
        // 200 tokens: the 100 most confident all agree, then 20 that all disagree, then 80 that all agree.
        int n = 200;
        double[] conf = new double[n];
        boolean[] agree = new boolean[n];
        for (int i = 0; i < n; i++) {
            conf[i] = i;
            agree[i] = i >= 100 || i < 80;
        }
        ThresholdCurve c = ThresholdCurve.of(conf, agree);
        // The paper's rule takes the lowest j whose suffix is accurate enough: all 200 (0.9 agree).
        assertThat(c.index(0.9)).isZero();
        int j = c.guaranteedIndex(0.9, 0.1);
        // The guarantee passes the clean top 100 and stops once the disagreeing block drags the bound down.
        // (100 of 106 passes: bound 0.905; 100 of 107 does not), and never reaches the clean block below.
        assertThat(j).isEqualTo(94);
        assertThat(ClopperPearson.lowerBound(c.agreeing(j), n - j, 0.1)).isGreaterThanOrEqualTo(0.9);
        assertThat(ClopperPearson.lowerBound(c.agreeing(j - 1), n - j + 1, 0.1)).isLessThan(0.9);
        assertThat(c.threshold(0.9, ThresholdRule.guarantee(0.1))).isEqualTo(conf[j]);
        // ε = 1 can never be guaranteed: the head never exits.
        assertThat(c.guaranteedIndex(1.0, 0.1)).isEqualTo(-1);
        assertThat(c.threshold(1.0, ThresholdRule.DEFAULT)).isInfinite();
    }

    @Property(tries = 30)
    void guaranteedThresholdsHoldOnFreshDataAtLeastOneMinusDeltaOfTheTime(@ForAll @IntRange(min = 0, max = 1000) int seed) {
        // Tokens with confidence u ~ U(0,1) agree with probability u: the true agreement above τ is (1 + τ) / 2.
        SplittableRandom random = new SplittableRandom(seed);
        double eps = 0.9;
        int failures = 0;
        int runs = 20;
        for (int r = 0; r < runs; r++) {
            int n = 1000;
            double[] conf = new double[n];
            boolean[] agree = new boolean[n];
            for (int i = 0; i < n; i++) {
                conf[i] = random.nextDouble();
                agree[i] = random.nextDouble() < conf[i];
            }
            double tau = ThresholdCurve.of(conf, agree).threshold(eps, ThresholdRule.DEFAULT);
            if (Double.isFinite(tau) && (1 + tau) / 2 < eps) {
                failures++;
            }
        }
        // δ = 0.1: at most 10% of runs may fail; allow a binomial tail's worth over 20 runs.
        assertThat(failures).isLessThanOrEqualTo(6);
    }

    @Test
    void aurocIsTheChanceARightTokenIsMoreConfidentThanAWrongOne() {
        ThresholdCurve perfect = ThresholdCurve.of(new double[] {0.1, 0.2, 0.8, 0.9},
                new boolean[] {false, false, true, true});
        assertThat(perfect.auroc()).isEqualTo(1.0);
        ThresholdCurve reversed = ThresholdCurve.of(new double[] {0.1, 0.2, 0.8, 0.9},
                new boolean[] {true, true, false, false});
        assertThat(reversed.auroc()).isEqualTo(0.0);
        // Ranks: wrong at 0.1 and 0.5 (tied with a right one), right at 0.5 and 0.7: pairs (0.5>0.1), (0.5=0.5 half),
        // (0.7>0.1), (0.7>0.5): 3.5 of 4.
        ThresholdCurve tied = ThresholdCurve.of(new double[] {0.1, 0.5, 0.5, 0.7},
                new boolean[] {false, false, true, true});
        assertThat(tied.auroc()).isCloseTo(3.5 / 4, within(1e-12));
        assertThat(ThresholdCurve.of(new double[] {1, 2}, new boolean[] {true, true}).auroc()).isNaN();
    }
}
