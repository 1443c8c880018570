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
 * ggml's Q4_K kept as it is: super-blocks of 256 values in 8 sub-blocks of 32, each with a 6-bit
 * scale and a 6-bit min, under two f16 super-scales d and dmin; value = d*sc * nibble - dmin*m.
 * Within a super-block, 32-byte chunk j holds sub-block 2j in its low nibbles and 2j + 1 in its high
 * ones, so a vector of nibble bytes widens to two float vectors that line up with contiguous x.
 *
 * <p>Repacked at load, losslessly: nibbles of a row side by side (one bulk copy per super-block), the
 * 6-bit scales and mins unpacked to one byte each, d and dmin widened to float32 (4.75 bits a value
 * instead of 4.5; the kernel then needs no bit unpacking of the scales).
 */
public final class Q4KMatrix extends Matrix implements GgmlBlocks {
    static final int SUPER = 256;
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    private static final boolean VECTOR = L >= 8 && 32 % L == 0;
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
    private static final VectorSpecies<Byte> B = VECTOR
            ? VectorSpecies.of(byte.class, VectorShape.forBitSize(L * 8)) : ByteVector.SPECIES_64;
    private final byte[] nibbles;
    private final byte[] subScales;
    private final byte[] subMins;
    private final float[] d;
    private final float[] dmin;
    private final int superPerRow;

    Q4KMatrix(byte[] nibbles, byte[] subScales, byte[] subMins, float[] d, float[] dmin, int rows, int cols) {
        super(rows, cols);
        if (cols % SUPER != 0) {
            throw new IllegalArgumentException("q4_K needs a multiple of 256 columns, got " + cols);
        }
        this.nibbles = nibbles;
        this.subScales = subScales;
        this.subMins = subMins;
        this.d = d;
        this.dmin = dmin;
        this.superPerRow = cols / SUPER;
    }

    /** From ggml's encoding (144-byte super-blocks, little-endian) at data's position. */
    public static Q4KMatrix fromGgml(ByteBuffer data, int rows, int cols) {
        GgmlType.Q4_K.bytesFor((long) rows * cols);
        Q4KMatrix m = new Q4KMatrix(rows, cols);
        m.fillBlocks(0, Math.multiplyExact(rows, cols) / SUPER, data.duplicate().order(ByteOrder.LITTLE_ENDIAN));
        return m;
    }

    /** An all-zero matrix to be filled with {@link #fillBlocks}. */
    Q4KMatrix(int rows, int cols) {
        this(new byte[Math.multiplyExact(rows, cols) / SUPER * 128], new byte[Math.multiplyExact(rows, cols) / SUPER * 8],
                new byte[Math.multiplyExact(rows, cols) / SUPER * 8], new float[Math.multiplyExact(rows, cols) / SUPER],
                new float[Math.multiplyExact(rows, cols) / SUPER], rows, cols);
    }

    @Override
    public GgmlType encoding() {
        return GgmlType.Q4_K;
    }

    @Override
    public void fillBlocks(int firstBlock, int count, ByteBuffer b) {
        int p = b.position();
        for (int s = firstBlock; s < firstBlock + count; s++, p += 144) {
            d[s] = Half.toFloat(b.getShort(p) & 0xFFFF);
            dmin[s] = Half.toFloat(b.getShort(p + 2) & 0xFFFF);
            for (int j = 0; j < 8; j++) {
                subScales[8 * s + j] = (byte) GgmlDequant.kScale(b, p + 4, j);
                subMins[8 * s + j] = (byte) GgmlDequant.kMin(b, p + 4, j);
            }
            b.get(p + 16, nibbles, 128 * s, 128);
        }
        b.position(p);
    }

    @Override
    protected int tiledFromTokens() {
        return TILED_MIN_T;
    }

    @Override
    public DType dtype() {
        return DType.Q4_K;
    }

    @Override
    public long bytes() {
        return nibbles.length + subScales.length + subMins.length + 4L * (d.length + dmin.length);
    }

    @Override
    public void row(int r, float[] dst, int off) {
        if (VECTOR) {
            vectorRow(r, dst, off);
            return;
        }
        for (int s = r * superPerRow, y = off; s < (r + 1) * superPerRow; s++) {
            for (int j = 0; j < 4; j++) {
                float d1 = d[s] * subScales[8 * s + 2 * j];
                float m1 = dmin[s] * subMins[8 * s + 2 * j];
                float d2 = d[s] * subScales[8 * s + 2 * j + 1];
                float m2 = dmin[s] * subMins[8 * s + 2 * j + 1];
                for (int l = 0; l < 32; l++) {
                    int q = nibbles[128 * s + 32 * j + l] & 0xFF;
                    dst[y + l] = d1 * (q & 0xF) - m1;
                    dst[y + 32 + l] = d2 * (q >>> 4) - m2;
                }
                y += 64;
            }
        }
    }

    /** {@link #row} with vectors, the same bits (d1 * q, then - m1: two roundings, as the scalar loop). */
    private void vectorRow(int r, float[] dst, int off) {
        for (int s = r * superPerRow, y = off; s < (r + 1) * superPerRow; s++) {
            for (int j = 0; j < 4; j++, y += 64) {
                float d1 = d[s] * subScales[8 * s + 2 * j];
                float m1 = dmin[s] * subMins[8 * s + 2 * j];
                float d2 = d[s] * subScales[8 * s + 2 * j + 1];
                float m2 = dmin[s] * subMins[8 * s + 2 * j + 1];
                int q = 128 * s + 32 * j;
                for (int i = 0; i < 32; i += L) {
                    ByteVector v = ByteVector.fromArray(B, nibbles, q + i);
                    ((FloatVector) v.and((byte) 0xF).convertShape(VectorOperators.B2F, F, 0)).mul(d1).sub(m1)
                            .intoArray(dst, y + i);
                    ((FloatVector) v.lanewise(VectorOperators.LSHR, 4).convertShape(VectorOperators.B2F, F, 0))
                            .mul(d2).sub(m2).intoArray(dst, y + 32 + i);
                }
            }
        }
    }

    /** x followed by each token's sub-block sums, for the mins' part of a product ({@link SubBlockSums}). */
    @Override
    protected float[] input(float[] x, int T, ThreadPool pool) {
        return SubBlockSums.append(x, T, cols, pool);
    }

    /** x as {@link #input} lays it out (the pool's products pass that); see {@link #dot1}. */
    @Override
    protected void multiplyRows(int rowStart, int rowEnd, float[] x, int T, float[] out, int outStride, int outOff) {
        float[] lanes = Lanes.floats();
        int sums = T * cols;
        for (int r = rowStart; r < rowEnd; r++) {
            int t = 0;
            if (VECTOR) {
                for (; t + 4 <= T; t += 4) {
                    dot4(r, x, t * cols, out, t * outStride + outOff + r, outStride, lanes);
                }
            }
            for (; t < T; t++) {
                out[t * outStride + outOff + r] = VECTOR ? dot1(r, x, t * cols, sums + t * (cols / 32), lanes)
                        : dotScalar(r, x, t * cols);
            }
        }
    }

    /**
     * Per pair of sub-blocks (one 32-byte run of nibbles): the levels' dot products with x, each
     * begun with a multiply, then a multiply-add by the sub-block's scale d*sc; the mins' part,
     * dmin*m * sum(x), in a scalar sum beside. Levels: the bytes sign-extended to ints, the low nibble
     * masked out (0xF) and the high one left in place (0xF0, its 1/16 folded into the scale, exact).
     * AVX-512 has no byte shifts: the byte mask/shift this replaces cost a vector step more per 16
     * weights.
     */
    private float dot1(int r, float[] x, int xOff, int sumOff, float[] lanes) {
        FloatVector acc = FloatVector.zero(F);
        float mins = 0f;
        for (int s = r * superPerRow, xb = xOff, sb = sumOff; s < (r + 1) * superPerRow; s++) {
            float ds = d[s];
            float ms = dmin[s];
            for (int j = 0; j < 4; j++, xb += 64, sb += 2) {
                int sub = 8 * s + 2 * j;
                int q = 128 * s + 32 * j;
                IntVector w = levels(q);
                FloatVector lo = low(w).mul(FloatVector.fromArray(F, x, xb));
                FloatVector hi = high(w).mul(FloatVector.fromArray(F, x, xb + 32));
                for (int i = L; i < 32; i += L) {
                    w = levels(q + i);
                    lo = low(w).fma(FloatVector.fromArray(F, x, xb + i), lo);
                    hi = high(w).fma(FloatVector.fromArray(F, x, xb + 32 + i), hi);
                }
                acc = lo.fma(FloatVector.broadcast(F, ds * subScales[sub]), acc);
                acc = hi.fma(FloatVector.broadcast(F, ds * subScales[sub + 1] * 0x1p-4f), acc);
                mins += ms * subMins[sub] * x[sb] + ms * subMins[sub + 1] * x[sb + 1];
            }
        }
        acc.intoArray(lanes, 0);
        return Lanes.sum(lanes) - mins;
    }

    /**
     * Four tokens against row r: here each weight vector is scaled once (d*sc*q - dmin*m) for all four
     * tokens, which beat dot1's order (scale after the product) at T = 4 by 1.3x; so a row of a block
     * is not bit-identical to the token alone (K-quants never promised it: DSSD's exact verification
     * stands on f32, bf16, Q8_0 and Q4_0).
     */
    private void dot4(int r, float[] x, int xOff, float[] out, int outIndex, int outStride, float[] lanes) {
        int n = cols;
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector a2 = FloatVector.zero(F);
        FloatVector a3 = FloatVector.zero(F);
        for (int s = r * superPerRow, xb = xOff; s < (r + 1) * superPerRow; s++) {
            float ds = d[s];
            float ms = dmin[s];
            for (int j = 0; j < 4; j++, xb += 64) {
                float d1 = ds * subScales[8 * s + 2 * j];
                float m1 = -(ms * subMins[8 * s + 2 * j]);
                float d2 = ds * subScales[8 * s + 2 * j + 1];
                float m2 = -(ms * subMins[8 * s + 2 * j + 1]);
                int q = 128 * s + 32 * j;
                for (int i = 0; i < 32; i += L) {
                    ByteVector v = ByteVector.fromArray(B, nibbles, q + i);
                    FloatVector lo = ((FloatVector) v.and((byte) 0xF).convertShape(VectorOperators.B2F, F, 0)).fma(d1, m1);
                    FloatVector hi = ((FloatVector) v.lanewise(VectorOperators.LSHR, 4).convertShape(VectorOperators.B2F, F, 0)).fma(d2, m2);
                    int xl = xb + i;
                    int xh = xb + 32 + i;
                    a0 = hi.fma(FloatVector.fromArray(F, x, xh), lo.fma(FloatVector.fromArray(F, x, xl), a0));
                    a1 = hi.fma(FloatVector.fromArray(F, x, xh + n), lo.fma(FloatVector.fromArray(F, x, xl + n), a1));
                    a2 = hi.fma(FloatVector.fromArray(F, x, xh + 2 * n), lo.fma(FloatVector.fromArray(F, x, xl + 2 * n), a2));
                    a3 = hi.fma(FloatVector.fromArray(F, x, xh + 3 * n), lo.fma(FloatVector.fromArray(F, x, xl + 3 * n), a3));
                }
            }
        }
        a0.intoArray(lanes, 0);
        a1.intoArray(lanes, L);
        a2.intoArray(lanes, 2 * L);
        a3.intoArray(lanes, 3 * L);
        Lanes.sums(lanes, 4, out, outIndex, outStride);
    }

    /** One vector of nibble bytes (q onwards), sign-extended to ints. */
    private IntVector levels(int q) {
        return (IntVector) ByteVector.fromArray(B, nibbles, q).convertShape(VectorOperators.B2I, I, 0);
    }

    /** The low nibbles as floats. */
    private static FloatVector low(IntVector bytes) {
        return (FloatVector) bytes.lanewise(VectorOperators.AND, 0xF).convert(VectorOperators.I2F, 0);
    }

    /** The high nibbles, times 16, as floats. */
    private static FloatVector high(IntVector bytes) {
        return (FloatVector) bytes.lanewise(VectorOperators.AND, 0xF0).convert(VectorOperators.I2F, 0);
    }

    private float dotScalar(int r, float[] x, int xOff) {
        float[] w = new float[cols];
        row(r, w, 0);
        float s = 0;
        for (int i = 0; i < cols; i++) {
            s += w[i] * x[xOff + i];
        }
        return s;
    }
}
