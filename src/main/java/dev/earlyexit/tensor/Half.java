package dev.earlyexit.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/** IEEE 754 half precision to and from float32 (Java 17 has no Float.float16ToFloat). */
public final class Half {
    private Half() {
    }

    /** Exact widening of the 16 bits {@code h} (low bits of the int). */
    public static float toFloat(int h) {
        int sign = (h & 0x8000) << 16;
        int exp = (h >>> 10) & 0x1F;
        int mant = h & 0x3FF;
        if (exp == 0x1F) {
            return Float.intBitsToFloat(sign | 0x7F800000 | mant << 13); // inf, NaN (payload kept)
        }
        if (exp == 0) {
            // zero or subnormal: mant * 2^-24, exact in float32
            float v = mant * 0x1p-24f;
            return sign == 0 ? v : -v;
        }
        return Float.intBitsToFloat(sign | (exp + 112) << 23 | mant << 13);
    }

    /** Every half's float32 value, indexed by its 16 bits: one load per block scale in the kernels. */
    private static final float[] FLOATS = new float[1 << 16];

    static {
        for (int h = 0; h < FLOATS.length; h++) {
            FLOATS[h] = toFloat(h);
        }
    }

    /** {@link #toFloat} of a half's bits held in a short, by table. */
    public static float widen(short h) {
        return FLOATS[h & 0xFFFF];
    }

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(F.vectorBitSize() / 2));
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());

    /**
     * dst[dstOff + i] = {@link #finiteToFloat}(src[srcOff + i]) for i in [0, n), a vector of halves at a time:
     * the kernels widen a row's block scales here once per row, since scalar work per 32-weight block is
     * as dear as the block's own two or four vector steps.
     */
    public static void widenFinite(short[] src, int srcOff, float[] dst, int dstOff, int n) {
        int i = 0;
        for (int step = F.length(); i + step <= n; i += step) {
            IntVector h = (IntVector) ShortVector.fromArray(S, src, srcOff + i).convertShape(VectorOperators.S2I, I, 0);
            h.and(0x8000).lanewise(VectorOperators.LSHL, 16)
                    .or(h.and(0x7FFF).lanewise(VectorOperators.LSHL, 13))
                    .reinterpretAsFloats().mul(0x1p112f).intoArray(dst, dstOff + i);
        }
        for (; i < n; i++) {
            dst[dstOff + i] = finiteToFloat(src[srcOff + i]);
        }
    }

    /**
     * The widening of {@link #toFloat} for finite halves (zero and subnormals included) in four branch-free
     * operations, for kernels that widen a block scale per block: the exponent is rebiased by one exact
     * multiplication by 2^112. Infinities and NaN come out as finite values near 2^16 (a weight file
     * with such a scale is unusable anyway).
     */
    public static float finiteToFloat(short h) {
        return Float.intBitsToFloat((h & 0x8000) << 16 | (h & 0x7FFF) << 13) * 0x1p112f;
    }

    /** Rounds to the nearest half, ties to even (as numpy and ggml's GGML_FP32_TO_FP16 do). */
    public static short fromFloat(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = (bits >>> 16) & 0x8000;
        int abs = bits & 0x7FFFFFFF;
        if (abs >= 0x7F800000) {
            return (short) (sign | 0x7C00 | (abs > 0x7F800000 ? 0x200 | (abs >>> 13) & 0x3FF : 0));
        }
        if (abs >= 0x477FF000) { // rounds to >= 65520: overflow to infinity
            return (short) (sign | 0x7C00);
        }
        if (abs < 0x38800000) { // below the smallest normal half: a multiple of 2^-24, rounded to even
            int m = (int) Math.rint(Float.intBitsToFloat(abs) * 0x1p24f);
            return (short) (sign | m);
        }
        int e = (abs >>> 23) - 112;
        int mant = abs & 0x7FFFFF;
        int h = e << 10 | mant >>> 13;
        int rest = mant & 0x1FFF;
        if (rest > 0x1000 || (rest == 0x1000 && (h & 1) == 1)) {
            h++; // may carry into the exponent, which is still the right result
        }
        return (short) (sign | h);
    }
}
