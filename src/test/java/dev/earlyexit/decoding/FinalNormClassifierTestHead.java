package dev.earlyexit.decoding;

import dev.earlyexit.exits.ExitHead;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.ModelWeights;
import dev.earlyexit.tensor.Kernels;
import dev.earlyexit.tensor.ThreadPool;

/**
 * A real but untrained exit head for tests: the model's own final norm and classifier applied to an
 * intermediate hidden state ("logit lens"). Full vocabulary; reads the whole classifier per call.
 */
final class FinalNormClassifierTestHead implements ExitHead {
    private final ModelConfig c;
    private final ModelWeights w;
    private final int layer;
    private final float[] normed;

    FinalNormClassifierTestHead(ModelConfig c, ModelWeights w, int layer) {
        this.c = c;
        this.w = w;
        this.layer = layer;
        this.normed = new float[c.dim()];
    }

    @Override
    public int layer() {
        return layer;
    }

    @Override
    public int outputSize() {
        return c.vocabSize();
    }

    @Override
    public int tokenId(int index) {
        return index;
    }

    @Override
    public int indexOf(int tokenId) {
        return tokenId >= 0 && tokenId < c.vocabSize() ? tokenId : -1;
    }

    @Override
    public void logits(float[] hidden, int offset, float[] out, ThreadPool pool) {
        if (c.norm() == ModelConfig.NormKind.RMS) {
            Kernels.rmsNorm(normed, 0, hidden, offset, w.finalNorm(), c.dim(), c.normEps());
        } else {
            Kernels.layerNorm(normed, 0, hidden, offset, w.finalNorm(), w.finalNormBias(), c.dim(), c.normEps());
        }
        w.classifier().matmul(normed, 1, out, pool);
        if (w.classifierBias() != null) {
            Kernels.add(w.classifierBias(), 0, out, 0, c.vocabSize());
        }
    }

    @Override
    public long bytesPerCall() {
        return w.classifier().bytes();
    }
}
