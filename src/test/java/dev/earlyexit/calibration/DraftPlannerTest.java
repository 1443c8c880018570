package dev.earlyexit.calibration;

import dev.earlyexit.format.ModelFormatException;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class DraftPlannerTest {
    /** Heads after layers 2 and 4 of a 4-layer model; costs as stories15M's shape (a dear classifier). */
    static final int[] LAYERS = {2, 4};
    static final MeasuredCosts COSTS = new MeasuredCosts(0.25, 0.09, 2.2, 0.025, 0.18);

    /** Head k agrees with probability conf^(1/(k+1)) (the deeper the more often); confidence uniform. */
    static Calibrator.Collected synthetic(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        double[][][] conf = new double[1][2][n];
        boolean[][] agrees = new boolean[2][n];
        for (int i = 0; i < n; i++) {
            for (int k = 0; k < 2; k++) {
                double q = r.nextDouble();
                conf[0][k][i] = q;
                agrees[k][i] = r.nextDouble() < Math.pow(q, 1.0 / (3 * k + 1));
            }
        }
        return new Calibrator.Collected(List.of("max-prob"), LAYERS, conf, agrees, n, new int[] {0, n / 2, n});
    }

    static AcceptanceModel[] models(Calibrator.Collected set) {
        AcceptanceModel[] m = new AcceptanceModel[set.layers().length];
        for (int k = 0; k < m.length; k++) {
            m[k] = AcceptanceModel.of(ThresholdCurve.of(set.confidence()[0][k], set.agrees()[k]));
        }
        return m;
    }

    @Test
    void theChosenPlanBeatsEveryOtherSettingOfTheGridAndTheFullModel() {
        Calibrator.Collected set = synthetic(3000, 7);
        AcceptanceModel[] models = models(set);
        DraftPlan plan = DraftPlanner.plan(set, "max-prob", models, COSTS, 4, 16);
        assertThat(plan.fullMsPerToken()).isCloseTo(4 * 0.25 + 2.2, within(1e-12));
        assertThat(plan.predictedSpeedup()).isGreaterThan(1.0);
        assertThat(plan.acceptance()).isBetween(0.0, 1.0);
        assertThat(plan.maxDraft()).isBetween(1, 16);
        // A few other settings of the grid are no faster.
        DraftPlanner.Outcome best = replay(set, models, plan);
        assertThat(best.msPerToken()).isCloseTo(plan.predictedMsPerToken(), within(1e-9));
        for (int[] heads : DraftPlanner.subsets(2)) {
            for (double d : new double[] {0.05, 0.3, 0.9}) {
                assertThat(replayer(set, models).replay(heads, d, 0.5, 0.0, 4).msPerToken())
                        .isGreaterThanOrEqualTo(plan.predictedMsPerToken() - 1e-9);
            }
        }
    }

    @Test
    void thePlanStandsBetweenTheBestFixedLengthDraftAndTheOracle() {
        Calibrator.Collected set = synthetic(3000, 11);
        AcceptanceModel[] models = models(set);
        DraftPlan plan = DraftPlanner.plan(set, "max-prob", models, COSTS, 4, 16);
        DraftPlanner r = replayer(set, models);
        // Fixed-length drafts are in the plan's search space, so the plan is never slower than the best.
        assertThat(plan.predictedMsPerToken()).isLessThanOrEqualTo(plan.fixedMsPerToken() + 1e-12);
        assertThat(plan.fixedMsPerToken()).isCloseTo(r.bestFixed(16).msPerToken(), within(1e-12));
        for (int length : new int[] {1, 3, 8, 16}) {
            assertThat(r.replay(new int[] {1}, 0.0, 0.0, 0.0, length).msPerToken())
                    .isGreaterThanOrEqualTo(plan.fixedMsPerToken() - 1e-12);
        }
        // Knowing every draft's fate beats the plan; its drafts are all accepted.
        assertThat(plan.oracleMsPerToken()).isLessThan(plan.predictedMsPerToken());
        int[] heads = java.util.Arrays.stream(plan.layers()).map(l -> java.util.Arrays.binarySearch(LAYERS, l)).toArray();
        DraftPlanner.Outcome knowing = r.clairvoyant(heads, plan.draftThreshold(), plan.continueThreshold(),
                plan.lastDraftThreshold(), plan.maxDraft(), 16);
        assertThat(knowing.msPerToken()).isCloseTo(plan.oracleMsPerToken(), within(1e-12));
        assertThat(knowing.acceptance()).isEqualTo(1.0);
        assertThat(plan.bounds()).contains("best fixed-length draft").contains("knew which drafts");
    }

    @Test
    void whenHeadsAreAlwaysRightDraftsRunToTheLongestLength() {
        int n = 2000;
        double[][][] conf = new double[1][2][n];
        boolean[][] agrees = new boolean[2][n];
        for (int i = 0; i < n; i++) {
            conf[0][0][i] = 0.2 + 0.8 * (i % 5) / 5.0;
            conf[0][1][i] = 0.99;
            agrees[0][i] = i % 5 == 4;  // the shallow head is right only when most confident
            agrees[1][i] = true;
        }
        Calibrator.Collected set = new Calibrator.Collected(List.of("max-prob"), LAYERS, conf, agrees, n);
        DraftPlan plan = DraftPlanner.plan(set, "max-prob", models(set), COSTS, 4, 16);
        assertThat(plan.maxDraft()).isEqualTo(16);
        assertThat(plan.acceptance()).isGreaterThan(0.95);
    }

    @Test
    void replayCountsRoundsAsTheDecoderSpendsThem() {
        // One head after layer 2 of 2, always right with p = 0.9: max draft 2, no stop rule.
        Calibrator.Collected set = alwaysRight(7);
        MeasuredCosts c = new MeasuredCosts(1.0, 0.5, 10.0, 0.1, 2.0);
        DraftPlanner.Outcome o = DraftPlanner.replayer(set, "max-prob", models(set), c, 2)
                .replay(new int[] {0}, 0.0, 0.0, 0.0, 2);
        // Rounds start at positions 0 and 3: w0 and w1 each run 2 layers alone and ask the head (2 x 2.5 ms)
        // and draft w1 and w2; verification runs w2's 2 layers (2.0) and the classifier over 3 rows
        // (10 + 2 x 2.0): 21 ms for 3 tokens. The last round, at the sequence's last position, drafts once
        // (2.5) and verifies w1's layers (2.0) and 2 classifier rows (12.0) for its 1 remaining token.
        assertThat(o.tokens()).isEqualTo(7);
        assertThat(o.drafted()).isEqualTo(5);
        assertThat(o.accepted()).isEqualTo(5);
        assertThat(o.verifications()).isEqualTo(3);
        assertThat(o.msPerToken()).isCloseTo((2 * 21 + 2.5 + 2 + 12) / 7.0, within(1e-9));
    }

    @Test
    void aLastDraftLeftUnrunStartsTheNextRound() {
        // As above, but the last draft is never run at verification: rounds at 0, 2, 4 each draft w1, w2
        // (2 x 2.5 ms) and verify w0, w1 only (classifier over 2 rows, 12 ms): 2 tokens for 17 ms; the
        // last round at position 6 drafts once (2.5) and verifies w0 (10) for its 1 token.
        Calibrator.Collected set = alwaysRight(7);
        MeasuredCosts c = new MeasuredCosts(1.0, 0.5, 10.0, 0.1, 2.0);
        DraftPlanner.Outcome o = DraftPlanner.replayer(set, "max-prob", models(set), c, 2)
                .replay(new int[] {0}, 0.0, 0.0, 1.5, 2);
        assertThat(o.tokens()).isEqualTo(7);
        assertThat(o.drafted()).isEqualTo(7);
        assertThat(o.verifications()).isEqualTo(4);
        assertThat(o.msPerToken()).isCloseTo((3 * 17 + 12.5) / 7.0, within(1e-9));
    }

    @Test
    void plansNeedTheBlockCosts() {
        Calibrator.Collected set = synthetic(100, 1);
        assertThatThrownBy(() -> DraftPlanner.plan(set, "max-prob", models(set), new MeasuredCosts(1, 1, 1), 4, 8))
                .hasMessageContaining("block-row costs");
    }

    @Test
    void plansSurviveTheCalibrationsInfoAndRefuseMalformedOnes() {
        DraftPlan p = new DraftPlan("entropy", new int[] {3, 6}, 0.4, 0.6, 0.7, 12, 2.0, 3.0, 0.8, 4.5, 2.2, 1.5);
        Map<String, Object> info = new LinkedHashMap<>();
        DraftPlan.putInto(info, List.of(p));
        DraftPlan back = DraftPlan.from(info, "entropy").orElseThrow();
        assertThat(back.layers()).containsExactly(3, 6);
        assertThat(back.draftThreshold()).isEqualTo(0.4);
        assertThat(back.continueThreshold()).isEqualTo(0.6);
        assertThat(back.lastDraftThreshold()).isEqualTo(0.7);
        assertThat(back.maxDraft()).isEqualTo(12);
        assertThat(back.predictedSpeedup()).isCloseTo(1.5, within(1e-12));
        assertThat(back.fixedMsPerToken()).isEqualTo(2.2);
        assertThat(back.oracleMsPerToken()).isEqualTo(1.5);
        // Plans stored before the bounds were: NaN, and no bounds line.
        Map<String, Object> old = new LinkedHashMap<>();
        old.put("dssd_plans", Map.of("entropy", Map.of("layers", List.of(3), "draft_threshold", 0.5,
                "continue_threshold", 0.5, "max_draft", 4, "predicted_ms_per_token", 2.0, "full_ms_per_token", 3.0)));
        DraftPlan older = DraftPlan.from(old, "entropy").orElseThrow();
        assertThat(older.fixedMsPerToken()).isNaN();
        assertThat(older.bounds()).isEmpty();
        assertThat(DraftPlan.from(info, "max-prob")).isEmpty();
        assertThat(DraftPlan.from(Map.of(), "entropy")).isEmpty();
        Map<String, Object> bad = new LinkedHashMap<>();
        bad.put("dssd_plans", Map.of("entropy", Map.of("layers", List.of(3), "draft_threshold", 2.0,
                "continue_threshold", 0.5, "max_draft", 4)));
        assertThatThrownBy(() -> DraftPlan.from(bad, "entropy")).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("thresholds");
        bad.put("dssd_plans", Map.of("entropy", "nonsense"));
        assertThatThrownBy(() -> DraftPlan.from(bad, "entropy")).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("malformed");
    }

    /** One head after layer 2 of a 2-layer model, right at every one of n positions at confidence 0.9. */
    private static Calibrator.Collected alwaysRight(int n) {
        double[][][] conf = new double[1][1][n];
        boolean[][] agrees = new boolean[1][n];
        java.util.Arrays.fill(conf[0][0], 0.9);
        java.util.Arrays.fill(agrees[0], true);
        return new Calibrator.Collected(List.of("max-prob"), new int[] {2}, conf, agrees, n);
    }

    private static DraftPlanner replayer(Calibrator.Collected set, AcceptanceModel[] models) {
        return DraftPlanner.replayer(set, "max-prob", models, COSTS, 4);
    }

    private static DraftPlanner.Outcome replay(Calibrator.Collected set, AcceptanceModel[] models, DraftPlan plan) {
        int[] heads = java.util.Arrays.stream(plan.layers()).map(l -> java.util.Arrays.binarySearch(LAYERS, l)).toArray();
        return replayer(set, models).replay(heads, plan.draftThreshold(), plan.continueThreshold(),
                plan.lastDraftThreshold(), plan.maxDraft());
    }
}
