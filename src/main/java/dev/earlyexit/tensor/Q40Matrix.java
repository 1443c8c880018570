package dev.earlyexit.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
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
 * order within a block, so one bulk copy per block), the half-precision scales in another (widened once
 * per row in the kernels: a float32 copy held 4 more bytes per 32 weights). The kernel widens a vector
 * of nibble bytes to ints, takes the low and high levels out with int shifts as two float vectors that
 * line up with contiguous runs of x, multiplies them against up to four activation rows (each weight
 * block is decoded once per four rows of the block of T) and scales each block's sum once.
 */
public final class Q40Matrix extends Matrix implements GgmlBlocks {
    static final int BLOCK = 32;
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    private static final boolean VECTOR = L >= 8 && 16 % L == 0;
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
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
                IntVector w = levels(16 * blk + i);
                low(w).mul(d).intoArray(dst, y + i);
                high(w).mul(d).intoArray(dst, y + 16 + i);
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
        float[] lanes = Lanes.floats();
        for (int r = rowStart; r < rowEnd; r++) {
            Half.widenFinite(scales, r * blocksPerRow, rowScales, 0, blocksPerRow);
            int t = 0;
            if (VECTOR) {
                for (; t + 4 <= T; t += 4) {
                    dot4(r, x, t * cols, out, t * outStride + outOff + r, outStride, rowScales, lanes);
                }
            }
            for (; t < T; t++) {
                out[t * outStride + outOff + r] = VECTOR ? dot1(r, x, t * cols, rowScales, lanes)
                        : dotScalar(r, x, t * cols, rowScales);
            }
        }
    }

    /**
     * The levels of one vector of nibble bytes, for {@link #low} and {@link #high}: each byte
     * sign-extended to an int and XORed with 0x88, so that each nibble read as a signed 4-bit number is
     * its level n - 8, which int shifts then take out. AVX-512 has no byte shifts: the byte mask / shift
     * / subtract this replaces made the kernel 1.75x slower on a matrix in L2 (2048 x 512), 1.2x at
     * 8192 x 2048 (alternating runs).
     */
    private IntVector levels(int byteIndex) {
        return ((IntVector) ByteVector.fromArray(B, nibbles, byteIndex).convertShape(VectorOperators.B2I, I, 0))
                .lanewise(VectorOperators.XOR, 0xFFFFFF88);
    }

    /** The low nibbles' levels (values j of the block) as floats. */
    private static FloatVector low(IntVector levels) {
        return (FloatVector) levels.lanewise(VectorOperators.LSHL, 28).lanewise(VectorOperators.ASHR, 28)
                .convert(VectorOperators.I2F, 0);
    }

    /** The high nibbles' levels (values j + 16). */
    private static FloatVector high(IntVector levels) {
        return (FloatVector) levels.lanewise(VectorOperators.ASHR, 4).convert(VectorOperators.I2F, 0);
    }

    /**
     * Per block: the levels' dot product with x (begun with a multiply: a multiply-add onto zero, or
     * the same in a loop over L-wide chunks, ran 1.3-1.5x slower), then one multiply-add by its scale.
     */
    private float dot1(int r, float[] x, int xOff, float[] rowScales, float[] lanes) {
        FloatVector acc = FloatVector.zero(F);
        int blk = r * blocksPerRow;
        for (int k = 0; k < blocksPerRow; k++, blk++) {
            int xb = xOff + 32 * k;
            IntVector w = levels(16 * blk);
            FloatVector p = low(w).mul(FloatVector.fromArray(F, x, xb));
            p = high(w).fma(FloatVector.fromArray(F, x, xb + 16), p);
            if (L == 8) {
                w = levels(16 * blk + 8);
                p = low(w).fma(FloatVector.fromArray(F, x, xb + 8), p);
                p = high(w).fma(FloatVector.fromArray(F, x, xb + 24), p);
            }
            acc = p.fma(FloatVector.broadcast(F, rowScales[k]), acc);
        }
        acc.intoArray(lanes, 0);
        return Lanes.sum(lanes);
    }

    /**
     * Four activation rows (x rows at xOff + k*cols) against weight row r; out at outIndex + k*outStride.
     * Each block's levels (as in {@link #dot1}) are widened once for all four, and each token keeps dot1's own order,
     * so every result is bit-identical to that token's alone.
     */
    private void dot4(int r, float[] x, int xOff, float[] out, int outIndex, int outStride, float[] rowScales,
                      float[] lanes) {
        int n = cols;
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector a2 = FloatVector.zero(F);
        FloatVector a3 = FloatVector.zero(F);
        int blk = r * blocksPerRow;
        for (int k = 0; k < blocksPerRow; k++, blk++) {
            int xl = xOff + 32 * k;
            int xh = xl + 16;
            IntVector w = levels(16 * blk);
            FloatVector lo = low(w);
            FloatVector hi = high(w);
            FloatVector p0 = hi.fma(FloatVector.fromArray(F, x, xh), lo.mul(FloatVector.fromArray(F, x, xl)));
            FloatVector p1 = hi.fma(FloatVector.fromArray(F, x, xh + n), lo.mul(FloatVector.fromArray(F, x, xl + n)));
            FloatVector p2 = hi.fma(FloatVector.fromArray(F, x, xh + 2 * n), lo.mul(FloatVector.fromArray(F, x, xl + 2 * n)));
            FloatVector p3 = hi.fma(FloatVector.fromArray(F, x, xh + 3 * n), lo.mul(FloatVector.fromArray(F, x, xl + 3 * n)));
            if (L == 8) {
                w = levels(16 * blk + 8);
                lo = low(w);
                hi = high(w);
                xl += 8;
                xh += 8;
                p0 = hi.fma(FloatVector.fromArray(F, x, xh), lo.fma(FloatVector.fromArray(F, x, xl), p0));
                p1 = hi.fma(FloatVector.fromArray(F, x, xh + n), lo.fma(FloatVector.fromArray(F, x, xl + n), p1));
                p2 = hi.fma(FloatVector.fromArray(F, x, xh + 2 * n), lo.fma(FloatVector.fromArray(F, x, xl + 2 * n), p2));
                p3 = hi.fma(FloatVector.fromArray(F, x, xh + 3 * n), lo.fma(FloatVector.fromArray(F, x, xl + 3 * n), p3));
            }
            FloatVector d = FloatVector.broadcast(F, rowScales[k]);
            a0 = p0.fma(d, a0);
            a1 = p1.fma(d, a1);
            a2 = p2.fma(d, a2);
            a3 = p3.fma(d, a3);
        }
        a0.intoArray(lanes, 0);
        a1.intoArray(lanes, L);
        a2.intoArray(lanes, 2 * L);
        a3.intoArray(lanes, 3 * L);
        Lanes.sums(lanes, 4, out, outIndex, outStride);
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
