package dev.earlyexit.exits;

import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.ModelWeights;
import dev.earlyexit.tensor.Kernels;
import dev.earlyexit.tensor.Matrix;
import dev.earlyexit.tensor.ThreadPool;

import java.util.ArrayList;
import java.util.List;

/**
 * The model's own final norm and classifier applied to an intermediate hidden state: the paper's
 * "copy" initialisation of a head, used untrained. It needs no file and no training, so early exit works
 * end to end on any model; it is also the most expensive head there is (it reads the whole classifier,
 * 32000 x 288 floats, about 37 MB per call on stories15M, against about 4 MB for one of its layers).
 *
 * <p>Shares the model's weights (nothing is copied); keeps its own scratch, so a call allocates nothing.
 */
public final class CopiedFinalHead implements ExitHead {
    private final int layer;
    private final ModelConfig c;
    private final float[] norm;
    private final float[] normBias;
    private final Matrix classifier;
    private final float[] bias;
    private float[] normed;

    public CopiedFinalHead(int layer, ModelConfig config, ModelWeights weights) {
        if (layer < 1 || layer > config.layers()) {
            throw new IllegalArgumentException("head layer " + layer + " is outside [1, " + config.layers() + "]");
        }
        this.layer = layer;
        this.c = config;
        this.norm = weights.finalNorm();
        this.normBias = weights.finalNormBias();
        this.classifier = weights.classifier();
        this.bias = weights.classifierBias();
        this.normed = new float[config.dim()];
    }

    /** Copied heads after each of the given layers (1-based block counts). */
    public static List<ExitHead> at(int[] layers, ModelConfig config, ModelWeights weights) {
        List<ExitHead> heads = new ArrayList<>();
        for (int l : layers) {
            heads.add(new CopiedFinalHead(l, config, weights));
        }
        return heads;
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
        normRow(normed, 0, hidden, offset);
        classifier.matmul(normed, 1, out, pool);
        if (bias != null) {
            Kernels.add(bias, 0, out, 0, c.vocabSize());
        }
    }

    @Override
    public void logitsBlock(float[] hidden, int offset, int stride, int T, float[] out, ThreadPool pool) {
        int dim = c.dim();
        if (normed.length < T * dim) {
            normed = new float[T * dim];
        }
        for (int t = 0; t < T; t++) {
            normRow(normed, t * dim, hidden, offset + t * stride);
        }
        classifier.matmul(normed, T, out, pool);
        if (bias != null) {
            for (int t = 0; t < T; t++) {
                Kernels.add(bias, 0, out, t * c.vocabSize(), c.vocabSize());
            }
        }
    }

    private void normRow(float[] dst, int dstOff, float[] x, int xOff) {
        if (c.norm() == ModelConfig.NormKind.RMS) {
            Kernels.rmsNorm(dst, dstOff, x, xOff, norm, c.dim(), c.normEps());
        } else {
            Kernels.layerNorm(dst, dstOff, x, xOff, norm, normBias, c.dim(), c.normEps());
        }
    }

    @Override
    public long bytesPerCall() {
        return classifier.bytes();
    }
}
