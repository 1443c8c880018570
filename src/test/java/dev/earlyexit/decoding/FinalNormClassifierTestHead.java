package dev.earlyexit.decoding;

import dev.earlyexit.exits.ExitHead;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.ModelWeights;
import dev.earlyexit.tensor.Kernels;
import dev.earlyexit.tensor.ThreadPool;

/**
 * A real but untrained exit head for tests: the model's own final norm and classifier applied to an
 * intermediate hidden state ("logit lens"). Full vocabulary (reads the whole classifier per call), or
 * a subset of token ids in a given order (output index i is token ids[i]), as reduced-vocabulary heads
 * are.
 */
final class FinalNormClassifierTestHead implements ExitHead {
    private final ModelConfig c;
    private final ModelWeights w;
    private final int layer;
    private final float[] normed;
    private final int[] ids;       // null: full vocabulary
    private final int[] indexOf;
    private final float[] full;

    FinalNormClassifierTestHead(ModelConfig c, ModelWeights w, int layer) {
        this(c, w, layer, null);
    }

    FinalNormClassifierTestHead(ModelConfig c, ModelWeights w, int layer, int[] subset) {
        this.c = c;
        this.w = w;
        this.layer = layer;
        this.normed = new float[c.dim()];
        this.ids = subset == null ? null : subset.clone();
        this.indexOf = new int[c.vocabSize()];
        java.util.Arrays.fill(indexOf, -1);
        for (int i = 0; i < c.vocabSize(); i++) {
            if (ids == null) {
                indexOf[i] = i;
            }
        }
        if (ids != null) {
            for (int i = 0; i < ids.length; i++) {
                indexOf[ids[i]] = i;
            }
        }
        this.full = new float[c.vocabSize()];
    }

    @Override
    public int layer() {
        return layer;
    }

    @Override
    public int outputSize() {
        return ids == null ? c.vocabSize() : ids.length;
    }

    @Override
    public int tokenId(int index) {
        return ids == null ? index : ids[index];
    }

    @Override
    public int indexOf(int tokenId) {
        return tokenId >= 0 && tokenId < c.vocabSize() ? indexOf[tokenId] : -1;
    }

    @Override
    public void logits(float[] hidden, int offset, float[] out, ThreadPool pool) {
        if (c.norm() == ModelConfig.NormKind.RMS) {
            Kernels.rmsNorm(normed, 0, hidden, offset, w.finalNorm(), c.dim(), c.normEps());
        } else {
            Kernels.layerNorm(normed, 0, hidden, offset, w.finalNorm(), w.finalNormBias(), c.dim(), c.normEps());
        }
        float[] dst = ids == null ? out : full;
        w.classifier().matmul(normed, 1, dst, pool);
        if (w.classifierBias() != null) {
            Kernels.add(w.classifierBias(), 0, dst, 0, c.vocabSize());
        }
        if (ids != null) {
            for (int i = 0; i < ids.length; i++) {
                out[i] = full[ids[i]];
            }
        }
    }

    @Override
    public long bytesPerCall() {
        return w.classifier().bytes();
    }
}
