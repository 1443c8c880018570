package dev.earlyexit.calibration;

import dev.earlyexit.exits.ExitHead;
import dev.earlyexit.exits.HeadSet;
import dev.earlyexit.format.ModelFormatException;
import dev.earlyexit.tensor.ThreadPool;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** The paper's threshold rule on hand-made data, the calibration file, and the guarantee on held-out data. */
class ThresholdCurveTest {
    @TempDir
    Path dir;

    @Test
    void thresholdIsTheMetricAtTheFirstIndexWhoseSuffixIsAccurateEnough() {
        // Given unsorted: sorted ascending the values are 0.1 .. 0.6 with correctness F T F T T T.
        double[] m = {0.4, 0.1, 0.6, 0.2, 0.5, 0.3};
        boolean[] ok = {true, false, true, true, true, false};
        ThresholdCurve c = ThresholdCurve.of(m, ok);
        assertThat(c.size()).isEqualTo(6);
        // Suffix accuracies: j0 4/6, j1 4/5, j2 3/4, j3 3/3, j4 2/2, j5 1/1.
        assertThat(c.suffixAccuracy(0)).isCloseTo(4.0 / 6, within(1e-12));
        assertThat(c.suffixAccuracy(1)).isCloseTo(0.8, within(1e-12));
        assertThat(c.suffixAccuracy(2)).isCloseTo(0.75, within(1e-12));
        assertThat(c.index(0.6)).isZero();
        assertThat(c.threshold(0.6)).isEqualTo(0.1);
        assertThat(c.index(0.75)).isEqualTo(1); // first j, although j = 2 also qualifies
        assertThat(c.index(0.8)).isEqualTo(1);
        assertThat(c.threshold(0.8)).isEqualTo(0.2);
        assertThat(c.coverage(0.8)).isCloseTo(5.0 / 6, within(1e-12));
        assertThat(c.index(0.81)).isEqualTo(3);
        assertThat(c.threshold(0.9)).isEqualTo(0.4);
        assertThat(c.threshold(1.0)).isEqualTo(0.4);
        assertThat(c.coverage(1.0)).isCloseTo(0.5, within(1e-12));
        assertThat(c.accuracy()).isCloseTo(4.0 / 6, within(1e-12));
    }

    @Test
    void aHeadThatIsNeverAccurateEnoughNeverExits() {
        ThresholdCurve c = ThresholdCurve.of(new double[] {0.2, 0.9, 0.5}, new boolean[] {true, false, false});
        // Sorted: 0.2 T, 0.5 F, 0.9 F; suffix accuracies 1/3, 0, 0.
        assertThat(c.index(0.3)).isEqualTo(0);
        assertThat(c.index(0.34)).isEqualTo(-1);
        assertThat(c.threshold(0.34)).isEqualTo(Double.POSITIVE_INFINITY);
        assertThat(c.coverage(0.34)).isZero();
        ThresholdCurve wrong = ThresholdCurve.of(new double[] {0.2, 0.9}, new boolean[] {false, false});
        assertThat(wrong.threshold(0.01)).isEqualTo(Double.POSITIVE_INFINITY);
        assertThat(ThresholdCurve.of(new double[0], new boolean[0]).threshold(0.5)).isEqualTo(Double.POSITIVE_INFINITY);
    }

    @Test
    void tiedValuesOnlyStartASuffixWhereTheTieGroupStarts() {
        // Sorted: 0.1 T, 0.5 F, 0.5 T, 0.9 T. Index 2 has suffix accuracy 1 but "confidence >= 0.5" also
        // admits index 1, so the threshold moves on to 0.9.
        ThresholdCurve c = ThresholdCurve.of(new double[] {0.5, 0.1, 0.9, 0.5}, new boolean[] {false, true, true, true});
        assertThat(c.index(0.9)).isEqualTo(3);
        assertThat(c.threshold(0.9)).isEqualTo(0.9);
        assertThat(c.index(0.6)).isEqualTo(0);
    }

    @Test
    void coverageNeverGrowsWithEpsilon() {
        SplittableRandom r = new SplittableRandom(3);
        double[] m = new double[500];
        boolean[] ok = new boolean[500];
        for (int i = 0; i < m.length; i++) {
            m[i] = r.nextDouble();
            ok[i] = r.nextDouble() < m[i];
        }
        ThresholdCurve c = ThresholdCurve.of(m, ok);
        double previous = 1.0;
        for (double eps = 0.05; eps <= 1.0; eps += 0.05) {
            assertThat(c.coverage(eps)).isLessThanOrEqualTo(previous);
            previous = c.coverage(eps);
        }
    }

    /** Synthetic heads whose confidence is calibrated: P(correct | confidence q) = q. */
    @Test
    void heldOutTokensThatExitAgreeAtLeastEpsilonMinusTolerance() {
        int K = 3;
        Calibrator.Collected cal = synthetic(K, 6000, new SplittableRandom(1));
        Calibrator.Collected held = synthetic(K, 6000, new SplittableRandom(2));
        HeadSet heads = fakeHeads(K);
        Calibration c = Calibrator.calibrate(cal, heads, "sha256:x", "synthetic", Map.of());
        Calibrator.CheckReport report = Calibrator.check(c, "max-prob", held, Calibrator.CHECK_EPSILONS, K + 1);
        assertThat(report.heads()).hasSize(K * Calibrator.CHECK_EPSILONS.length);
        for (Calibrator.HeadCheck h : report.heads()) {
            assertThat(h.exits()).as("exits at layer %d eps %s", h.layer(), h.epsilon()).isGreaterThan(100);
            assertThat(h.ok()).as("layer %d eps %s agreement %s", h.layer(), h.epsilon(), h.agreement()).isTrue();
        }
        assertThat(report.passed()).isTrue();
        // The cascade keeps the promise too here (every head is calibrated the same way).
        for (Calibrator.CascadeCheck cc : report.cascade()) {
            assertThat(cc.meanLayers()).isLessThan(K + 1);
        }
    }

    private static Calibrator.Collected synthetic(int K, int n, SplittableRandom r) {
        double[][][] conf = new double[1][K][n];
        boolean[][] agrees = new boolean[K][n];
        for (int k = 0; k < K; k++) {
            for (int i = 0; i < n; i++) {
                double q = Math.pow(r.nextDouble(), 0.5 / (k + 1)); // deeper heads are more often confident
                conf[0][k][i] = q;
                agrees[k][i] = r.nextDouble() < q;
            }
        }
        int[] layers = new int[K];
        for (int k = 0; k < K; k++) {
            layers[k] = k + 1;
        }
        return new Calibrator.Collected(List.of("max-prob"), layers, conf, agrees, n);
    }

    private static HeadSet fakeHeads(int K) {
        List<ExitHead> heads = new ArrayList<>();
        for (int k = 0; k < K; k++) {
            int layer = k + 1;
            heads.add(new ExitHead() {
                public int layer() {
                    return layer;
                }

                public int outputSize() {
                    return 2;
                }

                public int tokenId(int index) {
                    return index;
                }

                public int indexOf(int tokenId) {
                    return tokenId < 2 ? tokenId : -1;
                }

                public void logits(float[] hidden, int offset, float[] out, ThreadPool pool) {
                }

                public long bytesPerCall() {
                    return 0;
                }
            });
        }
        return new HeadSet("fake", "fake:" + K, heads);
    }

    @Test
    void calibrationFilesRoundTripAndRefuseOtherModelsAndHeads() throws Exception {
        Map<String, ThresholdCurve[]> curves = new LinkedHashMap<>();
        curves.put("max-prob", new ThresholdCurve[] {
                ThresholdCurve.of(new double[] {0.4, 0.1, 0.6, 0.2, 0.5, 0.3},
                        new boolean[] {true, false, true, true, true, false}),
                ThresholdCurve.of(new double[] {0.2, 0.9}, new boolean[] {false, false})});
        HeadSet heads = new HeadSet("fake", "fake:2", fakeHeads(2).heads());
        Calibration cal = new Calibration("sha256:abc", "m.bin", heads.identity(), heads.layers(), 6, curves,
                Map.of("seed", 1));
        Path f = dir.resolve("sub").resolve("cal.json");
        cal.save(f);
        Calibration back = Calibration.load(f);
        assertThat(back.thresholds("max-prob", 0.8)).containsExactly(0.2, Double.POSITIVE_INFINITY);
        assertThat(back.curve("max-prob", 0).coverage(0.9)).isEqualTo(cal.curve("max-prob", 0).coverage(0.9));
        assertThat(back.layers()).containsExactly(1, 2);
        assertThat(back.info()).containsEntry("seed", 1);
        back.requireFor("sha256:abc", heads, f);

        assertThatThrownBy(() -> back.requireFor("sha256:other", heads, f)).hasMessageContaining("another model");
        HeadSet other = new HeadSet("fake", "fake:other", heads.heads());
        assertThatThrownBy(() -> back.requireFor("sha256:abc", other, f)).hasMessageContaining("other exit heads");
        assertThatThrownBy(() -> back.thresholds("max-prob", 0.0)).hasMessageContaining("epsilon must be in (0, 1]");
        assertThatThrownBy(() -> back.thresholds("max-prob", 1.01)).hasMessageContaining("epsilon must be in (0, 1]");
        assertThatThrownBy(() -> back.thresholds("margin", 0.5)).hasMessageContaining("no curves for metric 'margin'");

        assertThatThrownBy(() -> Calibration.load(dir.resolve("none.json"))).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("run ./earlyexit calibrate");
        Path junk = dir.resolve("junk.json");
        Files.writeString(junk, "{\"format\":\"something-else\"}");
        assertThatThrownBy(() -> Calibration.load(junk)).hasMessageContaining("not an earlyexit calibration file");
    }

    @Test
    void metricsAreOrientedSoThatLargerIsMoreConfident() {
        float[] peaked = {0.97f, 0.01f, 0.01f, 0.01f};
        float[] flat = {0.25f, 0.25f, 0.25f, 0.25f};
        for (ConfidenceMetric m : ConfidenceMetric.builtIns()) {
            assertThat(m.confidence(peaked, 4)).as(m.id()).isGreaterThan(m.confidence(flat, 4));
        }
        assertThat(ConfidenceMetrics.MARGIN.confidence(new float[] {0.5f, 0.3f, 0.2f}, 3)).isCloseTo(0.2, within(1e-6));
        assertThat(ConfidenceMetrics.ENTROPY.confidence(flat, 4)).isCloseTo(-Math.log(4), within(1e-6));
        assertThat(ConfidenceMetric.byName("entropy")).isSameAs(ConfidenceMetrics.ENTROPY);
        assertThatThrownBy(() -> ConfidenceMetric.byName("nope")).hasMessageContaining("max-prob, entropy, margin");
    }

    @Test
    void headsAreConsultedOnlyWhereTheyPayOrWhereAsked() {
        double[] tau = {0.5, 0.6, 0.7};
        int[] layers = {2, 4, 5};
        assertThat(ConsultPolicy.only(tau, layers, new int[] {4})).containsExactly(Double.POSITIVE_INFINITY, 0.6,
                Double.POSITIVE_INFINITY);
        // 6 layers of 4 MB, classifier 37 MB. A 37 MB head at layer 5 that lets 35% out saves 0.35 x 41 MB: not worth it;
        // a 2 MB head at layer 2 letting 30% out saves 0.3 x 53 MB: worth it.
        long mb = 1_000_000;
        double[] kept = ConsultPolicy.worthwhile(tau, new double[] {0.3, 0.0, 0.35}, layers,
                new long[] {2 * mb, 2 * mb, 37 * mb}, 4 * mb, 37 * mb, 6);
        assertThat(kept).containsExactly(0.5, Double.POSITIVE_INFINITY, Double.POSITIVE_INFINITY);
    }

    @Test
    void calibrationsLiveInTheModelsHeadsDirectory() throws Exception {
        Path bin = dir.resolve("model.bin");
        Files.writeString(bin, "x");
        assertThat(Calibration.defaultPath(bin, "copied-final"))
                .isEqualTo(dir.resolve("model.heads").resolve("calibration-copied-final.json").toAbsolutePath());
        Path hf = Files.createDirectories(dir.resolve("hf"));
        assertThat(Calibration.defaultPath(hf, "subset"))
                .isEqualTo(hf.resolve("heads").resolve("calibration-subset.json").toAbsolutePath());
    }
}
