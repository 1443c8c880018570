package dev.earlyexit.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * ggml's Q4_0 kept as it is: blocks of 32 values, one f16 scale d, 16 bytes of nibbles (byte j holds
 * value j in its low nibble and value j + 16 in its high one); value = (nibble - 8) * d.
 *
 * <p>Repacked at load, losslessly: the nibble bytes of a row side by side in one array (the file's
 * order within a block, so one bulk copy per block), the half-precision scales in another (widened per
 * block in the kernels: a float32 copy held 4 more bytes per 32 weights). The
 * kernel widens a vector of nibble bytes to two float vectors that line up with contiguous runs of
 * x, scales them once and multiplies them against up to four activation rows (each weight block is
 * decoded once per four rows of the block of T).
 */
public final class Q40Matrix extends Matrix implements GgmlBlocks {
    static final int BLOCK = 32;
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    private static final boolean VECTOR = L >= 8 && 16 % L == 0;
    private static final VectorSpecies<Byte> B = VECTOR
            ? VectorSpecies.of(byte.class, VectorShape.forBitSize(L * 8)) : ByteVector.SPECIES_64;
    private final byte[] nibbles;
    /** Half-precision bits of each block's scale. */
    private final short[] scales;
    private final int blocksPerRow;

    Q40Matrix(byte[] nibbles, short[] scales, int rows, int cols) {
        super(rows, cols);
        if (cols % BLOCK != 0) {
            throw new IllegalArgumentException("q4_0 needs a multiple of 32 columns, got " + cols);
        }
        this.nibbles = nibbles;
        this.scales = scales;
        this.blocksPerRow = cols / BLOCK;
    }

    /** From ggml's encoding (rows*cols/32 blocks of 18 bytes, little-endian) at data's position. */
    public static Q40Matrix fromGgml(ByteBuffer data, int rows, int cols) {
        GgmlType.Q4_0.bytesFor((long) rows * cols);
        Q40Matrix m = new Q40Matrix(rows, cols);
        m.fillBlocks(0, Math.multiplyExact(rows, cols) / BLOCK, data.duplicate().order(ByteOrder.LITTLE_ENDIAN));
        return m;
    }

    /** An all-zero matrix to be filled with {@link #fillBlocks}. */
    Q40Matrix(int rows, int cols) {
        this(new byte[Math.multiplyExact(rows, cols) / BLOCK * 16], new short[Math.multiplyExact(rows, cols) / BLOCK],
                rows, cols);
    }

    @Override
    public GgmlType encoding() {
        return GgmlType.Q4_0;
    }

    @Override
    public void fillBlocks(int firstBlock, int count, ByteBuffer src) {
        int p = src.position();
        for (int k = firstBlock; k < firstBlock + count; k++, p += 18) {
            scales[k] = src.getShort(p);
            src.get(p + 2, nibbles, 16 * k, 16);
        }
        src.position(p);
    }

    @Override
    protected int tiledFromTokens() {
        return TILED_MIN_T;
    }

    @Override
    public DType dtype() {
        return DType.Q4_0;
    }

    @Override
    public long bytes() {
        return nibbles.length + 2L * scales.length;
    }

    @Override
    public void row(int r, float[] dst, int off) {
        if (VECTOR) {
            vectorRow(r, dst, off);
            return;
        }
        for (int k = 0; k < blocksPerRow; k++) {
            int blk = r * blocksPerRow + k;
            float d = Half.widen(scales[blk]);
            for (int j = 0; j < 16; j++) {
                int q = nibbles[16 * blk + j] & 0xFF;
                dst[off + 32 * k + j] = ((q & 0xF) - 8) * d;
                dst[off + 32 * k + j + 16] = ((q >>> 4) - 8) * d;
            }
        }
    }

    /**
     * {@link #row} with vectors, the same bits (level to float, one multiply by the block's scale): the
     * tiled product (prefill) widens every weight through here, and the scalar loop made Q4_0's prefill
     * the slowest of the types (0.32x llama.cpp against Q8_0's 0.68x on the 1.24 B model).
     */
    private void vectorRow(int r, float[] dst, int off) {
        int blk = r * blocksPerRow;
        for (int k = 0; k < blocksPerRow; k++, blk++) {
            float d = Half.widen(scales[blk]);
            int y = off + 32 * k;
            for (int i = 0; i < 16; i += L) {
                ByteVector v = ByteVector.fromArray(B, nibbles, 16 * blk + i);
                ((FloatVector) v.and((byte) 0xF).sub((byte) 8).convertShape(VectorOperators.B2F, F, 0)).mul(d)
                        .intoArray(dst, y + i);
                ((FloatVector) v.lanewise(VectorOperators.LSHR, 4).sub((byte) 8).convertShape(VectorOperators.B2F, F, 0))
                        .mul(d).intoArray(dst, y + 16 + i);
            }
        }
    }

    /**
     * x rounded as llama.cpp's CPU backend rounds a Q4_0 product's activations (its Q8_0 on x86: per
     * 32 values d = max|x| / 127, q = x * 127 / max|x| rounded to nearest even, d kept in half precision),
     * each value then q * d, exact in float32. Multiplying these gives llama.cpp's products up to the
     * order of float additions: with float activations our probabilities on stories15M-q4_0.gguf were up
     * to 0.061 off llama.cpp's (issue 12 asks for 0.05). Per token, so a row of a block is rounded as
     * it is alone.
     */
    @Override
    protected float[] input(float[] x, int T, ThreadPool pool) {
        int n = T * cols;
        float[] rounded = pool.inputScratch(n);
        for (int b = 0; b < n; b += BLOCK) {
            float amax = 0f;
            for (int i = b; i < b + BLOCK; i++) {
                amax = Math.max(amax, Math.abs(x[i]));
            }
            float d = Half.widen(Half.fromFloat(amax / 127f));
            float id = amax != 0f ? 127f / amax : 0f;
            for (int i = b; i < b + BLOCK; i++) {
                rounded[i] = (float) Math.rint(x[i] * id) * d;
            }
        }
        return rounded;
    }

    @Override
    protected int rowScratchFloats() {
        return blocksPerRow;
    }

    /** Direct calls (tests, sweeps); the pool's product passes each worker's scratch instead. */
    @Override
    protected void multiplyRows(int rowStart, int rowEnd, float[] x, int T, float[] out, int outStride, int outOff) {
        multiplyRows(rowStart, rowEnd, x, T, out, outStride, outOff, new float[blocksPerRow]);
    }

    @Override
    protected void multiplyRows(int rowStart, int rowEnd, float[] x, int T, float[] out, int outStride, int outOff,
                                float[] rowScales) {
        for (int r = rowStart; r < rowEnd; r++) {
            Half.widenFinite(scales, r * blocksPerRow, rowScales, 0, blocksPerRow);
            int t = 0;
            if (VECTOR) {
                for (; t + 4 <= T; t += 4) {
                    dot4(r, x, t * cols, out, t * outStride + outOff + r, outStride, rowScales);
                }
            }
            for (; t < T; t++) {
                out[t * outStride + outOff + r] = VECTOR ? dot1(r, x, t * cols, rowScales) : dotScalar(r, x, t * cols, rowScales);
            }
        }
    }

    private float dot1(int r, float[] x, int xOff, float[] rowScales) {
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        int blk = r * blocksPerRow;
        for (int k = 0; k < blocksPerRow; k++, blk++) {
            float d = rowScales[k];
            int xb = xOff + 32 * k;
            for (int i = 0; i < 16; i += L) {
                ByteVector v = ByteVector.fromArray(B, nibbles, 16 * blk + i);
                FloatVector lo = (FloatVector) v.and((byte) 0xF).sub((byte) 8).convertShape(VectorOperators.B2F, F, 0);
                FloatVector hi = (FloatVector) v.lanewise(VectorOperators.LSHR, 4).sub((byte) 8).convertShape(VectorOperators.B2F, F, 0);
                a0 = lo.mul(d).fma(FloatVector.fromArray(F, x, xb + i), a0);
                a1 = hi.mul(d).fma(FloatVector.fromArray(F, x, xb + 16 + i), a1);
            }
        }
        return a0.add(a1).reduceLanes(VectorOperators.ADD);
    }

    /**
     * Four activation rows (x rows at xOff + k*cols) against weight row r; out at outIndex + k*outStride.
     * Each block is widened once for all four, and each token keeps {@link #dot1}'s own order (its low and
     * high halves in two sums), so every result is bit-identical to that token's alone.
     */
    private void dot4(int r, float[] x, int xOff, float[] out, int outIndex, int outStride, float[] rowScales) {
        int n = cols;
        FloatVector l0 = FloatVector.zero(F);
        FloatVector l1 = FloatVector.zero(F);
        FloatVector l2 = FloatVector.zero(F);
        FloatVector l3 = FloatVector.zero(F);
        FloatVector h0 = FloatVector.zero(F);
        FloatVector h1 = FloatVector.zero(F);
        FloatVector h2 = FloatVector.zero(F);
        FloatVector h3 = FloatVector.zero(F);
        int blk = r * blocksPerRow;
        for (int k = 0; k < blocksPerRow; k++, blk++) {
            float d = rowScales[k];
            int xb = xOff + 32 * k;
            for (int i = 0; i < 16; i += L) {
                ByteVector v = ByteVector.fromArray(B, nibbles, 16 * blk + i);
                FloatVector lo = ((FloatVector) v.and((byte) 0xF).sub((byte) 8).convertShape(VectorOperators.B2F, F, 0)).mul(d);
                FloatVector hi = ((FloatVector) v.lanewise(VectorOperators.LSHR, 4).sub((byte) 8).convertShape(VectorOperators.B2F, F, 0)).mul(d);
                int xl = xb + i;
                int xh = xb + 16 + i;
                l0 = lo.fma(FloatVector.fromArray(F, x, xl), l0);
                h0 = hi.fma(FloatVector.fromArray(F, x, xh), h0);
                l1 = lo.fma(FloatVector.fromArray(F, x, xl + n), l1);
                h1 = hi.fma(FloatVector.fromArray(F, x, xh + n), h1);
                l2 = lo.fma(FloatVector.fromArray(F, x, xl + 2 * n), l2);
                h2 = hi.fma(FloatVector.fromArray(F, x, xh + 2 * n), h2);
                l3 = lo.fma(FloatVector.fromArray(F, x, xl + 3 * n), l3);
                h3 = hi.fma(FloatVector.fromArray(F, x, xh + 3 * n), h3);
            }
        }
        out[outIndex] = l0.add(h0).reduceLanes(VectorOperators.ADD);
        out[outIndex + outStride] = l1.add(h1).reduceLanes(VectorOperators.ADD);
        out[outIndex + 2 * outStride] = l2.add(h2).reduceLanes(VectorOperators.ADD);
        out[outIndex + 3 * outStride] = l3.add(h3).reduceLanes(VectorOperators.ADD);
    }

    private float dotScalar(int r, float[] x, int xOff, float[] rowScales) {
        float s = 0;
        for (int k = 0; k < blocksPerRow; k++) {
            int blk = r * blocksPerRow + k;
            float d = rowScales[k];
            for (int j = 0; j < 16; j++) {
                int q = nibbles[16 * blk + j] & 0xFF;
                s += ((q & 0xF) - 8) * d * x[xOff + 32 * k + j] + ((q >>> 4) - 8) * d * x[xOff + 32 * k + j + 16];
            }
        }
        return s;
    }
}
