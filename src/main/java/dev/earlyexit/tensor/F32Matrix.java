package dev.earlyexit.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** Float32 weights. Four rows at a time share each load of x; decode is bound by reading W. */
public final class F32Matrix extends Matrix {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private final float[] w;

    public F32Matrix(float[] w, int rows, int cols) {
        super(rows, cols);
        if (w.length != (long) rows * cols) {
            throw new IllegalArgumentException("matrix data has " + w.length + " values, expected " + rows + "x" + cols);
        }
        this.w = w;
    }

    public float[] data() {
        return w;
    }

    @Override
    public DType dtype() {
        return DType.F32;
    }

    @Override
    public long bytes() {
        return 4L * w.length;
    }

    @Override
    public void row(int r, float[] dst, int off) {
        System.arraycopy(w, r * cols, dst, off, cols);
    }

    @Override
    protected void multiplyRows(int rowStart, int rowEnd, float[] x, int T, float[] out, int outStride, int outOff) {
        int r = rowStart;
        for (; r + 4 <= rowEnd; r += 4) {
            for (int t = 0; t < T; t++) {
                dot4(r, x, t * cols, out, t * outStride + outOff + r);
            }
        }
        for (; r < rowEnd; r++) {
            for (int t = 0; t < T; t++) {
                out[t * outStride + outOff + r] = Kernels.dot(w, r * cols, x, t * cols, cols);
            }
        }
    }

    private void dot4(int r, float[] x, int xOff, float[] out, int outIndex) {
        int n = cols;
        int o0 = r * n;
        int o1 = o0 + n;
        int o2 = o1 + n;
        int o3 = o2 + n;
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector a2 = FloatVector.zero(F);
        FloatVector a3 = FloatVector.zero(F);
        int i = 0;
        int upper = F.loopBound(n);
        for (; i < upper; i += F.length()) {
            FloatVector xv = FloatVector.fromArray(F, x, xOff + i);
            a0 = FloatVector.fromArray(F, w, o0 + i).fma(xv, a0);
            a1 = FloatVector.fromArray(F, w, o1 + i).fma(xv, a1);
            a2 = FloatVector.fromArray(F, w, o2 + i).fma(xv, a2);
            a3 = FloatVector.fromArray(F, w, o3 + i).fma(xv, a3);
        }
        float s0 = a0.reduceLanes(VectorOperators.ADD);
        float s1 = a1.reduceLanes(VectorOperators.ADD);
        float s2 = a2.reduceLanes(VectorOperators.ADD);
        float s3 = a3.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            float xi = x[xOff + i];
            s0 += w[o0 + i] * xi;
            s1 += w[o1 + i] * xi;
            s2 += w[o2 + i] * xi;
            s3 += w[o3 + i] * xi;
        }
        out[outIndex] = s0;
        out[outIndex + 1] = s1;
        out[outIndex + 2] = s2;
        out[outIndex + 3] = s3;
    }
}
