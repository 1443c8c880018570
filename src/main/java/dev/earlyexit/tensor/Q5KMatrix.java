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
 * ggml's Q5_K kept as it is: Q4_K's layout (super-blocks of 256 values in 8 sub-blocks of 32, each
 * with a 6-bit scale and a 6-bit min, under two f16 super-scales d and dmin) with a fifth bit per
 * value; value = d*sc * q - dmin*m, q in 0..31. Within a super-block, 32-byte chunk j of the nibbles
 * holds sub-block 2j in its low nibbles and 2j + 1 in its high ones, and byte l of the 32 high-bit
 * bytes holds value l's fifth bit of sub-block k in bit k, so one vector of nibbles and one of high
 * bits widen to two float vectors that line up with contiguous x.
 *
 * <p>Repacked at load, losslessly: nibbles and high bits of a row side by side (one bulk copy each
 * per super-block), the 6-bit scales and mins unpacked to one byte each, d and dmin widened to
 * float32 (5.75 bits a value instead of 5.5).
 */
public final class Q5KMatrix extends Matrix implements GgmlBlocks {
    static final int SUPER = 256;
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    private static final boolean VECTOR = L >= 8 && 32 % L == 0;
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
    private static final VectorSpecies<Byte> B = VECTOR
            ? VectorSpecies.of(byte.class, VectorShape.forBitSize(L * 8)) : ByteVector.SPECIES_64;
    private final byte[] nibbles;
    private final byte[] highBits;
    private final byte[] subScales;
    private final byte[] subMins;
    private final float[] d;
    private final float[] dmin;
    private final int superPerRow;

    Q5KMatrix(byte[] nibbles, byte[] highBits, byte[] subScales, byte[] subMins, float[] d, float[] dmin, int rows, int cols) {
        super(rows, cols);
        if (cols % SUPER != 0) {
            throw new IllegalArgumentException("q5_K needs a multiple of 256 columns, got " + cols);
        }
        this.nibbles = nibbles;
        this.highBits = highBits;
        this.subScales = subScales;
        this.subMins = subMins;
        this.d = d;
        this.dmin = dmin;
        this.superPerRow = cols / SUPER;
    }

    /** From ggml's encoding (176-byte super-blocks: d, dmin, scales[12], qh[32], qs[128]; little-endian) at data's position. */
    public static Q5KMatrix fromGgml(ByteBuffer data, int rows, int cols) {
        GgmlType.Q5_K.bytesFor((long) rows * cols);
        Q5KMatrix m = new Q5KMatrix(rows, cols);
        m.fillBlocks(0, Math.multiplyExact(rows, cols) / SUPER, data.duplicate().order(ByteOrder.LITTLE_ENDIAN));
        return m;
    }

    /** An all-zero matrix to be filled with {@link #fillBlocks}. */
    Q5KMatrix(int rows, int cols) {
        this(new byte[Math.multiplyExact(Math.multiplyExact(rows, cols) / SUPER, 128)], new byte[Math.multiplyExact(rows, cols) / SUPER * 32],
                new byte[Math.multiplyExact(rows, cols) / SUPER * 8], new byte[Math.multiplyExact(rows, cols) / SUPER * 8],
                new float[Math.multiplyExact(rows, cols) / SUPER], new float[Math.multiplyExact(rows, cols) / SUPER], rows, cols);
    }

    @Override
    public GgmlType encoding() {
        return GgmlType.Q5_K;
    }

    @Override
    public void fillBlocks(int firstBlock, int count, ByteBuffer b) {
        int p = b.position();
        for (int s = firstBlock; s < firstBlock + count; s++, p += 176) {
            d[s] = Half.toFloat(b.getShort(p) & 0xFFFF);
            dmin[s] = Half.toFloat(b.getShort(p + 2) & 0xFFFF);
            for (int j = 0; j < 8; j++) {
                subScales[8 * s + j] = (byte) GgmlDequant.kScale(b, p + 4, j);
                subMins[8 * s + j] = (byte) GgmlDequant.kMin(b, p + 4, j);
            }
            b.get(p + 16, highBits, 32 * s, 32);
            b.get(p + 48, nibbles, 128 * s, 128);
        }
        b.position(p);
    }

    @Override
    protected int tiledFromTokens() {
        return TILED_MIN_T;
    }

    @Override
    public DType dtype() {
        return DType.Q5_K;
    }

    @Override
    public long bytes() {
        return nibbles.length + highBits.length + subScales.length + subMins.length + 4L * (d.length + dmin.length);
    }

    @Override
    public void row(int r, float[] dst, int off) {
        for (int s = r * superPerRow, y = off; s < (r + 1) * superPerRow; s++) {
            for (int j = 0; j < 4; j++) {
                float d1 = d[s] * subScales[8 * s + 2 * j];
                float m1 = dmin[s] * subMins[8 * s + 2 * j];
                float d2 = d[s] * subScales[8 * s + 2 * j + 1];
                float m2 = dmin[s] * subMins[8 * s + 2 * j + 1];
                for (int l = 0; l < 32; l++) {
                    int q = nibbles[128 * s + 32 * j + l] & 0xFF;
                    int h = (highBits[32 * s + l] & 0xFF) >>> (2 * j);
                    dst[y + l] = d1 * ((q & 0xF) | (h & 1) << 4) - m1;
                    dst[y + 32 + l] = d2 * ((q >>> 4) | (h & 2) << 3) - m2;
                }
                y += 64;
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
     * Q4KMatrix.dot1's scheme with the fifth bit: per pair of sub-blocks, the levels' dot products with
     * x begun with a multiply and scaled once, the mins as dmin*m*sum(x). Levels in ints (AVX-512 has no
     * byte shifts): nibble and high-bit bytes sign-extended, the high bits shifted down by 2j, then
     * {@code low = (q & 0xF) | (h << 4 & 0x10)} and {@code high x16 = (q & 0xF0) | (h << 7 & 0x100)}, its
     * 1/16 in the scale.
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
                int qh = 32 * s;
                IntVector w = bytes(nibbles, q);
                IntVector h = bytes(highBits, qh).lanewise(VectorOperators.LSHR, 2 * j);
                FloatVector lo = low(w, h).mul(FloatVector.fromArray(F, x, xb));
                FloatVector hi = high(w, h).mul(FloatVector.fromArray(F, x, xb + 32));
                for (int i = L; i < 32; i += L) {
                    w = bytes(nibbles, q + i);
                    h = bytes(highBits, qh + i).lanewise(VectorOperators.LSHR, 2 * j);
                    lo = low(w, h).fma(FloatVector.fromArray(F, x, xb + i), lo);
                    hi = high(w, h).fma(FloatVector.fromArray(F, x, xb + 32 + i), hi);
                }
                acc = lo.fma(FloatVector.broadcast(F, ds * subScales[sub]), acc);
                acc = hi.fma(FloatVector.broadcast(F, ds * subScales[sub + 1] * 0x1p-4f), acc);
                mins += ms * subMins[sub] * x[sb] + ms * subMins[sub + 1] * x[sb + 1];
            }
        }
        acc.intoArray(lanes, 0);
        return Lanes.sum(lanes) - mins;
    }

    private static IntVector bytes(byte[] a, int index) {
        return (IntVector) ByteVector.fromArray(B, a, index).convertShape(VectorOperators.B2I, I, 0);
    }

    /** Levels 0..31 of the sub-block in the low nibbles (h already shifted down by 2j). */
    private static FloatVector low(IntVector w, IntVector h) {
        return (FloatVector) w.lanewise(VectorOperators.AND, 0xF)
                .or(h.lanewise(VectorOperators.LSHL, 4).lanewise(VectorOperators.AND, 0x10))
                .convert(VectorOperators.I2F, 0);
    }

    /** Levels of the sub-block in the high nibbles, times 16. */
    private static FloatVector high(IntVector w, IntVector h) {
        return (FloatVector) w.lanewise(VectorOperators.AND, 0xF0)
                .or(h.lanewise(VectorOperators.LSHL, 7).lanewise(VectorOperators.AND, 0x100))
                .convert(VectorOperators.I2F, 0);
    }

    /** Four tokens: each weight vector scaled once for all four (faster at T = 4 than dot1's order; not bit-identical to it). */
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
                int qhBase = 32 * s;
                for (int i = 0; i < 32; i += L) {
                    ByteVector v = ByteVector.fromArray(B, nibbles, q + i);
                    ByteVector h = ByteVector.fromArray(B, highBits, qhBase + i).lanewise(VectorOperators.LSHR, 2 * j);
                    ByteVector vl = v.and((byte) 0xF).or(h.and((byte) 1).lanewise(VectorOperators.LSHL, 4));
                    ByteVector vh = v.lanewise(VectorOperators.LSHR, 4).or(h.and((byte) 2).lanewise(VectorOperators.LSHL, 3));
                    FloatVector lo = ((FloatVector) vl.convertShape(VectorOperators.B2F, F, 0)).fma(d1, m1);
                    FloatVector hi = ((FloatVector) vh.convertShape(VectorOperators.B2F, F, 0)).fma(d2, m2);
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

    /** Without usable vectors (fewer than 8 float lanes): value by value, allocating nothing. */
    private float dotScalar(int r, float[] x, int xOff) {
        float sum = 0;
        for (int s = r * superPerRow, xb = xOff; s < (r + 1) * superPerRow; s++) {
            for (int j = 0; j < 4; j++, xb += 64) {
                float d1 = d[s] * subScales[8 * s + 2 * j];
                float m1 = dmin[s] * subMins[8 * s + 2 * j];
                float d2 = d[s] * subScales[8 * s + 2 * j + 1];
                float m2 = dmin[s] * subMins[8 * s + 2 * j + 1];
                for (int l = 0; l < 32; l++) {
                    int q = nibbles[128 * s + 32 * j + l] & 0xFF;
                    int h = (highBits[32 * s + l] & 0xFF) >>> (2 * j);
                    sum += (d1 * ((q & 0xF) | (h & 1) << 4) - m1) * x[xb + l];
                    sum += (d2 * ((q >>> 4) | (h & 2) << 3) - m2) * x[xb + 32 + l];
                }
            }
        }
        return sum;
    }
}
