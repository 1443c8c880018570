package dev.earlyexit.calibration;

import dev.earlyexit.exits.ExitHeadProvider;
import dev.earlyexit.exits.HeadSet;
import dev.earlyexit.format.Llama2cCheckpoint;
import dev.earlyexit.model.Transformer;
import dev.earlyexit.store.ModelFingerprint;
import dev.earlyexit.tensor.DType;
import dev.earlyexit.tensor.ThreadPool;
import dev.earlyexit.testutil.TestModels;
import dev.earlyexit.tokenizer.Tokenizer;
import dev.earlyexit.tokenizer.Tokenizers;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** Calibration of copied heads on stories15M, checked on held-out continuations the model wrote. */
class CalibratorModelTest {

    @Test
    void calibratedHeadsKeepTheirPromiseOnHeldOutContinuations() throws Exception {
        var m = Llama2cCheckpoint.load(TestModels.stories15M(), DType.F32);
        try (ThreadPool pool = new ThreadPool(1)) {
            Transformer tf = new Transformer(m.config(), m.weights(), pool);
            HeadSet heads = ExitHeadProvider.copiedEveryLayer().heads(m.config(), m.weights());
            Tokenizer tok = Tokenizers.load(TestModels.stories15M().resolveSibling("tokenizer.bin"));
            List<int[]> prompts = new ArrayList<>();
            for (String p : Calibrator.CALIBRATION_PROMPTS) {
                int[] body = tok.encode(p);
                int[] ids = new int[body.length + 1];
                ids[0] = m.config().bosId();
                System.arraycopy(body, 0, ids, 1, body.length);
                prompts.add(ids);
            }
            List<Calibrator.Sequence> set = Calibrator.generate(tf, prompts,
                    new Calibrator.SetOptions(2, 48, 1.0f, 0.95f, 99));
            List<Calibrator.Sequence> calib = new ArrayList<>();
            List<Calibrator.Sequence> held = new ArrayList<>();
            for (int i = 0; i < set.size(); i++) {
                (i % 2 == 0 ? calib : held).add(set.get(i));
            }
            Calibrator.Collected c = Calibrator.collect(tf, heads, ConfidenceMetric.builtIns(), calib);
            Calibrator.Collected h = Calibrator.collect(tf, heads, ConfidenceMetric.builtIns(), held);
            Calibration cal = Calibrator.calibrate(c, heads, ModelFingerprint.of(m.config(), m.weights()),
                    "stories15M", Map.of());
            assertThat(cal.tokens()).isEqualTo(c.positions()).isGreaterThan(100);
            // Deeper copied heads agree more with the model.
            assertThat(cal.curve("max-prob", 4).accuracy()).isGreaterThan(cal.curve("max-prob", 1).accuracy());
            int judged = 0;
            for (String metric : cal.metrics()) {
                Calibrator.CheckReport r = Calibrator.check(cal, metric, h, Calibrator.CHECK_EPSILONS, 6);
                for (Calibrator.HeadCheck hc : r.heads()) {
                    if (hc.ok() != null) {
                        judged++;
                        assertThat(hc.ok()).as("%s layer %d eps %s: %d exits agree %s", metric, hc.layer(),
                                hc.epsilon(), hc.exits(), hc.agreement()).isTrue();
                    }
                }
                // Fewer tokens exit as epsilon rises.
                for (int i = 1; i < r.cascade().size(); i++) {
                    assertThat(r.cascade().get(i).meanLayers()).isGreaterThanOrEqualTo(r.cascade().get(i - 1).meanLayers());
                }
            }
            assertThat(judged).isPositive();
        }
    }
}
