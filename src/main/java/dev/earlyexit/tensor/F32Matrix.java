package dev.earlyexit.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Float32 weights. Eight (then four) rows at a time share each load of x; decode is bound by reading W.
 * Element (r, c) is {@code storage()[offset() + r * cols + c]}: weights loaded from a checkpoint sit
 * behind a few floats of padding so that they start on a cache line ({@link CacheLines}).
 */
public final class F32Matrix extends Matrix {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    /** 512-bit vectors come with 32 vector registers, enough for {@link #dot4x4}'s 21 live vectors. */
    private static final boolean FOUR_TOKENS = L >= 16;
    private final float[] w;
    private final int base;

    /** Wraps w[0, rows*cols) as the matrix (shared, not copied: trainable heads update it in place). */
    public F32Matrix(float[] w, int rows, int cols) {
        this(w, 0, rows, cols);
        if (w.length != (long) rows * cols) {
            throw new IllegalArgumentException("matrix data has " + w.length + " values, expected " + rows + "x" + cols);
        }
    }

    /** Wraps w[offset, offset + rows*cols) as the matrix. */
    public F32Matrix(float[] w, int offset, int rows, int cols) {
        super(rows, cols);
        if (offset < 0 || w.length - offset < (long) rows * cols) {
            throw new IllegalArgumentException("matrix data has " + w.length + " values, too few for " + rows + "x" + cols
                    + " from offset " + offset);
        }
        this.w = w;
        this.base = offset;
    }

    /** An all-zero matrix whose first element starts a cache line where the JVM allows it. */
    public static F32Matrix allocateAligned(int rows, int cols) {
        int pad = CacheLines.padElements(Float.BYTES);
        return new F32Matrix(new float[Math.addExact(pad, Math.multiplyExact(rows, cols))], pad, rows, cols);
    }

    /** The array holding the elements, from {@link #offset()} on. */
    public float[] storage() {
        return w;
    }

    public int offset() {
        return base;
    }

    /** The elements as one row-major array of rows*cols: the storage itself when it has no padding. */
    public float[] toArray() {
        int n = rows * cols;
        return base == 0 && w.length == n ? w : java.util.Arrays.copyOfRange(w, base, base + n);
    }

    @Override
    public DType dtype() {
        return DType.F32;
    }

    @Override
    public long bytes() {
        return 4L * w.length;
    }

    @Override
    public void row(int r, float[] dst, int off) {
        System.arraycopy(w, base + r * cols, dst, off, cols);
    }

    @Override
    protected void multiplyRows(int rowStart, int rowEnd, float[] x, int T, float[] out, int outStride, int outOff) {
        int r = rowStart;
        float[] lanes = Lanes.floats();
        // Eight rows per pass keep eight independent FMA chains and loads in flight: measured +35% at 1
        // thread and +16% at 2 over four rows (4 alternating A/B pairs of bench on the 2-core VM). The
        // 8-row method has no tail loop: with one, C2 stopped scalar-replacing its vectors (it allocated).
        for (; cols % F.length() == 0 && r + 8 <= rowEnd; r += 8) {
            int t = 0;
            // Several tokens per pass share each weight load (blocks of several tokens: prefill,
            // verification, the server's batched decode); every (row, token) keeps its own FMA chain in the
            // same order as dot8, so each result is bit-identical to a lone token's. Four tokens need 16
            // accumulators and 4 x vectors in registers: only with AVX-512's 32.
            for (; FOUR_TOKENS && t + 4 <= T; t += 4) {
                dot4x4(r, x, t * cols, out, t * outStride + outOff + r, outStride, lanes);
                dot4x4(r + 4, x, t * cols, out, t * outStride + outOff + r + 4, outStride, lanes);
            }
            for (; t + 2 <= T; t += 2) {
                dot8x2(r, x, t * cols, out, t * outStride + outOff + r, outStride, lanes);
            }
            for (; t < T; t++) {
                dot8(r, x, t * cols, out, t * outStride + outOff + r, lanes);
            }
        }
        for (; r + 4 <= rowEnd; r += 4) {
            for (int t = 0; t < T; t++) {
                dot4(r, x, t * cols, out, t * outStride + outOff + r, lanes);
            }
        }
        for (; r < rowEnd; r++) {
            for (int t = 0; t < T; t++) {
                out[t * outStride + outOff + r] = Kernels.dot(w, base + r * cols, x, t * cols, cols, lanes);
            }
        }
    }

    /** Eight rows; cols must be a multiple of the vector length (the caller's rows-per-pass rule). */
    private void dot8(int r, float[] x, int xOff, float[] out, int outIndex, float[] lanes) {
        int n = cols;
        int o = base + r * n;
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector a2 = FloatVector.zero(F);
        FloatVector a3 = FloatVector.zero(F);
        FloatVector a4 = FloatVector.zero(F);
        FloatVector a5 = FloatVector.zero(F);
        FloatVector a6 = FloatVector.zero(F);
        FloatVector a7 = FloatVector.zero(F);
        for (int i = 0; i < n; i += F.length()) {
            FloatVector xv = FloatVector.fromArray(F, x, xOff + i);
            a0 = FloatVector.fromArray(F, w, o + i).fma(xv, a0);
            a1 = FloatVector.fromArray(F, w, o + n + i).fma(xv, a1);
            a2 = FloatVector.fromArray(F, w, o + 2 * n + i).fma(xv, a2);
            a3 = FloatVector.fromArray(F, w, o + 3 * n + i).fma(xv, a3);
            a4 = FloatVector.fromArray(F, w, o + 4 * n + i).fma(xv, a4);
            a5 = FloatVector.fromArray(F, w, o + 5 * n + i).fma(xv, a5);
            a6 = FloatVector.fromArray(F, w, o + 6 * n + i).fma(xv, a6);
            a7 = FloatVector.fromArray(F, w, o + 7 * n + i).fma(xv, a7);
        }
        a0.intoArray(lanes, 0);
        a1.intoArray(lanes, L);
        a2.intoArray(lanes, 2 * L);
        a3.intoArray(lanes, 3 * L);
        a4.intoArray(lanes, 4 * L);
        a5.intoArray(lanes, 5 * L);
        a6.intoArray(lanes, 6 * L);
        a7.intoArray(lanes, 7 * L);
        Lanes.sums(lanes, 8, out, outIndex, 1);
    }

    /** dot8 for tokens at xOff and xOff + cols, written at outIndex and outIndex + outStride. */
    private void dot8x2(int r, float[] x, int xOff, float[] out, int outIndex, int outStride, float[] lanes) {
        int n = cols;
        int o = base + r * n;
        int yOff = xOff + n;
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector a2 = FloatVector.zero(F);
        FloatVector a3 = FloatVector.zero(F);
        FloatVector a4 = FloatVector.zero(F);
        FloatVector a5 = FloatVector.zero(F);
        FloatVector a6 = FloatVector.zero(F);
        FloatVector a7 = FloatVector.zero(F);
        FloatVector b0 = FloatVector.zero(F);
        FloatVector b1 = FloatVector.zero(F);
        FloatVector b2 = FloatVector.zero(F);
        FloatVector b3 = FloatVector.zero(F);
        FloatVector b4 = FloatVector.zero(F);
        FloatVector b5 = FloatVector.zero(F);
        FloatVector b6 = FloatVector.zero(F);
        FloatVector b7 = FloatVector.zero(F);
        for (int i = 0; i < n; i += F.length()) {
            FloatVector xv = FloatVector.fromArray(F, x, xOff + i);
            FloatVector yv = FloatVector.fromArray(F, x, yOff + i);
            FloatVector w0 = FloatVector.fromArray(F, w, o + i);
            a0 = w0.fma(xv, a0);
            b0 = w0.fma(yv, b0);
            FloatVector w1 = FloatVector.fromArray(F, w, o + n + i);
            a1 = w1.fma(xv, a1);
            b1 = w1.fma(yv, b1);
            FloatVector w2 = FloatVector.fromArray(F, w, o + 2 * n + i);
            a2 = w2.fma(xv, a2);
            b2 = w2.fma(yv, b2);
            FloatVector w3 = FloatVector.fromArray(F, w, o + 3 * n + i);
            a3 = w3.fma(xv, a3);
            b3 = w3.fma(yv, b3);
            FloatVector w4 = FloatVector.fromArray(F, w, o + 4 * n + i);
            a4 = w4.fma(xv, a4);
            b4 = w4.fma(yv, b4);
            FloatVector w5 = FloatVector.fromArray(F, w, o + 5 * n + i);
            a5 = w5.fma(xv, a5);
            b5 = w5.fma(yv, b5);
            FloatVector w6 = FloatVector.fromArray(F, w, o + 6 * n + i);
            a6 = w6.fma(xv, a6);
            b6 = w6.fma(yv, b6);
            FloatVector w7 = FloatVector.fromArray(F, w, o + 7 * n + i);
            a7 = w7.fma(xv, a7);
            b7 = w7.fma(yv, b7);
        }
        a0.intoArray(lanes, 0);
        a1.intoArray(lanes, L);
        a2.intoArray(lanes, 2 * L);
        a3.intoArray(lanes, 3 * L);
        a4.intoArray(lanes, 4 * L);
        a5.intoArray(lanes, 5 * L);
        a6.intoArray(lanes, 6 * L);
        a7.intoArray(lanes, 7 * L);
        Lanes.sums(lanes, 8, out, outIndex, 1);
        int p = outIndex + outStride;
        b0.intoArray(lanes, 0);
        b1.intoArray(lanes, L);
        b2.intoArray(lanes, 2 * L);
        b3.intoArray(lanes, 3 * L);
        b4.intoArray(lanes, 4 * L);
        b5.intoArray(lanes, 5 * L);
        b6.intoArray(lanes, 6 * L);
        b7.intoArray(lanes, 7 * L);
        Lanes.sums(lanes, 8, out, p, 1);
    }

    /**
     * Four rows for four tokens (x at xOff + k*cols, results at outIndex + k*outStride): each weight
     * vector loaded once for all four, 0.5 loads per FMA against dot8x2's 0.625. Measured
     * (BlockScalingSweep, 2 threads, AVX-512): a 768 x 288 matrix in cache at T = 4 / 8 took 1.81x / 3.4-3.6x
     * of T = 1 against 2.1x / 3.8-3.9x; the 32000 x 288 classifier, read from memory, gained ~3%.
     */
    private void dot4x4(int r, float[] x, int xOff, float[] out, int outIndex, int outStride, float[] lanes) {
        int n = cols;
        int o0 = base + r * n;
        int o1 = o0 + n;
        int o2 = o1 + n;
        int o3 = o2 + n;
        int x1 = xOff + n;
        int x2 = x1 + n;
        int x3 = x2 + n;
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector a2 = FloatVector.zero(F);
        FloatVector a3 = FloatVector.zero(F);
        FloatVector b0 = FloatVector.zero(F);
        FloatVector b1 = FloatVector.zero(F);
        FloatVector b2 = FloatVector.zero(F);
        FloatVector b3 = FloatVector.zero(F);
        FloatVector c0 = FloatVector.zero(F);
        FloatVector c1 = FloatVector.zero(F);
        FloatVector c2 = FloatVector.zero(F);
        FloatVector c3 = FloatVector.zero(F);
        FloatVector d0 = FloatVector.zero(F);
        FloatVector d1 = FloatVector.zero(F);
        FloatVector d2 = FloatVector.zero(F);
        FloatVector d3 = FloatVector.zero(F);
        for (int i = 0; i < n; i += F.length()) {
            FloatVector xa = FloatVector.fromArray(F, x, xOff + i);
            FloatVector xb = FloatVector.fromArray(F, x, x1 + i);
            FloatVector xc = FloatVector.fromArray(F, x, x2 + i);
            FloatVector xd = FloatVector.fromArray(F, x, x3 + i);
            FloatVector w0 = FloatVector.fromArray(F, w, o0 + i);
            a0 = w0.fma(xa, a0);
            b0 = w0.fma(xb, b0);
            c0 = w0.fma(xc, c0);
            d0 = w0.fma(xd, d0);
            FloatVector w1 = FloatVector.fromArray(F, w, o1 + i);
            a1 = w1.fma(xa, a1);
            b1 = w1.fma(xb, b1);
            c1 = w1.fma(xc, c1);
            d1 = w1.fma(xd, d1);
            FloatVector w2 = FloatVector.fromArray(F, w, o2 + i);
            a2 = w2.fma(xa, a2);
            b2 = w2.fma(xb, b2);
            c2 = w2.fma(xc, c2);
            d2 = w2.fma(xd, d2);
            FloatVector w3 = FloatVector.fromArray(F, w, o3 + i);
            a3 = w3.fma(xa, a3);
            b3 = w3.fma(xb, b3);
            c3 = w3.fma(xc, c3);
            d3 = w3.fma(xd, d3);
        }
        a0.intoArray(lanes, 0);
        a1.intoArray(lanes, L);
        a2.intoArray(lanes, 2 * L);
        a3.intoArray(lanes, 3 * L);
        b0.intoArray(lanes, 4 * L);
        b1.intoArray(lanes, 5 * L);
        b2.intoArray(lanes, 6 * L);
        b3.intoArray(lanes, 7 * L);
        Lanes.sums(lanes, 4, out, outIndex, 1);
        Lanes.sumsFrom(lanes, 4, 4, out, outIndex + outStride, 1);
        c0.intoArray(lanes, 0);
        c1.intoArray(lanes, L);
        c2.intoArray(lanes, 2 * L);
        c3.intoArray(lanes, 3 * L);
        d0.intoArray(lanes, 4 * L);
        d1.intoArray(lanes, 5 * L);
        d2.intoArray(lanes, 6 * L);
        d3.intoArray(lanes, 7 * L);
        Lanes.sums(lanes, 4, out, outIndex + 2 * outStride, 1);
        Lanes.sumsFrom(lanes, 4, 4, out, outIndex + 3 * outStride, 1);
    }

    private void dot4(int r, float[] x, int xOff, float[] out, int outIndex, float[] lanes) {
        int n = cols;
        int o0 = base + r * n;
        int o1 = o0 + n;
        int o2 = o1 + n;
        int o3 = o2 + n;
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector a2 = FloatVector.zero(F);
        FloatVector a3 = FloatVector.zero(F);
        int i = 0;
        int upper = F.loopBound(n);
        for (; i < upper; i += F.length()) {
            FloatVector xv = FloatVector.fromArray(F, x, xOff + i);
            a0 = FloatVector.fromArray(F, w, o0 + i).fma(xv, a0);
            a1 = FloatVector.fromArray(F, w, o1 + i).fma(xv, a1);
            a2 = FloatVector.fromArray(F, w, o2 + i).fma(xv, a2);
            a3 = FloatVector.fromArray(F, w, o3 + i).fma(xv, a3);
        }
        a0.intoArray(lanes, 0);
        float s0 = Lanes.sum(lanes);
        a1.intoArray(lanes, 0);
        float s1 = Lanes.sum(lanes);
        a2.intoArray(lanes, 0);
        float s2 = Lanes.sum(lanes);
        a3.intoArray(lanes, 0);
        float s3 = Lanes.sum(lanes);
        for (; i < n; i++) {
            float xi = x[xOff + i];
            s0 += w[o0 + i] * xi;
            s1 += w[o1 + i] * xi;
            s2 += w[o2 + i] * xi;
            s3 += w[o3 + i] * xi;
        }
        out[outIndex] = s0;
        out[outIndex + 1] = s1;
        out[outIndex + 2] = s2;
        out[outIndex + 3] = s3;
    }
}
