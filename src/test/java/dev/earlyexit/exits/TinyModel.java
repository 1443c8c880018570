package dev.earlyexit.exits;

import dev.earlyexit.model.LayerWeights;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.ModelWeights;
import dev.earlyexit.model.RopeScaling;
import dev.earlyexit.model.Transformer;
import dev.earlyexit.tensor.F32Matrix;
import dev.earlyexit.tensor.ThreadPool;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/** A small random Llama-style (or LayerNorm) model for fast tests that need no checkpoint. */
final class TinyModel {
    static final int DIM = 8;
    static final int LAYERS = 3;
    static final int VOCAB = 24;

    final ModelConfig config;
    final ModelWeights weights;

    TinyModel(ModelConfig.NormKind norm, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int hidden = 16;
        config = new ModelConfig("tiny", DIM, hidden, LAYERS, 2, 2, 4, VOCAB, 32, norm, 1e-5f, 10000f, 4,
                ModelConfig.RopeStyle.HALF, ModelConfig.MlpKind.SWIGLU, ModelConfig.ResidualKind.SEQUENTIAL, false, 1, 2,
                RopeScaling.NONE, false);
        boolean ln = norm == ModelConfig.NormKind.LAYER;
        LayerWeights[] layers = new LayerWeights[LAYERS];
        for (int l = 0; l < LAYERS; l++) {
            layers[l] = new LayerWeights(gain(r), ln ? vec(r, DIM, 0.1) : null,
                    mat(r, config.qkvDim(), DIM), null, mat(r, DIM, DIM), null,
                    gain(r), ln ? vec(r, DIM, 0.1) : null, mat(r, 2 * hidden, DIM), null, mat(r, DIM, hidden), null, null, null);
        }
        F32Matrix emb = mat(r, VOCAB, DIM);
        weights = new ModelWeights(emb, null, layers, gain(r), ln ? vec(r, DIM, 0.1) : null,
                mat(r, VOCAB, DIM), ln ? vec(r, VOCAB, 0.1) : null);
    }

    Transformer transformer(ThreadPool pool) {
        return new Transformer(config, weights, pool);
    }

    /** Random token sequences captured at layers 1 and 2. */
    HeadDataset data(Transformer t, int sequences, int length, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        List<int[]> seqs = new ArrayList<>();
        for (int s = 0; s < sequences; s++) {
            int[] ids = new int[length];
            for (int i = 0; i < length; i++) {
                ids[i] = r.nextInt(VOCAB);
            }
            seqs.add(ids);
        }
        HeadDataset.Summary summary = new HeadDataset.Summary(sequences, 0, 0, 0, sequences * length, 0, 0, 0f, seed);
        return HeadDataset.capture(t, new int[] {1, 2}, seqs, summary);
    }

    private static float[] gain(SplittableRandom r) {
        float[] g = vec(r, DIM, 0.2);
        for (int i = 0; i < g.length; i++) {
            g[i] += 1f;
        }
        return g;
    }

    static float[] vec(SplittableRandom r, int n, double std) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (r.nextGaussian() * std);
        }
        return v;
    }

    private static F32Matrix mat(SplittableRandom r, int rows, int cols) {
        return new F32Matrix(vec(r, rows * cols, 1.0 / Math.sqrt(cols)), rows, cols);
    }
}
