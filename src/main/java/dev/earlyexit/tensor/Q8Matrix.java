package dev.earlyexit.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Symmetric 8-bit weights: each row is cut into groups of {@link #GROUP} values that share one
 * half-precision scale (max |w| / 127), as llama.cpp's Q8_0: the file's bytes, 34 per 32 weights. The
 * scales stay in half precision (a float32 copy was 78 MB more at 1.24 B parameters, 5% more bytes read per
 * token) and are widened per group in the kernels, one cheap step next to the group's 32 products.
 */
public final class Q8Matrix extends Matrix implements Matrix.RowSink, GgmlBlocks {
    public static final int GROUP = 32;
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    private static final VectorSpecies<Byte> B =
            ByteVector.SPECIES_PREFERRED.withShape(VectorShape.forBitSize(F.vectorBitSize() / 4)).check(byte.class);
    private final byte[] q;
    /** Half-precision bits of each group's scale, row by row. */
    private final short[] scales;
    private final int groupsPerRow;

    Q8Matrix(byte[] q, short[] scales, int rows, int cols) {
        super(rows, cols);
        this.q = q;
        this.scales = scales;
        this.groupsPerRow = (cols + GROUP - 1) / GROUP;
    }

    /** An all-zero matrix to be filled with {@link #fillRows}. */
    Q8Matrix(int rows, int cols) {
        this(new byte[Math.multiplyExact(rows, cols)], new short[rows * ((cols + GROUP - 1) / GROUP)], rows, cols);
    }

    /**
     * From ggml's Q8_0 encoding (34-byte blocks: f16 scale, 32 int8) at data's position: the same
     * values exactly, repacked as quants and scales side by side.
     */
    public static Q8Matrix fromGgmlQ8_0(java.nio.ByteBuffer data, int rows, int cols) {
        GgmlType.Q8_0.bytesFor((long) rows * cols);
        Q8Matrix m = new Q8Matrix(rows, cols);
        m.fillBlocks(0, Math.multiplyExact(rows, cols) / GROUP, data.duplicate().order(java.nio.ByteOrder.LITTLE_ENDIAN));
        return m;
    }

    /** Q8_0 when rows are whole 32-value blocks (then a row's groups are ggml's blocks). */
    @Override
    public GgmlType encoding() {
        return cols % GROUP == 0 ? GgmlType.Q8_0 : null;
    }

    @Override
    public void fillBlocks(int firstBlock, int count, java.nio.ByteBuffer src) {
        int p = src.position();
        for (int k = firstBlock; k < firstBlock + count; k++, p += 34) {
            scales[k] = src.getShort(p);
            src.get(p + 2, q, GROUP * k, GROUP);
        }
        src.position(p);
    }

    public static Q8Matrix fromFloats(float[] data, int rows, int cols) {
        if (data.length != (long) rows * cols) {
            throw new IllegalArgumentException("matrix data has " + data.length + " values, expected " + rows + "x" + cols);
        }
        Q8Matrix m = new Q8Matrix(rows, cols);
        m.fillRows(0, rows, data, 0);
        return m;
    }

    @Override
    public void fillRows(int firstRow, int count, float[] src, int srcOff) {
        for (int r = 0; r < count; r++) {
            int row = firstRow + r;
            for (int g = 0; g < groupsPerRow; g++) {
                int start = g * GROUP;
                int end = Math.min(start + GROUP, cols);
                int from = srcOff + r * cols;
                float amax = 0f;
                for (int i = start; i < end; i++) {
                    amax = Math.max(amax, Math.abs(src[from + i]));
                }
                float scale = amax / 127f; // ggml's rule: quantized by the exact scale, stored rounded to half
                float inv = scale == 0f ? 0f : 1f / scale;
                for (int i = start; i < end; i++) {
                    q[row * cols + i] = (byte) Math.round(src[from + i] * inv);
                }
                scales[row * groupsPerRow + g] = Half.fromFloat(scale);
            }
        }
    }

    private float scale(int group) {
        return Half.widen(scales[group]);
    }

    @Override
    protected int tiledFromTokens() {
        return TILED_MIN_T;
    }

    @Override
    public DType dtype() {
        return DType.Q8;
    }

    @Override
    public long bytes() {
        return q.length + 2L * scales.length;
    }

    @Override
    public void row(int r, float[] dst, int off) {
        int step = F.length();
        int i = 0;
        if (GROUP % step == 0 && B.length() == step) {
            // vectorized: the tiled product (prefill) widens every weight once per block through here
            for (int g = 0; g < cols / GROUP; g++) {
                float scale = scale(r * groupsPerRow + g);
                for (int j = 0; j < GROUP; j += step, i += step) {
                    ((FloatVector) ByteVector.fromArray(B, q, r * cols + i).convertShape(VectorOperators.B2F, F, 0))
                            .mul(scale).intoArray(dst, off + i);
                }
            }
        }
        for (; i < cols; i++) {
            dst[off + i] = q[r * cols + i] * scale(r * groupsPerRow + i / GROUP);
        }
    }

    @Override
    protected int rowScratchFloats() {
        return groupsPerRow;
    }

    /** Direct calls (tests, sweeps); the pool's product passes each worker's scratch instead. */
    @Override
    protected void multiplyRows(int rowStart, int rowEnd, float[] x, int T, float[] out, int outStride, int outOff) {
        multiplyRows(rowStart, rowEnd, x, T, out, outStride, outOff, new float[groupsPerRow]);
    }

    @Override
    protected void multiplyRows(int rowStart, int rowEnd, float[] x, int T, float[] out, int outStride, int outOff,
                                float[] rowScales) {
        float[] lanes = Lanes.floats();
        int n = cols;
        int step = F.length();
        boolean vectorGroups = GROUP % step == 0 && B.length() == step;
        int fullGroups = n / GROUP;
        for (int r = rowStart; r < rowEnd; r++) {
            int rowBase = r * n;
            int scaleBase = r * groupsPerRow;
            Half.widenFinite(scales, scaleBase, rowScales, 0, groupsPerRow);
            int t0 = 0;
            if (vectorGroups && n % GROUP == 0) {
                // four activation rows per pass: each weight group is widened once for all four
                for (; t0 + 4 <= T; t0 += 4) {
                    dot4(r, x, t0 * n, out, t0 * outStride + outOff + r, outStride, rowScales, lanes);
                }
            }
            for (int t = t0; t < T; t++) {
                int xOff = t * n;
                float sum = 0f;
                int g = 0;
                if (vectorGroups) {
                    FloatVector acc = FloatVector.zero(F);
                    for (; g < fullGroups; g++) {
                        int base = g * GROUP;
                        FloatVector part = widened(rowBase + base).mul(FloatVector.fromArray(F, x, xOff + base));
                        for (int i = step; i < GROUP; i += step) {
                            part = widened(rowBase + base + i).fma(FloatVector.fromArray(F, x, xOff + base + i), part);
                        }
                        acc = part.fma(FloatVector.broadcast(F, rowScales[g]), acc);
                    }
                    acc.intoArray(lanes, 0);
                    sum = Lanes.sum(lanes);
                }
                for (int i = g * GROUP; i < n; i++) {
                    sum += q[rowBase + i] * rowScales[i / GROUP] * x[xOff + i];
                }
                out[t * outStride + outOff + r] = sum;
            }
        }
    }

    /**
     * Four tokens against row r: each weight vector is widened once for all four, and each token keeps
     * the single-token loop's own order (a group's products summed, then scaled into the row's sum), so
     * every result is bit-identical to that token's alone (a batch of sequences gives each what it gets
     * alone). It was also the slow way round: scaling each widened vector before the products ran 4
     * tokens at 72 GFLOP/s against 81 for two single-token passes (8192 x 2048, 2 threads).
     */
    private void dot4(int r, float[] x, int xOff, float[] out, int outIndex, int outStride, float[] rowScales,
                      float[] lanes) {
        int n = cols;
        int step = F.length();
        int rowBase = r * n;
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector a2 = FloatVector.zero(F);
        FloatVector a3 = FloatVector.zero(F);
        for (int g = 0; g < groupsPerRow; g++) {
            int base = g * GROUP;
            FloatVector w0 = widened(rowBase + base);
            int x0 = xOff + base;
            FloatVector p0 = w0.mul(FloatVector.fromArray(F, x, x0));
            FloatVector p1 = w0.mul(FloatVector.fromArray(F, x, x0 + n));
            FloatVector p2 = w0.mul(FloatVector.fromArray(F, x, x0 + 2 * n));
            FloatVector p3 = w0.mul(FloatVector.fromArray(F, x, x0 + 3 * n));
            for (int i = step; i < GROUP; i += step) {
                FloatVector wv = widened(rowBase + base + i);
                int xi = xOff + base + i;
                p0 = wv.fma(FloatVector.fromArray(F, x, xi), p0);
                p1 = wv.fma(FloatVector.fromArray(F, x, xi + n), p1);
                p2 = wv.fma(FloatVector.fromArray(F, x, xi + 2 * n), p2);
                p3 = wv.fma(FloatVector.fromArray(F, x, xi + 3 * n), p3);
            }
            FloatVector scale = FloatVector.broadcast(F, rowScales[g]);
            a0 = p0.fma(scale, a0);
            a1 = p1.fma(scale, a1);
            a2 = p2.fma(scale, a2);
            a3 = p3.fma(scale, a3);
        }
        a0.intoArray(lanes, 0);
        a1.intoArray(lanes, L);
        a2.intoArray(lanes, 2 * L);
        a3.intoArray(lanes, 3 * L);
        Lanes.sums(lanes, 4, out, outIndex, outStride);
    }

    /**
     * One vector of weights as floats. The kernels begin each group's sum with a multiply rather than a
     * multiply-add onto zero in the loop: an 8192 x 2048 product ran 1.35x faster so (medians of 6
     * alternating runs, one thread), as Q40Matrix's did.
     */
    private FloatVector widened(int index) {
        return (FloatVector) ByteVector.fromArray(B, q, index).convertShape(VectorOperators.B2F, F, 0);
    }
}
