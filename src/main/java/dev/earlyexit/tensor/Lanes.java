package dev.earlyexit.tensor;

import jdk.incubator.vector.FloatVector;

/**
 * Sums of a vector's lanes in one fixed order, lane 0 first, in place of {@code reduceLanes(ADD)}.
 *
 * <p>Why: the Vector API leaves the order of a float reduction to the implementation, and JDK 25's
 * compiled code adds in another order than its interpreter and C1 do, so a kernel's bits depended on
 * whether the JIT had compiled it yet (a block row differed from the same lone token; runs of one seed
 * differed). Java 17 adds in lane order in every tier, so these sums keep its results bit for bit and
 * make every JDK give them.
 *
 * <p>How: the call site stores the vector into its thread's scratch ({@code v.intoArray(lanes, 0)}) and
 * sums the scratch here. A helper taking the vector itself would box it wherever C2 declines to inline
 * it, as it does in the large kernels (its inlining node budget runs out). Kernels take the scratch once
 * per call ({@link #floats()}) and pass it down.
 */
public final class Lanes {
    static final int FLOATS = FloatVector.SPECIES_PREFERRED.length();

    private static final ThreadLocal<float[]> FLOAT_SCRATCH = ThreadLocal.withInitial(() -> new float[8 * FLOATS]);

    private Lanes() {
    }

    /** This thread's scratch for up to eight FloatVectors of the preferred species. */
    public static float[] floats() {
        return FLOAT_SCRATCH.get();
    }

    /** lanes[0] + lanes[1] + ... in that order, over one preferred-species FloatVector's lanes. */
    public static float sum(float[] lanes) {
        float s = lanes[0];
        for (int i = 1; i < FLOATS; i++) {
            s += lanes[i];
        }
        return s;
    }

    /**
     * out[at + j*stride] = {@link #sum} of vector j, for the count vectors stored one after another in
     * lanes (vector j from j * its length): a kernel's accumulators, summed each in lane order.
     */
    public static void sums(float[] lanes, int count, float[] out, int at, int stride) {
        sumsFrom(lanes, 0, count, out, at, stride);
    }

    /** {@link #sums} of the count vectors from vector first on. */
    public static void sumsFrom(float[] lanes, int first, int count, float[] out, int at, int stride) {
        for (int j = 0; j < count; j++) {
            int o = (first + j) * FLOATS;
            float s = lanes[o];
            for (int i = 1; i < FLOATS; i++) {
                s += lanes[o + i];
            }
            out[at + j * stride] = s;
        }
    }
}
