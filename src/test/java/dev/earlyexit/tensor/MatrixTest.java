package dev.earlyexit.tensor;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

class MatrixTest {

    /** Every storage type against a double-precision product of the weights it actually stores. */
    @Property(tries = 60)
    void matmulMatchesNaiveProduct(@ForAll @IntRange(min = 1, max = 41) int rows,
                                   @ForAll @IntRange(min = 1, max = 300) int cols,
                                   @ForAll @IntRange(min = 1, max = 5) int T,
                                   @ForAll @IntRange(min = 1, max = 3) int threads) {
        Random r = new Random(rows * 1000L + cols * 10L + T);
        float[] w = gaussian(r, rows * cols);
        float[] x = gaussian(r, T * cols);
        try (ThreadPool pool = new ThreadPool(threads)) {
            for (DType dtype : DType.values()) {
                Matrix m = Matrix.of(dtype, w.clone(), rows, cols);
                float[] stored = new float[rows * cols];
                for (int i = 0; i < rows; i++) {
                    m.row(i, stored, i * cols);
                }
                float[] out = new float[T * rows];
                m.matmul(x, T, out, pool);
                // a Q4_0 product multiplies llama.cpp's rounding of the activations (see Q40Matrix.input)
                float[] xr = m.dtype() == DType.Q4_0 ? KQuantMatrixTest.roundedAsLlamaCppDoes(x, T * cols) : x;
                for (int t = 0; t < T; t++) {
                    for (int i = 0; i < rows; i++) {
                        double expected = 0;
                        double scale = 0;
                        for (int j = 0; j < cols; j++) {
                            expected += (double) stored[i * cols + j] * xr[t * cols + j];
                            scale += Math.abs((double) stored[i * cols + j] * xr[t * cols + j]);
                        }
                        assertThat((double) out[t * rows + i]).as("%s [%d,%d]", dtype, t, i)
                                .isCloseTo(expected, org.assertj.core.data.Offset.offset(1e-5 * scale + 1e-6));
                    }
                }
            }
        }
    }

    @Test
    void reducedPrecisionStaysCloseToFloat32() {
        Random r = new Random(7);
        int rows = 64;
        int cols = 288;
        float[] w = gaussian(r, rows * cols);
        float[] back = new float[cols];
        for (DType dtype : new DType[] {DType.BF16, DType.Q8}) {
            Matrix m = Matrix.of(dtype, w, rows, cols);
            double maxRel = 0;
            for (int i = 0; i < rows; i++) {
                m.row(i, back, 0);
                float amax = 0;
                for (int j = 0; j < cols; j++) {
                    amax = Math.max(amax, Math.abs(w[i * cols + j]));
                }
                for (int j = 0; j < cols; j++) {
                    maxRel = Math.max(maxRel, Math.abs(back[j] - w[i * cols + j]) / amax);
                }
            }
            // bf16 keeps 8 significant bits; q8 half a step (1/254 of each group's largest value) plus its
            // half-precision scale's rounding (2^-11 of it, times at most 127 steps).
            assertThat(maxRel).as("%s max error relative to row max", dtype)
                    .isLessThan(dtype == DType.BF16 ? 4e-3 : 1.0 / 254 + 1.0 / 2048 + 1e-6);
        }
    }

    @Test
    void bf16RoundsToNearestEven() {
        assertThat(BF16Matrix.toFloat(BF16Matrix.toBf16(1.0f))).isEqualTo(1.0f);
        // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1.0).
        assertThat(BF16Matrix.toFloat(BF16Matrix.toBf16(1.0f + 0x1p-8f))).isEqualTo(1.0f);
        assertThat(BF16Matrix.toFloat(BF16Matrix.toBf16(1.0f + 0x1p-8f + 0x1p-20f))).isEqualTo(1.0f + 0x1p-7f);
        assertThat(BF16Matrix.toFloat(BF16Matrix.toBf16(Float.NaN))).isNaN();
    }

    @Test
    void resultsDoNotDependOnThreadCount() {
        Random r = new Random(3);
        int rows = 1000;
        int cols = 288;
        float[] w = gaussian(r, rows * cols);
        float[] x = gaussian(r, 3 * cols);
        for (DType dtype : DType.values()) {
            Matrix m = Matrix.of(dtype, w, rows, cols);
            float[] one = new float[3 * rows];
            float[] many = new float[3 * rows];
            try (ThreadPool p1 = new ThreadPool(1); ThreadPool p3 = new ThreadPool(3)) {
                m.matmul(x, 3, one, p1);
                m.matmul(x, 3, many, p3);
            }
            assertThat(many).isEqualTo(one);
        }
    }

    /** A matrix placed behind padding in a larger array computes exactly what the bare array does. */
    @Property(tries = 30)
    void storageOffsetDoesNotChangeResults(@ForAll @IntRange(min = 1, max = 40) int rows,
                                           @ForAll @IntRange(min = 1, max = 300) int cols,
                                           @ForAll @IntRange(min = 0, max = 17) int offset,
                                           @ForAll @IntRange(min = 1, max = 3) int T) {
        Random r = new Random(rows * 7919L + cols * 31L + offset);
        float[] w = gaussian(r, rows * cols);
        float[] padded = new float[offset + rows * cols + 5];
        java.util.Arrays.fill(padded, Float.NaN); // any read outside the matrix would poison the result
        System.arraycopy(w, 0, padded, offset, w.length);
        F32Matrix bare = new F32Matrix(w, rows, cols);
        F32Matrix shifted = new F32Matrix(padded, offset, rows, cols);
        float[] x = gaussian(r, T * cols);
        float[] expected = new float[T * rows];
        float[] actual = new float[T * rows];
        try (ThreadPool pool = new ThreadPool(2)) {
            bare.matmul(x, T, expected, pool);
            shifted.matmul(x, T, actual, pool);
        }
        assertThat(actual).isEqualTo(expected);
        assertThat(shifted.toArray()).isEqualTo(w);
        float[] row = new float[cols];
        shifted.row(rows - 1, row, 0);
        assertThat(row).isEqualTo(java.util.Arrays.copyOfRange(w, (rows - 1) * cols, rows * cols));
    }

    /** The test JVM runs with the launcher's -XX:ObjectAlignmentInBytes=64, so loaded weights get padded. */
    @Test
    void weightsAreLaidOutOnCacheLinesUnderTheLaunchersFlags() throws Exception {
        var vm = java.lang.management.ManagementFactory.getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class);
        org.junit.jupiter.api.Assumptions.assumeTrue("64".equals(vm.getVMOption("ObjectAlignmentInBytes").getValue()),
                "needs -XX:ObjectAlignmentInBytes=64 (surefire's argLine sets it)");
        int pad = CacheLines.padElements(Float.BYTES);
        // 16 bytes of array header (12 with compact object headers) plus the padding fill one line.
        assertThat(4 * pad + 16 == 64 || 4 * pad + 12 == 64).as("pad %d floats", pad).isTrue();
        Matrix loaded = Matrix.load(DType.F32, 3, 4, (first, count, dst, off) -> {
            for (int i = 0; i < count * 4; i++) {
                dst[off + i] = first * 4 + i;
            }
        });
        assertThat(((F32Matrix) loaded).offset()).isEqualTo(pad);
        assertThat(((F32Matrix) loaded).toArray()).containsExactly(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11);
        assertThat(((F32Matrix) Matrix.of(DType.F32, new float[] {1, 2}, 1, 2)).offset()).isEqualTo(pad);
    }

    static float[] gaussian(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) r.nextGaussian();
        }
        return a;
    }

    /**
     * float32, bf16, Q8 and Q4_0 rows of a short block (below the tiled product) are bit for bit what each token
     * gets alone, whichever kernel the block length picks: a batch of sequences (the server) and DSSD's
     * verification rely on it.
     */
    @Property(tries = 20)
    void aShortBlocksRowsAreBitForBitLoneTokens(@ForAll @IntRange(min = 2, max = 17) int T,
                                               @ForAll @IntRange(min = 1, max = 3) int width) {
        int rows = 37;
        int cols = 256 * width;
        Random r = new Random(T * 31L + width);
        float[] w = new float[rows * cols];
        float[] x = new float[T * cols];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) r.nextGaussian();
        }
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        try (ThreadPool pool = new ThreadPool(2)) {
            java.util.List<Matrix> kinds = new java.util.ArrayList<>(java.util.List.of(new F32Matrix(w, rows, cols),
                    BF16Matrix.fromFloats(w, rows, cols), Q8Matrix.fromFloats(w, rows, cols)));
            for (GgmlType t : new GgmlType[] {GgmlType.Q4_0}) {
                if (cols % t.blockSize() == 0) {
                    kinds.add(GgmlMatrices.of(t, java.nio.ByteBuffer.wrap(GgmlMatrices.quantize(t, w, 0, rows, cols)),
                            rows, cols));
                }
            }
            for (Matrix m : kinds) {
                float[] block = new float[T * rows];
                m.matmul(x, T, block, pool);
                float[] lone = new float[rows];
                for (int t = 0; t < T; t++) {
                    m.matmul(java.util.Arrays.copyOfRange(x, t * cols, (t + 1) * cols), 1, lone, pool);
                    assertThat(java.util.Arrays.copyOfRange(block, t * rows, (t + 1) * rows))
                            .as("%s, token %d of %d", m.getClass().getSimpleName(), t, T).containsExactly(lone);
                }
            }
        }
    }
}
