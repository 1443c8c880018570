package dev.earlyexit.exits;

import dev.earlyexit.tensor.F32Matrix;
import dev.earlyexit.tensor.Kernels;
import dev.earlyexit.tensor.ThreadPool;
import dev.earlyexit.tensor.TrainKernels;

import java.util.ArrayList;
import java.util.List;

/**
 * The {@link HeadKind#FULL} head (norm, then a linear map to the whole vocabulary) and, with a
 * {@link VocabularySubset}, the {@link HeadKind#SUBSET} head (the same over the subset's tokens).
 *
 * <p>The norm's gain is kept as initialised and not trained: it multiplies the input of a trainable
 * full matrix, W·(g⊙n) = (W·diag g)·n, so training it adds nothing the matrix cannot learn, and leaving
 * it out saves the input-gradient pass (a third of the backward cost). The output bias exists only when
 * the model's classifier has one.
 */
public final class LinearHead extends TrainableHead {
    private final float[] w;
    private final F32Matrix matrix;
    private final float[] outBias;
    private final VocabularySubset subset;
    private final int out;
    private final List<Param> params;
    private final Param weightParam;
    private final Param biasParam;

    public LinearHead(int layer, HeadNorm norm, float[] w, float[] outBias, VocabularySubset subset, int outputSize) {
        super(layer, norm);
        this.out = outputSize;
        this.w = w;
        this.matrix = new F32Matrix(w, outputSize, norm.dim());
        this.outBias = outBias;
        this.subset = subset;
        if (subset != null && subset.size() != outputSize) {
            throw new IllegalArgumentException("subset of " + subset.size() + " tokens for a head of " + outputSize + " outputs");
        }
        if (outBias != null && outBias.length != outputSize) {
            throw new IllegalArgumentException("output bias has " + outBias.length + " values, expected " + outputSize);
        }
        List<Param> ps = new ArrayList<>();
        ps.add(new Param("norm.weight", norm.gain, new long[] {dim}, false, false));
        if (norm.bias != null) {
            ps.add(new Param("norm.bias", norm.bias, new long[] {dim}, false, false));
        }
        weightParam = new Param("weight", w, new long[] {outputSize, dim}, true, true);
        ps.add(weightParam);
        biasParam = outBias == null ? null : new Param("bias", outBias, new long[] {outputSize}, true, false);
        if (biasParam != null) {
            ps.add(biasParam);
        }
        this.params = List.copyOf(ps);
    }

    @Override
    public HeadKind kind() {
        return subset == null ? HeadKind.FULL : HeadKind.SUBSET;
    }

    /** The reduced vocabulary, or null for a full-vocabulary head. */
    public VocabularySubset subset() {
        return subset;
    }

    @Override
    public List<Param> params() {
        return params;
    }

    @Override
    public int outputSize() {
        return out;
    }

    @Override
    public int tokenId(int index) {
        return subset == null ? index : subset.tokenId(index);
    }

    @Override
    public int indexOf(int tokenId) {
        if (subset != null) {
            return subset.indexOf(tokenId);
        }
        return tokenId >= 0 && tokenId < out ? tokenId : -1;
    }

    @Override
    public long bytesPerCall() {
        return 4L * w.length + norm.bytes() + (outBias != null ? 4L * out : 0);
    }

    @Override
    protected void grow(int B) {
    }

    @Override
    protected void logitsFromNormed(float[] normed, int T, float[] z, ThreadPool pool) {
        matrix.matmul(normed, T, z, pool);
        if (outBias != null) {
            for (int t = 0; t < T; t++) {
                Kernels.add(outBias, 0, z, t * out, out);
            }
        }
    }

    @Override
    public void forwardBatch(float[] hidden, int B, float[] z, TrainKernels k) {
        ensureBatch(B);
        normBatch(hidden, B);
        matrix.matmul(u, B, z, k.pool());
        if (outBias != null) {
            for (int b = 0; b < B; b++) {
                Kernels.add(outBias, 0, z, b * out, out);
            }
        }
    }

    @Override
    public void backwardBatch(float[] hidden, int B, float[] dz, TrainKernels k) {
        k.accumulateWeightGradient(dz, B, out, u, dim, weightParam.grad());
        if (biasParam != null) {
            float[] gb = biasParam.grad();
            for (int b = 0; b < B; b++) {
                Kernels.add(dz, b * out, gb, 0, out);
            }
        }
    }
}
