package dev.earlyexit.exits;

import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.ModelWeights;
import dev.earlyexit.tensor.Matrix;

import java.util.SplittableRandom;

/** Builds new heads of each kind for a model, initialised at random or as a copy of its final norm and classifier. */
public final class HeadFactory {
    private HeadFactory() {
    }

    /**
     * A new head after {@code layer} blocks. {@code subset} is required for SUBSET and ignored otherwise;
     * {@code rank} is used by ADAPTER. Random weights are N(0, 1/dim) (unit-variance logits for a
     * normalised input), drawn from {@code random}.
     */
    public static TrainableHead create(HeadKind kind, HeadInit init, int layer, ModelConfig c, ModelWeights w,
                                       VocabularySubset subset, int rank, SplittableRandom random) {
        boolean copy = init == HeadInit.COPY;
        HeadNorm norm = HeadNorm.of(c, w.finalNorm(), w.finalNormBias(), copy);
        int d = c.dim();
        float std = (float) (1.0 / Math.sqrt(d));
        switch (kind) {
            case FULL, SUBSET -> {
                if (kind == HeadKind.SUBSET && subset == null) {
                    throw new IllegalArgumentException("a subset head needs a vocabulary subset");
                }
                VocabularySubset s = kind == HeadKind.SUBSET ? subset : null;
                int out = s == null ? c.vocabSize() : s.size();
                float[] weight = new float[out * d];
                float[] bias = w.classifierBias() == null ? null : new float[out];
                if (copy) {
                    Matrix cls = w.classifier();
                    for (int i = 0; i < out; i++) {
                        int id = s == null ? i : s.tokenId(i);
                        cls.row(id, weight, i * d);
                        if (bias != null) {
                            bias[i] = w.classifierBias()[id];
                        }
                    }
                } else {
                    gaussian(weight, std, random);
                }
                return new LinearHead(layer, norm, weight, bias, s, out);
            }
            case ADAPTER -> {
                float[] a = new float[rank * d];
                gaussian(a, std, random);
                float[] b = new float[d * rank];
                return new AdapterHead(layer, norm, rank, a, b, w.classifier(), w.classifierBias());
            }
        }
        throw new IllegalStateException(kind.toString());
    }

    static void gaussian(float[] x, float std, SplittableRandom random) {
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (random.nextGaussian() * std);
        }
    }
}
