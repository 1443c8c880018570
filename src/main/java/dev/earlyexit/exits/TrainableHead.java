package dev.earlyexit.exits;

import dev.earlyexit.tensor.ThreadPool;
import dev.earlyexit.tensor.TrainKernels;

import java.util.List;

/**
 * An exit head that can also run on a batch and be trained. Every kind starts with a norm of the model's
 * kind ({@link HeadNorm}); the batched forward uses the same kernels as the single-row
 * {@link #logits}, so a head behaves the same in training and in decoding.
 *
 * <p>Batch scratch grows to the largest batch seen; {@link #backwardBatch} reuses what the last
 * {@link #forwardBatch} left in it, so the two must alternate on the same hidden rows.
 */
public abstract class TrainableHead implements ExitHead {
    protected final int layer;
    protected final int dim;
    protected final HeadNorm norm;
    private float[] rowScratch;             // normed rows of a decode-time call, grown to the largest block
    protected int capacity;
    /** Normed input (with gain and bias) of the last batch, [B, dim]. */
    protected float[] u = new float[0];

    protected TrainableHead(int layer, HeadNorm norm) {
        if (layer < 1) {
            throw new IllegalArgumentException("a head's layer is a 1-based count of blocks, got " + layer);
        }
        this.layer = layer;
        this.norm = norm;
        this.dim = norm.dim();
        this.rowScratch = new float[dim];
    }

    public abstract HeadKind kind();

    /** All weights of the head in a fixed order (what is saved; trainable ones are what training updates). */
    public abstract List<Param> params();

    /** z[B, outputSize] = the head's logits for hidden[B, dim]. */
    public abstract void forwardBatch(float[] hidden, int B, float[] z, TrainKernels k);

    /** Adds the gradient of the loss to every trainable parameter, given dz = dLoss/dz of the last forward. */
    public abstract void backwardBatch(float[] hidden, int B, float[] dz, TrainKernels k);

    /**
     * out[T, outputSize] = logits of T normed rows, through the batched path's kernels (training's
     * forwardBatch); each row's result is the same whatever T is where the matrices' kernels are (float32
     * always; see {@code Matrix.tiledFromTokens} for the others).
     */
    protected abstract void logitsFromNormed(float[] normed, int T, float[] out, ThreadPool pool);

    @Override
    public int layer() {
        return layer;
    }

    public int dim() {
        return dim;
    }

    @Override
    public void logits(float[] hidden, int offset, float[] out, ThreadPool pool) {
        norm.apply(hidden, offset, rowScratch, 0);
        logitsFromNormed(rowScratch, 1, out, pool);
    }

    /** The block at once: the weights are read once for all T rows (the server's slots at one head). */
    @Override
    public void logitsBlock(float[] hidden, int offset, int stride, int T, float[] out, ThreadPool pool) {
        if (rowScratch.length < T * dim) {
            rowScratch = new float[T * dim];
        }
        for (int t = 0; t < T; t++) {
            norm.apply(hidden, offset + t * stride, rowScratch, t * dim);
        }
        logitsFromNormed(rowScratch, T, out, pool);
    }

    /** Grows batch scratch to B rows; subclasses grow their own in {@link #grow}. */
    protected final void ensureBatch(int B) {
        if (B <= capacity) {
            return;
        }
        capacity = B;
        u = new float[B * dim];
        grow(B);
    }

    protected abstract void grow(int B);

    /** u[b] = norm(hidden[b]) for B rows. */
    protected final void normBatch(float[] hidden, int B) {
        for (int b = 0; b < B; b++) {
            norm.apply(hidden, b * dim, u, b * dim);
        }
    }

    public void zeroGrad() {
        for (Param p : params()) {
            p.zeroGrad();
        }
    }

    /** Number of trainable weights. */
    public long trainableParameters() {
        long n = 0;
        for (Param p : params()) {
            if (p.trainable()) {
                n += p.data().length;
            }
        }
        return n;
    }
}
