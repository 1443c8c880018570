package dev.earlyexit.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * ggml's Q6_K kept as it is: super-blocks of 256 values in 16 groups of 16, each with a signed 8-bit
 * scale, under one f16 super-scale d; value = d*sc * (q - 32) with q a 6-bit level. A super-block is two
 * halves of 128 values; in half h, byte l (l &lt; 32) of its 64 low-nibble bytes holds values l (low
 * nibble) and l + 64 (high), byte l + 32 holds values l + 32 and l + 96, and its 32 high-bit bytes hold
 * the top two bits of those four values (bits 0-1, 2-3, 4-5, 6-7). So one vector of each widens to
 * four float vectors that line up with contiguous runs of x, 16 values under one scale.
 *
 * <p>Repacked at load, losslessly: low nibbles, high bits and scales of a row side by side (one bulk
 * copy each per super-block), d widened to float32 (6.625 bits a value instead of 6.5625). Rows read
 * bit for bit as ggml dequantizes them; the kernel multiplies the same float weights.
 */
public final class Q6KMatrix extends Matrix implements GgmlBlocks {
    static final int SUPER = 256;
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    /** Vector kernels need whole vectors within one 16-value group (AVX2: 8 lanes, AVX-512: 16). */
    private static final boolean VECTOR = L >= 8 && 16 % L == 0;
    private static final VectorSpecies<Byte> B = VECTOR
            ? VectorSpecies.of(byte.class, VectorShape.forBitSize(L * 8)) : ByteVector.SPECIES_64;
    private final byte[] low;
    private final byte[] high;
    private final byte[] scales;
    private final float[] d;
    private final int superPerRow;

    Q6KMatrix(byte[] low, byte[] high, byte[] scales, float[] d, int rows, int cols) {
        super(rows, cols);
        if (cols % SUPER != 0) {
            throw new IllegalArgumentException("q6_K needs a multiple of 256 columns, got " + cols);
        }
        this.low = low;
        this.high = high;
        this.scales = scales;
        this.d = d;
        this.superPerRow = cols / SUPER;
    }

    /** From ggml's encoding (210-byte super-blocks: ql[128], qh[64], scales[16], d; little-endian) at data's position. */
    public static Q6KMatrix fromGgml(ByteBuffer data, int rows, int cols) {
        GgmlType.Q6_K.bytesFor((long) rows * cols);
        Q6KMatrix m = new Q6KMatrix(rows, cols);
        m.fillBlocks(0, Math.multiplyExact(rows, cols) / SUPER, data.duplicate().order(ByteOrder.LITTLE_ENDIAN));
        return m;
    }

    /** An all-zero matrix to be filled with {@link #fillBlocks}. */
    Q6KMatrix(int rows, int cols) {
        this(new byte[Math.multiplyExact(Math.multiplyExact(rows, cols) / SUPER, 128)], new byte[Math.multiplyExact(rows, cols) / SUPER * 64],
                new byte[Math.multiplyExact(rows, cols) / SUPER * 16], new float[Math.multiplyExact(rows, cols) / SUPER], rows, cols);
    }

    @Override
    public GgmlType encoding() {
        return GgmlType.Q6_K;
    }

    @Override
    public void fillBlocks(int firstBlock, int count, ByteBuffer b) {
        int p = b.position();
        for (int s = firstBlock; s < firstBlock + count; s++, p += 210) {
            b.get(p, low, 128 * s, 128);
            b.get(p + 128, high, 64 * s, 64);
            b.get(p + 192, scales, 16 * s, 16);
            d[s] = Half.toFloat(b.getShort(p + 208) & 0xFFFF);
        }
        b.position(p);
    }

    @Override
    protected int tiledFromTokens() {
        return TILED_MIN_T;
    }

    @Override
    public DType dtype() {
        return DType.Q6_K;
    }

    @Override
    public long bytes() {
        return low.length + high.length + scales.length + 4L * d.length;
    }

    /** The level (0..63) of value k (0..255) of super-block s. */
    private int level(int s, int k) {
        int h = k >>> 7;
        int v = k & 127;
        int l = v & 31;
        int quarter = v >>> 5; // 0: low nibble of byte l, 1: of byte l + 32, 2, 3: their high nibbles
        int lo = low[128 * s + 64 * h + l + 32 * (quarter & 1)] & 0xFF;
        int nib = quarter < 2 ? lo & 0xF : lo >>> 4;
        int hb = ((high[64 * s + 32 * h + l] & 0xFF) >>> (2 * quarter)) & 3;
        return nib | hb << 4;
    }

    @Override
    public void row(int r, float[] dst, int off) {
        if (VECTOR) {
            vectorRow(r, dst, off);
            return;
        }
        for (int s = r * superPerRow, y = off; s < (r + 1) * superPerRow; s++, y += SUPER) {
            for (int k = 0; k < SUPER; k++) {
                // (d * sc) * (q - 32), as ggml's dequantization computes it
                dst[y + k] = d[s] * scales[16 * s + k / 16] * (level(s, k) - 32);
            }
        }
    }

    /**
     * {@link #row} with dot1's vector widening (the tiled product widens every weight of a prefill once
     * through here): the same (d * sc) * (q - 32) per value, so the same bits as the scalar loop.
     * The widening is written out in each kernel here rather than called: as a helper returning a vector,
     * C2 at times declined to inline it (after compiling the helper on its own) and then allocated every
     * vector it returned (KQuantMatrixTest's allocation check failed so in a full CI run).
     */
    private void vectorRow(int r, float[] dst, int off) {
        for (int s = r * superPerRow, y = off; s < (r + 1) * superPerRow; s++) {
            float ds = d[s];
            for (int h = 0; h < 2; h++, y += 128) {
                int ql = 128 * s + 64 * h;
                int qh = 64 * s + 32 * h;
                int sc = 16 * s + 8 * h;
                for (int i = 0; i < 32; i += L) {
                    int g = sc + i / 16;
                    ByteVector va = ByteVector.fromArray(B, low, ql + i);
                    ByteVector vb = ByteVector.fromArray(B, low, ql + 32 + i);
                    ByteVector vh = ByteVector.fromArray(B, high, qh + i);
                    // levels 0..63 (a low nibble | two high bits << 4) of the four quarters
                    ByteVector q1 = va.and((byte) 0xF).or(vh.and((byte) 3).lanewise(VectorOperators.LSHL, 4));
                    ByteVector q2 = vb.and((byte) 0xF).or(vh.lanewise(VectorOperators.LSHL, 2).and((byte) 0x30));
                    ByteVector q3 = va.lanewise(VectorOperators.LSHR, 4).or(vh.and((byte) 0x30));
                    ByteVector q4 = vb.lanewise(VectorOperators.LSHR, 4).or(vh.lanewise(VectorOperators.LSHR, 2).and((byte) 0x30));
                    ((FloatVector) q1.sub((byte) 32).convertShape(VectorOperators.B2F, F, 0)).mul(ds * scales[g])
                            .intoArray(dst, y + i);
                    ((FloatVector) q2.sub((byte) 32).convertShape(VectorOperators.B2F, F, 0)).mul(ds * scales[g + 2])
                            .intoArray(dst, y + 32 + i);
                    ((FloatVector) q3.sub((byte) 32).convertShape(VectorOperators.B2F, F, 0)).mul(ds * scales[g + 4])
                            .intoArray(dst, y + 64 + i);
                    ((FloatVector) q4.sub((byte) 32).convertShape(VectorOperators.B2F, F, 0)).mul(ds * scales[g + 6])
                            .intoArray(dst, y + 96 + i);
                }
            }
        }
    }

    @Override
    protected void multiplyRows(int rowStart, int rowEnd, float[] x, int T, float[] out, int outStride, int outOff) {
        float[] lanes = Lanes.floats();
        for (int r = rowStart; r < rowEnd; r++) {
            int t = 0;
            if (VECTOR) {
                for (; t + 4 <= T; t += 4) {
                    dot4(r, x, t * cols, out, t * outStride + outOff + r, outStride, lanes);
                }
            }
            for (; t < T; t++) {
                out[t * outStride + outOff + r] = VECTOR ? dot1(r, x, t * cols, lanes) : dotScalar(r, x, t * cols);
            }
        }
    }

    private float dot1(int r, float[] x, int xOff, float[] lanes) {
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector a2 = FloatVector.zero(F);
        FloatVector a3 = FloatVector.zero(F);
        for (int s = r * superPerRow, xb = xOff; s < (r + 1) * superPerRow; s++) {
            float ds = d[s];
            for (int h = 0; h < 2; h++, xb += 128) {
                int ql = 128 * s + 64 * h;
                int qh = 64 * s + 32 * h;
                int sc = 16 * s + 8 * h;
                for (int i = 0; i < 32; i += L) {
                    int g = sc + i / 16;
                    ByteVector va = ByteVector.fromArray(B, low, ql + i);
                    ByteVector vb = ByteVector.fromArray(B, low, ql + 32 + i);
                    ByteVector vh = ByteVector.fromArray(B, high, qh + i);
                    // levels 0..63 (a low nibble | two high bits << 4) of the four quarters
                    ByteVector q1 = va.and((byte) 0xF).or(vh.and((byte) 3).lanewise(VectorOperators.LSHL, 4));
                    ByteVector q2 = vb.and((byte) 0xF).or(vh.lanewise(VectorOperators.LSHL, 2).and((byte) 0x30));
                    ByteVector q3 = va.lanewise(VectorOperators.LSHR, 4).or(vh.and((byte) 0x30));
                    ByteVector q4 = vb.lanewise(VectorOperators.LSHR, 4).or(vh.lanewise(VectorOperators.LSHR, 2).and((byte) 0x30));
                    FloatVector w1 = ((FloatVector) q1.sub((byte) 32).convertShape(VectorOperators.B2F, F, 0)).mul(ds * scales[g]);
                    FloatVector w2 = ((FloatVector) q2.sub((byte) 32).convertShape(VectorOperators.B2F, F, 0)).mul(ds * scales[g + 2]);
                    FloatVector w3 = ((FloatVector) q3.sub((byte) 32).convertShape(VectorOperators.B2F, F, 0)).mul(ds * scales[g + 4]);
                    FloatVector w4 = ((FloatVector) q4.sub((byte) 32).convertShape(VectorOperators.B2F, F, 0)).mul(ds * scales[g + 6]);
                    a0 = w1.fma(FloatVector.fromArray(F, x, xb + i), a0);
                    a1 = w2.fma(FloatVector.fromArray(F, x, xb + 32 + i), a1);
                    a2 = w3.fma(FloatVector.fromArray(F, x, xb + 64 + i), a2);
                    a3 = w4.fma(FloatVector.fromArray(F, x, xb + 96 + i), a3);
                }
            }
        }
        a0.add(a1).add(a2.add(a3)).intoArray(lanes, 0);
        return Lanes.sum(lanes);
    }

    private void dot4(int r, float[] x, int xOff, float[] out, int outIndex, int outStride, float[] lanes) {
        int n = cols;
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector a2 = FloatVector.zero(F);
        FloatVector a3 = FloatVector.zero(F);
        for (int s = r * superPerRow, xb = xOff; s < (r + 1) * superPerRow; s++) {
            float ds = d[s];
            for (int h = 0; h < 2; h++, xb += 128) {
                int ql = 128 * s + 64 * h;
                int qh = 64 * s + 32 * h;
                int sc = 16 * s + 8 * h;
                for (int i = 0; i < 32; i += L) {
                    int g = sc + i / 16;
                    ByteVector va = ByteVector.fromArray(B, low, ql + i);
                    ByteVector vb = ByteVector.fromArray(B, low, ql + 32 + i);
                    ByteVector vh = ByteVector.fromArray(B, high, qh + i);
                    // each decoded weight vector goes into all four rows' sums before the next is made (as a
                    // loop over the quarters: written out, the method grows past what C2 compiles without
                    // boxing vectors)
                    for (int quarter = 0; quarter < 4; quarter++) {
                        ByteVector q = switch (quarter) {
                            case 0 -> va.and((byte) 0xF).or(vh.and((byte) 3).lanewise(VectorOperators.LSHL, 4));
                            case 1 -> vb.and((byte) 0xF).or(vh.lanewise(VectorOperators.LSHL, 2).and((byte) 0x30));
                            case 2 -> va.lanewise(VectorOperators.LSHR, 4).or(vh.and((byte) 0x30));
                            default -> vb.lanewise(VectorOperators.LSHR, 4).or(vh.lanewise(VectorOperators.LSHR, 2).and((byte) 0x30));
                        };
                        FloatVector w = ((FloatVector) q.sub((byte) 32).convertShape(VectorOperators.B2F, F, 0)).mul(ds * scales[g + 2 * quarter]);
                        int xi = xb + 32 * quarter + i;
                        a0 = w.fma(FloatVector.fromArray(F, x, xi), a0);
                        a1 = w.fma(FloatVector.fromArray(F, x, xi + n), a1);
                        a2 = w.fma(FloatVector.fromArray(F, x, xi + 2 * n), a2);
                        a3 = w.fma(FloatVector.fromArray(F, x, xi + 3 * n), a3);
                    }
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
        for (int s = r * superPerRow, xb = xOff; s < (r + 1) * superPerRow; s++, xb += SUPER) {
            for (int k = 0; k < SUPER; k++) {
                sum += d[s] * scales[16 * s + k / 16] * (level(s, k) - 32) * x[xb + k];
            }
        }
        return sum;
    }
}
