package dev.earlyexit.calibration;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class CalibrationSummaryTest {

    /** A head whose agreement rises with confidence (P(agree | c) = c), over n tokens. */
    private static ThresholdCurve informative(SplittableRandom r, int n) {
        double[] c = new double[n];
        boolean[] ok = new boolean[n];
        for (int i = 0; i < n; i++) {
            c[i] = r.nextDouble();
            ok[i] = r.nextDouble() < c[i];
        }
        return ThresholdCurve.of(c, ok);
    }

    /** Confidence that says nothing about agreement. */
    private static ThresholdCurve uninformative(SplittableRandom r, int n) {
        double[] c = new double[n];
        boolean[] ok = new boolean[n];
        for (int i = 0; i < n; i++) {
            c[i] = r.nextDouble();
            ok[i] = r.nextDouble() < 0.7;
        }
        return ThresholdCurve.of(c, ok);
    }

    @Test
    void eachHeadHasItsAurocAndBothRulesCoverageAndTheGuaranteeNeverExitsMore() {
        SplittableRandom r = new SplittableRandom(3);
        int n = 4000;
        Calibration cal = new Calibration("sha256:x", "m", "h", new int[] {2, 4}, n,
                Map.of("softmax", new ThresholdCurve[] {informative(r, n), uninformative(r, n)}), Map.of());
        double[] eps = {0.8, 0.9, 0.95};
        Map<String, List<Map<String, Object>>> s = cal.summary(eps, ThresholdRule.DEFAULT);

        List<Map<String, Object>> rows = s.get("softmax");
        assertThat(rows).extracting(row -> row.get("layer")).containsExactly(2, 4);
        // P(agree | c) = c gives AUROC 5/6 in theory (agreeing tokens have density 2c, the others 2(1-c)); the other 1/2
        assertThat((double) rows.get(0).get("auroc")).isBetween(0.80, 0.87);
        assertThat((double) rows.get(1).get("auroc")).isBetween(0.45, 0.55);
        for (Map<String, Object> row : rows) {
            @SuppressWarnings("unchecked")
            Map<String, Double> paper = (Map<String, Double>) row.get("coverage_paper");
            @SuppressWarnings("unchecked")
            Map<String, Double> guarantee = (Map<String, Double>) row.get("coverage_guarantee");
            assertThat(paper).containsOnlyKeys("0.8", "0.9", "0.95");
            for (String e : paper.keySet()) {
                assertThat(guarantee.get(e)).isLessThanOrEqualTo(paper.get(e)); // what the guarantee costs
            }
        }
        // the informative head lets tokens exit at 0.8: the top fifth or so of confidences agree that often
        @SuppressWarnings("unchecked")
        Map<String, Double> informativeGuarantee = (Map<String, Double>) rows.get(0).get("coverage_guarantee");
        assertThat(informativeGuarantee.get("0.8")).isBetween(0.2, 0.5);
    }
}
