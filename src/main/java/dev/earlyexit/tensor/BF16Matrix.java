package dev.earlyexit.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/** bfloat16 weights: half the bytes to read per token; widened to float32 in registers. */
public final class BF16Matrix extends Matrix {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Short> S =
            ShortVector.SPECIES_PREFERRED.withShape(VectorShape.forBitSize(F.vectorBitSize() / 2))
                    .check(short.class);
    private final short[] w;

    public BF16Matrix(short[] w, int rows, int cols) {
        super(rows, cols);
        if (w.length != (long) rows * cols) {
            throw new IllegalArgumentException("matrix data has " + w.length + " values, expected " + rows + "x" + cols);
        }
        this.w = w;
    }

    public static BF16Matrix fromFloats(float[] data, int rows, int cols) {
        short[] w = new short[data.length];
        for (int i = 0; i < data.length; i++) {
            w[i] = toBf16(data[i]);
        }
        return new BF16Matrix(w, rows, cols);
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

    @Override
    public DType dtype() {
        return DType.BF16;
    }

    @Override
    public long bytes() {
        return 2L * w.length;
    }

    @Override
    public void row(int r, float[] dst, int off) {
        int base = r * cols;
        for (int i = 0; i < cols; i++) {
            dst[off + i] = toFloat(w[base + i]);
        }
    }

    private FloatVector load(int index) {
        return ((IntVector) ShortVector.fromArray(S, w, index).convertShape(VectorOperators.S2I, I, 0))
                .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    @Override
    protected void multiplyRows(int rowStart, int rowEnd, float[] x, int T, float[] out, int outStride, int outOff) {
        int n = cols;
        int upper = F.loopBound(n);
        int step = F.length();
        int r = rowStart;
        for (; r + 2 <= rowEnd; r += 2) {
            int o0 = r * n;
            int o1 = o0 + n;
            for (int t = 0; t < T; t++) {
                int xOff = t * n;
                FloatVector a0 = FloatVector.zero(F);
                FloatVector a1 = FloatVector.zero(F);
                int i = 0;
                for (; i < upper; i += step) {
                    FloatVector xv = FloatVector.fromArray(F, x, xOff + i);
                    a0 = load(o0 + i).fma(xv, a0);
                    a1 = load(o1 + i).fma(xv, a1);
                }
                float s0 = a0.reduceLanes(VectorOperators.ADD);
                float s1 = a1.reduceLanes(VectorOperators.ADD);
                for (; i < n; i++) {
                    s0 += toFloat(w[o0 + i]) * x[xOff + i];
                    s1 += toFloat(w[o1 + i]) * x[xOff + i];
                }
                out[t * outStride + outOff + r] = s0;
                out[t * outStride + outOff + r + 1] = s1;
            }
        }
        for (; r < rowEnd; r++) {
            int o0 = r * n;
            for (int t = 0; t < T; t++) {
                int xOff = t * n;
                FloatVector a0 = FloatVector.zero(F);
                int i = 0;
                for (; i < upper; i += step) {
                    a0 = load(o0 + i).fma(FloatVector.fromArray(F, x, xOff + i), a0);
                }
                float s0 = a0.reduceLanes(VectorOperators.ADD);
                for (; i < n; i++) {
                    s0 += toFloat(w[o0 + i]) * x[xOff + i];
                }
                out[t * outStride + outOff + r] = s0;
            }
        }
    }
}
