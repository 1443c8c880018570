package dev.earlyexit.exits;

import dev.earlyexit.tensor.F32Matrix;
import dev.earlyexit.tensor.Kernels;
import dev.earlyexit.tensor.Matrix;
import dev.earlyexit.tensor.ThreadPool;
import dev.earlyexit.tensor.TrainKernels;

import java.util.ArrayList;
import java.util.List;

/**
 * The {@link HeadKind#ADAPTER} head: z = C·(u + B·A·u) (+ the classifier's bias), u = norm(h), where C
 * is the model's own frozen classifier (shared, not stored), A [r, dim] and B [dim, r] a trainable
 * low-rank residual adapter, and the norm's gain (and bias) trainable too. B starts at zero, so a new
 * adapter with a copied norm is exactly the model's final norm and classifier.
 *
 * <p>Cheap to train and store (2·r·dim + dim weights), but each call still reads the whole classifier.
 */
public final class AdapterHead extends TrainableHead {
    private final int rank;
    private final float[] a;
    private final float[] bm;
    private final F32Matrix aMatrix;
    private final F32Matrix bMatrix;
    private final Matrix classifier;
    private final float[] classifierBias;
    private final int vocab;
    private final List<Param> params;
    private float[] classifierF32; // for the backward pass, filled on first use
    private int classifierOffset;   // where its first element is
    private float[] ar = new float[0];   // A·u [B, r]
    private float[] y = new float[0];    // u + B·A·u [B, dim]
    private float[] n = new float[0];    // normalised input before gain [B, dim]
    private float[] dy = new float[0];   // [B, dim]
    private float[] da = new float[0];   // [B, r]
    private float[] du = new float[0];   // [B, dim]
    private float[] rowA;   // decode-time scratch [T, rank] and [T, dim], grown to the largest block
    private float[] rowY;

    public AdapterHead(int layer, HeadNorm norm, int rank, float[] a, float[] b, Matrix classifier, float[] classifierBias) {
        super(layer, norm);
        if (rank < 1) {
            throw new IllegalArgumentException("adapter rank must be >= 1, got " + rank);
        }
        if (classifier.cols() != dim) {
            throw new IllegalArgumentException("classifier has " + classifier.cols() + " columns, head dim is " + dim);
        }
        this.rank = rank;
        this.a = a;
        this.bm = b;
        this.aMatrix = new F32Matrix(a, rank, dim);
        this.bMatrix = new F32Matrix(b, dim, rank);
        this.classifier = classifier;
        this.classifierBias = classifierBias;
        this.vocab = classifier.rows();
        this.rowA = new float[rank];
        this.rowY = new float[dim];
        List<Param> ps = new ArrayList<>();
        ps.add(new Param("norm.weight", norm.gain, new long[] {dim}, true, false));
        if (norm.bias != null) {
            ps.add(new Param("norm.bias", norm.bias, new long[] {dim}, true, false));
        }
        ps.add(new Param("adapter.A", a, new long[] {rank, dim}, true, true));
        ps.add(new Param("adapter.B", b, new long[] {dim, rank}, true, true));
        this.params = List.copyOf(ps);
    }

    @Override
    public HeadKind kind() {
        return HeadKind.ADAPTER;
    }

    public int rank() {
        return rank;
    }

    @Override
    public List<Param> params() {
        return params;
    }

    @Override
    public int outputSize() {
        return vocab;
    }

    @Override
    public int tokenId(int index) {
        return index;
    }

    @Override
    public int indexOf(int tokenId) {
        return tokenId >= 0 && tokenId < vocab ? tokenId : -1;
    }

    @Override
    public long bytesPerCall() {
        return classifier.bytes() + 4L * (a.length + bm.length) + norm.bytes()
                + (classifierBias != null ? 4L * vocab : 0);
    }

    @Override
    protected void grow(int B) {
        ar = new float[B * rank];
        y = new float[B * dim];
        n = new float[B * dim];
        dy = new float[B * dim];
        da = new float[B * rank];
        du = new float[B * dim];
    }

    @Override
    protected void logitsFromNormed(float[] normed, int T, float[] z, ThreadPool pool) {
        if (rowY.length < T * dim) {
            rowA = new float[T * rank];
            rowY = new float[T * dim];
        }
        aMatrix.matmul(normed, T, rowA, pool);
        bMatrix.matmul(rowA, T, rowY, pool);
        Kernels.add(normed, 0, rowY, 0, T * dim);
        classifier.matmul(rowY, T, z, pool);
        if (classifierBias != null) {
            for (int t = 0; t < T; t++) {
                Kernels.add(classifierBias, 0, z, t * vocab, vocab);
            }
        }
    }

    @Override
    public void forwardBatch(float[] hidden, int B, float[] z, TrainKernels k) {
        ensureBatch(B);
        normBatch(hidden, B);
        ThreadPool pool = k.pool();
        aMatrix.matmul(u, B, ar, pool);
        bMatrix.matmul(ar, B, y, pool);
        Kernels.add(u, 0, y, 0, B * dim);
        classifier.matmul(y, B, z, pool);
        if (classifierBias != null) {
            for (int b = 0; b < B; b++) {
                Kernels.add(classifierBias, 0, z, b * vocab, vocab);
            }
        }
    }

    @Override
    public void backwardBatch(float[] hidden, int B, float[] dz, TrainKernels k) {
        int i = 0;
        float[] gGain = params.get(i++).grad();
        float[] gBias = norm.bias != null ? params.get(i++).grad() : null;
        float[] gA = params.get(i++).grad();
        float[] gB = params.get(i).grad();
        k.inputGradient(dz, B, classifierF32(), classifierOffset, vocab, dim, dy); // dy = dz·C
        k.accumulateWeightGradient(dy, B, dim, ar, rank, gB);           // dB += dyᵀ·(A·u)
        k.inputGradient(dy, B, bm, dim, rank, da);                      // d(A·u) = dy·B
        k.accumulateWeightGradient(da, B, rank, u, dim, gA);            // dA += d(A·u)ᵀ·u
        k.inputGradient(da, B, a, rank, dim, du);                       // du = dy + d(A·u)·A
        Kernels.add(dy, 0, du, 0, B * dim);
        for (int b = 0; b < B; b++) {
            norm.normalize(hidden, b * dim, n, b * dim);
        }
        norm.accumulateGradient(du, n, B, gGain, gBias);
    }

    private float[] classifierF32() {
        if (classifierF32 == null) {
            if (classifier instanceof F32Matrix f) {
                classifierF32 = f.storage();
                classifierOffset = f.offset();
            } else {
                float[] c = new float[vocab * dim];
                for (int r = 0; r < vocab; r++) {
                    classifier.row(r, c, r * dim);
                }
                classifierF32 = c;
            }
        }
        return classifierF32;
    }
}
