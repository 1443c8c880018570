package dev.earlyexit.calibration;

import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.LinkedHashMap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** Choosing consulted heads from measured costs and calibrated coverage. */
class ConsultPolicyTest {
    private static final double INF = Double.POSITIVE_INFINITY;

    @Test
    void expectedCostCountsLayersHeadsAndTheClassifierForTheTokensStillRunning() {
        MeasuredCosts c = new MeasuredCosts(1.0, 0.5, 2.0);
        double[] tau = {0.1, 0.2};
        int[] layers = {2, 4};
        double[] coverage = {0.5, 0.8};
        // No heads: 6 layers + classifier.
        assertThat(ConsultPolicy.expectedCost(0, tau, coverage, layers, c, 6)).isCloseTo(8.0, within(1e-12));
        // Head at 2: 2 layers + head, then half the tokens run 4 more layers + classifier.
        assertThat(ConsultPolicy.expectedCost(1, tau, coverage, layers, c, 6)).isCloseTo(2.5 + 0.5 * 6, within(1e-12));
        // Both: 2.5, then 0.5 * (2 + 0.5), then 0.2 * (2 + 2).
        assertThat(ConsultPolicy.expectedCost(3, tau, coverage, layers, c, 6)).isCloseTo(2.5 + 1.25 + 0.8, within(1e-12));
    }

    @Test
    void expensiveHeadsAreLeftOutAndCheapUsefulOnesKept() {
        double[] tau = {0.9, 0.9, 0.9};
        int[] layers = {1, 3, 5};
        double[] coverage = {0.01, 0.6, 0.7};
        // Cheap heads: the one at layer 1 exits too rarely to pay; 3 pays; 5 adds 10% more exits for little.
        double[] cheap = ConsultPolicy.fastest(tau, coverage, layers, new MeasuredCosts(1.0, 0.1, 1.0), 6);
        assertThat(cheap).containsExactly(INF, 0.9, 0.9);
        // A head call costing more than the whole model: none is worth asking.
        double[] dear = ConsultPolicy.fastest(tau, coverage, layers, new MeasuredCosts(1.0, 10.0, 1.0), 6);
        assertThat(dear).containsOnly(INF);
        // A head that cannot exit at this ε is never chosen.
        double[] none = ConsultPolicy.fastest(new double[] {INF, 0.9, 0.9}, coverage, layers,
                new MeasuredCosts(1.0, 0.1, 1.0), 6);
        assertThat(none[0]).isInfinite();
    }

    @Test
    void costsRoundTripThroughTheCalibrationInfo() {
        Map<String, Object> info = new LinkedHashMap<>();
        assertThat(MeasuredCosts.from(info)).isEmpty();
        new MeasuredCosts(0.7, 0.2, 1.1).putInto(info);
        assertThat(MeasuredCosts.from(info)).contains(new MeasuredCosts(0.7, 0.2, 1.1));
    }
}
