package dev.earlyexit.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * bfloat16 weights: half the bytes of float32 to read per token.
 *
 * <p>Layout: two bf16 values per int. Each row is cut into blocks of 2·L values (L = float lanes);
 * int j of a block holds value j in its low half and value L + j in its high half. One int-vector
 * load then widens to two float vectors with a shift and a mask (no lane shuffles or narrowing
 * conversions, which the Vector API compiles poorly on some JDKs), and both line up with contiguous
 * runs of x. Rows are padded to a whole number of ints.
 */
public final class BF16Matrix extends Matrix implements Matrix.RowSink, GgmlBlocks {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    private static final int BLOCK = 2 * L;
    // A scalar operand, not a mask vector held across the loop: such a vector is not scalar-replaced
    // by C2 on JDK 17 and would cost an allocation per call.
    private static final int HIGH_HALF = 0xFFFF0000;
    private final int[] packed;
    private final int intsPerRow;

    private BF16Matrix(int[] packed, int rows, int cols) {
        super(rows, cols);
        this.packed = packed;
        this.intsPerRow = (cols + 1) / 2;
    }

    /** An all-zero matrix to be filled with {@link #fillRows}. */
    BF16Matrix(int rows, int cols) {
        this(new int[Math.multiplyExact(rows, (cols + 1) / 2)], rows, cols);
    }

    public static BF16Matrix fromFloats(float[] data, int rows, int cols) {
        if (data.length != (long) rows * cols) {
            throw new IllegalArgumentException("matrix data has " + data.length + " values, expected " + rows + "x" + cols);
        }
        BF16Matrix m = new BF16Matrix(rows, cols);
        m.fillRows(0, rows, data, 0);
        return m;
    }

    @Override
    public void fillRows(int firstRow, int count, float[] src, int srcOff) {
        for (int r = 0; r < count; r++) {
            int base = (firstRow + r) * intsPerRow;
            for (int i = 0; i < cols; i++) {
                int index = base + intIndex(i, cols);
                int bits = toBf16(src[srcOff + r * cols + i]) & 0xFFFF;
                packed[index] = isHigh(i, cols) ? (packed[index] & 0xFFFF) | bits << 16 : (packed[index] & 0xFFFF0000) | bits;
            }
        }
    }

    @Override
    public GgmlType encoding() {
        return GgmlType.BF16;
    }

    /**
     * Whole rows of a GGUF BF16 tensor (its "blocks" are single values), copied bit for bit into the
     * interleaved layout: a GGUF BF16 file loads without a float32 detour.
     */
    @Override
    public void fillBlocks(int firstBlock, int count, java.nio.ByteBuffer src) {
        if (firstBlock % cols != 0 || count % cols != 0) {
            throw new IllegalArgumentException("bf16 values are filled a whole row at a time");
        }
        short[] row = new short[cols];
        java.nio.ShortBuffer values = src.slice().order(java.nio.ByteOrder.LITTLE_ENDIAN).asShortBuffer();
        int fullBlocks = cols / BLOCK;
        for (int r = firstBlock / cols, end = r + count / cols; r < end; r++) {
            values.get(row);
            int base = r * intsPerRow;
            for (int b = 0; b < fullBlocks; b++) {
                for (int j = 0; j < L; j++) {
                    packed[base + b * L + j] = (row[b * BLOCK + j] & 0xFFFF) | row[b * BLOCK + L + j] << 16;
                }
            }
            for (int i = fullBlocks * BLOCK, at = base + fullBlocks * L; i < cols; i += 2, at++) {
                packed[at] = (row[i] & 0xFFFF) | (i + 1 < cols ? row[i + 1] << 16 : 0);
            }
        }
        src.position(src.position() + 2 * count);
    }

    /** Full blocks use the interleaved layout; the tail of a row pairs neighbours (i, i+1). */
    private static int intIndex(int i, int cols) {
        int fullBlocks = cols / BLOCK;
        if (i < fullBlocks * BLOCK) {
            return (i / BLOCK) * L + (i % BLOCK) % L;
        }
        return fullBlocks * L + (i - fullBlocks * BLOCK) / 2;
    }

    private static boolean isHigh(int i, int cols) {
        int fullBlocks = cols / BLOCK;
        if (i < fullBlocks * BLOCK) {
            return (i % BLOCK) >= L;
        }
        return ((i - fullBlocks * BLOCK) & 1) == 1;
    }

    /** Round-to-nearest-even float32 to bfloat16, as torch does; NaN stays NaN. */
    public static short toBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) {
            return (short) ((bits >>> 16) | 0x40);
        }
        int rounding = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }

    public static float toFloat(short bf16) {
        return Float.intBitsToFloat((bf16 & 0xFFFF) << 16);
    }

    private float value(int r, int i) {
        int v = packed[r * intsPerRow + intIndex(i, cols)];
        return Float.intBitsToFloat(isHigh(i, cols) ? v & 0xFFFF0000 : v << 16);
    }

    @Override
    public DType dtype() {
        return DType.BF16;
    }

    @Override
    public long bytes() {
        return 4L * packed.length;
    }

    @Override
    public void row(int r, float[] dst, int off) {
        for (int i = 0; i < cols; i++) {
            dst[off + i] = value(r, i);
        }
    }

    @Override
    protected void multiplyRows(int rowStart, int rowEnd, float[] x, int T, float[] out, int outStride, int outOff) {
        float[] lanes = Lanes.floats();
        int n = cols;
        int fullBlocks = n / BLOCK;
        int r = rowStart;
        for (; r + 2 <= rowEnd; r += 2) {
            int p0 = r * intsPerRow;
            int p1 = p0 + intsPerRow;
            for (int t = 0; t < T; t++) {
                int xOff = t * n;
                FloatVector a0 = FloatVector.zero(F);
                FloatVector a1 = FloatVector.zero(F);
                for (int b = 0; b < fullBlocks; b++) {
                    FloatVector xl = FloatVector.fromArray(F, x, xOff + b * BLOCK);
                    FloatVector xh = FloatVector.fromArray(F, x, xOff + b * BLOCK + L);
                    IntVector v0 = IntVector.fromArray(I, packed, p0 + b * L);
                    IntVector v1 = IntVector.fromArray(I, packed, p1 + b * L);
                    a0 = v0.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(xl, a0);
                    a0 = v0.lanewise(VectorOperators.AND, HIGH_HALF).reinterpretAsFloats().fma(xh, a0);
                    a1 = v1.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(xl, a1);
                    a1 = v1.lanewise(VectorOperators.AND, HIGH_HALF).reinterpretAsFloats().fma(xh, a1);
                }
                a0.intoArray(lanes, 0);
                float s0 = Lanes.sum(lanes);
                a1.intoArray(lanes, 0);
                float s1 = Lanes.sum(lanes);
                for (int i = fullBlocks * BLOCK; i < n; i++) {
                    s0 += value(r, i) * x[xOff + i];
                    s1 += value(r + 1, i) * x[xOff + i];
                }
                out[t * outStride + outOff + r] = s0;
                out[t * outStride + outOff + r + 1] = s1;
            }
        }
        for (; r < rowEnd; r++) {
            int p0 = r * intsPerRow;
            for (int t = 0; t < T; t++) {
                int xOff = t * n;
                FloatVector a0 = FloatVector.zero(F);
                for (int b = 0; b < fullBlocks; b++) {
                    IntVector v0 = IntVector.fromArray(I, packed, p0 + b * L);
                    a0 = v0.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats()
                            .fma(FloatVector.fromArray(F, x, xOff + b * BLOCK), a0);
                    a0 = v0.lanewise(VectorOperators.AND, HIGH_HALF).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xOff + b * BLOCK + L), a0);
                }
                a0.intoArray(lanes, 0);
                float s0 = Lanes.sum(lanes);
                for (int i = fullBlocks * BLOCK; i < n; i++) {
                    s0 += value(r, i) * x[xOff + i];
                }
                out[t * outStride + outOff + r] = s0;
            }
        }
    }
}
