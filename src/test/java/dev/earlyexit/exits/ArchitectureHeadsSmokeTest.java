package dev.earlyexit.exits;

import dev.earlyexit.calibration.Calibration;
import dev.earlyexit.calibration.Calibrator;
import dev.earlyexit.calibration.ConfidenceMetrics;
import dev.earlyexit.decoding.ExitCriterion;
import dev.earlyexit.decoding.GenerationResult;
import dev.earlyexit.decoding.Generator;
import dev.earlyexit.decoding.SamplingOptions;
import dev.earlyexit.decoding.SelfSpeculativeDecoder;
import dev.earlyexit.decoding.SpeculativeResult;
import dev.earlyexit.format.HfCheckpoint;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.Transformer;
import dev.earlyexit.store.ModelFingerprint;
import dev.earlyexit.tensor.DType;
import dev.earlyexit.tensor.ThreadPool;
import dev.earlyexit.testutil.TestModels;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every supported architecture goes through the whole method with no architecture-specific code:
 * heads train on the model's own generations, calibrate, and drive DSSD, whose greedy output stays the
 * full model's. The checkpoints are the tiny random reference ones (vocabulary 384), so this is a
 * smoke test of the plumbing, not of head quality.
 */
class ArchitectureHeadsSmokeTest {

    @ParameterizedTest
    @ValueSource(strings = {"gpt2", "gpt_neox", "phi", "qwen2", "llama_gqa", "qwen3", "llama31", "phi3"})
    void headsTrainCalibrateAndDriveLosslessDssd(String arch) throws Exception {
        var loaded = HfCheckpoint.load(TestModels.resource("reference/arch/" + arch), DType.F32);
        ModelConfig c = loaded.config();
        try (ThreadPool pool = new ThreadPool(2)) {
            Transformer tf = new Transformer(c, loaded.weights(), pool);
            int[] layers = HeadTraining.defaultLayers(c.layers());
            List<int[]> prompts = List.of(new int[] {5, 17, 42}, new int[] {100, 7}, new int[] {300, 12, 9, 64});
            HeadDataset train = dataset(tf, layers, prompts, 11);
            HeadDataset heldOut = dataset(tf, layers, List.of(new int[] {33, 2, 250}, new int[] {77, 150}), 99);

            TrainingOptions options = new TrainingOptions(0.1f, 40, 32, 1e-2f, 0.01f, 5, 0.1f, 3);
            HeadTraining.Result r = HeadTraining.run(tf, new HeadTraining.Setup(HeadKind.FULL, HeadInit.RANDOM, layers,
                    0, 0.97, 0, options), train, heldOut, null);
            for (int k = 0; k < layers.length; k++) {
                HeadMetrics before = r.before().get(k);
                HeadMetrics after = r.after().get(k);
                assertThat(after.crossEntropy()).as("%s head after layer %d learns", arch, layers[k])
                        .isLessThan(before.crossEntropy());
            }

            HeadSet heads = new HeadSet("full", arch + "-smoke", List.copyOf(r.heads().heads()));
            var calibrationSet = Calibrator.generate(tf, prompts, new Calibrator.SetOptions(2, 24, 1.0f, 0.95f, 5));
            var collected = Calibrator.collect(tf, heads, List.of(ConfidenceMetrics.MAX_PROB), calibrationSet);
            Calibration cal = Calibrator.calibrate(collected, heads, ModelFingerprint.of(c, loaded.weights()), arch,
                    Map.of());
            double[] tau = cal.thresholds(ConfidenceMetrics.MAX_PROB.id(), 0.5);
            assertThat(tau).hasSize(layers.length);

            // DSSD with the calibrated thresholds, and with every head always confident (so that drafts
            // and rejections surely happen), against plain greedy decoding.
            int[] prompt = {9, 61, 200};
            GenerationResult full = new Generator(tf).generate(prompt, 24, SamplingOptions.GREEDY, null);
            double[] calibrated = new double[heads.size()];
            for (int k = 0; k < heads.size(); k++) {
                calibrated[k] = Math.min(tau[k], 1.0);
            }
            long drafted = 0;
            for (double[] thresholds : List.of(calibrated, new double[heads.size()])) {
                SelfSpeculativeDecoder dssd = new SelfSpeculativeDecoder(tf, heads.heads(),
                        ExitCriterion.atLeast(ConfidenceMetrics.MAX_PROB::confidence, thresholds), 4);
                SpeculativeResult spec = dssd.generate(prompt, 24, SamplingOptions.GREEDY, null);
                assertThat(spec.ids()).as(arch).containsExactly(full.ids());
                drafted += spec.drafted();
            }
            assertThat(drafted).as("%s drafts", arch).isPositive();
        }
    }

    private static HeadDataset dataset(Transformer tf, int[] layers, List<int[]> prompts, long seed) {
        List<int[]> sequences = new ArrayList<>();
        for (Calibrator.Sequence s : Calibrator.generate(tf, prompts, new Calibrator.SetOptions(4, 40, 1.0f, 1f, seed))) {
            sequences.add(s.ids());
        }
        int positions = sequences.stream().mapToInt(a -> a.length).sum();
        return HeadDataset.capture(tf, layers, sequences, new HeadDataset.Summary(sequences.size(), prompts.size(),
                positions, 0, positions, 4, 40, 1.0f, seed));
    }
}
