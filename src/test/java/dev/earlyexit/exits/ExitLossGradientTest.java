package dev.earlyexit.exits;

import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.Transformer;
import dev.earlyexit.tensor.ThreadPool;
import dev.earlyexit.tensor.TrainKernels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** The loss's analytic gradient against central finite differences, for every head kind and norm kind. */
class ExitLossGradientTest {

    @Test
    void logitGradientMatchesFiniteDifferences() {
        SplittableRandom r = new SplittableRandom(3);
        int n = 11;
        float[] q = TinyModel.vec(r, n, 1);
        dev.earlyexit.tensor.Kernels.softmax(q, 0, n);
        float[] z = TinyModel.vec(r, n, 2);
        float lambda = 0.4f;
        ExitLoss loss = new ExitLoss(n);
        float[] g = z.clone();
        loss.row(g, 0, n, q, 0, lambda, 1f);
        for (int i = 0; i < n; i++) {
            double h = 1e-3;
            float[] zp = z.clone();
            zp[i] += (float) h;
            float[] zm = z.clone();
            zm[i] -= (float) h;
            loss.row(zp, 0, n, q, 0, lambda, 0f);
            double lp = loss.loss;
            loss.row(zm, 0, n, q, 0, lambda, 0f);
            double lm = loss.loss;
            assertThat((double) g[i]).as("dL/dz[%d]", i).isCloseTo((lp - lm) / (2 * h), within(2e-3));
        }
    }

    @ParameterizedTest
    @EnumSource(HeadKind.class)
    void wholeLossGradientMatchesFiniteDifferencesRms(HeadKind kind) {
        check(kind, ModelConfig.NormKind.RMS);
    }

    @ParameterizedTest
    @EnumSource(HeadKind.class)
    void wholeLossGradientMatchesFiniteDifferencesLayerNorm(HeadKind kind) {
        check(kind, ModelConfig.NormKind.LAYER);
    }

    private static void check(HeadKind kind, ModelConfig.NormKind norm) {
        TinyModel tiny = new TinyModel(norm, 11);
        try (ThreadPool pool = new ThreadPool(2)) {
            Transformer t = tiny.transformer(pool);
            HeadDataset data = tiny.data(t, 2, 6, 5);
            VocabularySubset subset = VocabularySubset.fromCounts(data.argmaxCounts(), 1.0, 10);
            SplittableRandom r = new SplittableRandom(7);
            List<TrainableHead> heads = List.of(
                    HeadFactory.create(kind, HeadInit.RANDOM, 1, tiny.config, tiny.weights, subset, 3, r),
                    HeadFactory.create(kind, HeadInit.COPY, 2, tiny.config, tiny.weights, subset, 3, r));
            for (TrainableHead h : heads) {
                for (Param p : h.params()) {
                    // move every weight off its initial value (an adapter's B starts at zero)
                    float[] d = p.data();
                    for (int i = 0; i < d.length; i++) {
                        d[i] += (float) (r.nextGaussian() * 0.3);
                    }
                }
            }
            TrainingOptions opt = new TrainingOptions(0.3f, 1, 8, 1e-3f, 0f, 0, 0.1f, 1);
            HeadTrainer trainer = new HeadTrainer(t, heads, opt, new TrainKernels(pool));
            int[] pos = {0, 3, 5, 7, 8, 11};
            heads.forEach(TrainableHead::zeroGrad);
            trainer.lossAndGradient(data, pos, true);
            int checked = 0;
            for (TrainableHead h : heads) {
                for (Param p : h.params()) {
                    if (!p.trainable()) {
                        continue;
                    }
                    float[] grad = p.grad().clone();
                    float[] w = p.data();
                    for (int k = 0; k < 4; k++) {
                        int i = r.nextInt(w.length);
                        float orig = w[i];
                        float eps = 2e-3f;
                        w[i] = orig + eps;
                        double lp = trainer.lossAndGradient(data, pos, false);
                        w[i] = orig - eps;
                        double lm = trainer.lossAndGradient(data, pos, false);
                        w[i] = orig;
                        double fd = (lp - lm) / (2.0 * eps);
                        assertThat((double) grad[i]).as("%s head %d %s[%d]", kind, h.layer(), p.name(), i)
                                .isCloseTo(fd, within(3e-3 + 2e-2 * Math.abs(fd)));
                        checked++;
                    }
                }
            }
            assertThat(checked).isGreaterThanOrEqualTo(8);
        }
    }
}
