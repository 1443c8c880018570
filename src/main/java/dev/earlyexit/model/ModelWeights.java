package dev.earlyexit.model;

import dev.earlyexit.tensor.Matrix;

/**
 * All weights of a model. The classifier may be the same object as the token embedding (tied).
 * positionEmbedding is [maxSeqLen, dim] for learned positions, else null.
 */
public record ModelWeights(
        Matrix tokenEmbedding,
        float[] positionEmbedding,
        LayerWeights[] layers,
        float[] finalNorm, float[] finalNormBias,
        Matrix classifier, float[] classifierBias) {

    public long bytes() {
        long b = tokenEmbedding.bytes();
        if (classifier != tokenEmbedding) {
            b += classifier.bytes();
        }
        for (LayerWeights l : layers) {
            b += l.wqkv().bytes() + l.wo().bytes() + l.wUp().bytes() + l.wDown().bytes();
        }
        return b;
    }
}
