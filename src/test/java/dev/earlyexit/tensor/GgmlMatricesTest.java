package dev.earlyexit.tensor;

import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

class GgmlMatricesTest {

    /** Quantized storage kept in its own encoding: rows equal ggml's dequantization, products the float reference. */
    @Test
    void kernelsMatchFloatReferenceOfTheSameWeights() {
        Random r = new Random(3);
        for (GgmlType type : new GgmlType[] {GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K}) {
            for (int rows : new int[] {1, 3, 13, 70}) { // 70: several tiles of the tiled product
                for (int cols : new int[] {256, 768}) {
                    float[] w = gaussian(r, rows * cols);
                    byte[] enc = GgmlMatrices.quantize(type, w, 0, rows, cols);
                    float[] deq = new float[rows * cols];
                    GgmlDequant.dequantize(type, ByteBuffer.wrap(enc), deq, 0, deq.length);
                    Matrix m = GgmlMatrices.of(type, ByteBuffer.wrap(enc), rows, cols);
                    assertThat(m.dtype()).isEqualTo(GgmlMatrices.kernelTypeFor(type));
                    float[] row = new float[cols];
                    for (int i = 0; i < rows; i++) {
                        m.row(i, row, 0);
                        for (int j = 0; j < cols; j++) {
                            assertThat(row[j]).as("%s row %d col %d", type, i, j).isEqualTo(deq[i * cols + j]);
                        }
                    }
                    for (int T : new int[] {1, 3, 8, Matrix.TILED_MIN_T + 3}) {
                        for (int threads : new int[] {1, 2, 3}) {
                            checkProduct(type + " " + rows + "x" + cols + " T=" + T + " threads=" + threads, m, deq, r, T, threads);
                        }
                    }
                }
            }
        }
    }

    /** BF16 rows go into the interleaved layout bit for bit, a row's tail (odd widths) included. */
    @Test
    void bf16LoadsAsItIsInEveryRowWidth() {
        Random r = new Random(5);
        for (int cols : new int[] {1, 7, 37, 256, 299}) {
            int rows = 5;
            float[] w = gaussian(r, rows * cols);
            byte[] enc = GgmlMatrices.quantize(GgmlType.BF16, w, 0, rows, cols);
            float[] deq = new float[rows * cols];
            GgmlDequant.dequantize(GgmlType.BF16, ByteBuffer.wrap(enc), deq, 0, deq.length);
            Matrix m = GgmlMatrices.of(GgmlType.BF16, ByteBuffer.wrap(enc), rows, cols);
            assertThat(m.dtype()).isEqualTo(DType.BF16);
            Matrix viaFloats = BF16Matrix.fromFloats(deq, rows, cols);
            float[] row = new float[cols];
            float[] want = new float[cols];
            for (int i = 0; i < rows; i++) {
                m.row(i, row, 0);
                viaFloats.row(i, want, 0);
                assertThat(row).as("bf16 %dx%d row %d", rows, cols, i).containsExactly(want);
                assertThat(row).containsExactly(java.util.Arrays.copyOfRange(deq, i * cols, (i + 1) * cols));
            }
            checkProduct("bf16 " + rows + "x" + cols, m, deq, r, 3, 2);
        }
    }

    private static void checkProduct(String what, Matrix m, float[] w, Random r, int T, int threads) {
        KQuantMatrixTest.checkProduct(what, m, w, gaussian(r, T * m.cols()), T, threads, scale -> 2e-6 * scale + 1e-6);
    }

    /** Every type of types.gguf loads; kernel types give ggml's values exactly, converted ones within 8-bit error. */
    @Test
    void everyGgufTypeLoads() throws Exception {
        List<GgufTestTensors.Tensor> tensors = GgufTestTensors.read(GgufTestTensors.resource("/gguf/types.gguf"));
        ByteBuffer expected = ByteBuffer.wrap(GgufTestTensors.resource("/gguf/types-dequant.f32")).order(ByteOrder.LITTLE_ENDIAN);
        for (GgufTestTensors.Tensor t : tensors) {
            int rows = (int) t.dims()[1];
            int cols = (int) t.dims()[0];
            Matrix m = GgmlMatrices.of(t.type(), t.data(), rows, cols);
            assertThat(m.dtype()).isEqualTo(GgmlMatrices.kernelTypeFor(t.type()));
            boolean exact = m.dtype() != DType.Q8 || t.type() == GgmlType.Q8_0;
            float[] row = new float[cols];
            for (int i = 0; i < rows; i++) {
                m.row(i, row, 0);
                float amax = 0;
                float[] want = new float[cols];
                for (int j = 0; j < cols; j++) {
                    want[j] = expected.getFloat();
                    amax = Math.max(amax, Math.abs(want[j]));
                }
                for (int j = 0; j < cols; j++) {
                    if (exact) {
                        assertThat(row[j]).as("%s [%d,%d]", t.name(), i, j).isEqualTo(want[j]);
                    } else {
                        assertThat(row[j]).as("%s [%d,%d]", t.name(), i, j).isCloseTo(want[j], Offset.offset(amax * (1f / 250 + 1f / 2048))); // q8: plus its half-precision scale
                    }
                }
            }
        }
    }

    /** Quantizers: round trip within each type's step, and q4_0/q4_K at most ggml's typical error on gaussians. */
    @Test
    void quantizersRoundTripWithinTheirStep() {
        Random r = new Random(11);
        int rows = 16;
        int cols = 512;
        float[] w = gaussian(r, rows * cols);
        double[][] limits = {{GgmlType.F32.id(), 0}, {GgmlType.F16.id(), 4e-4}, {GgmlType.BF16.id(), 3e-3},
                {GgmlType.Q8_0.id(), 8e-3}, {GgmlType.Q4_0.id(), 0.14}, {GgmlType.Q4_K.id(), 0.12},
                {GgmlType.Q5_K.id(), 0.06}, {GgmlType.Q6_K.id(), 0.03}};
        for (double[] lim : limits) {
            GgmlType type = GgmlType.byId((int) lim[0]);
            byte[] enc = GgmlMatrices.quantize(type, w, 0, rows, cols);
            assertThat((long) enc.length).isEqualTo(type.bytesFor((long) rows * cols));
            float[] back = new float[rows * cols];
            GgmlDequant.dequantize(type, ByteBuffer.wrap(enc), back, 0, back.length);
            double se = 0;
            for (int i = 0; i < w.length; i++) {
                se += (back[i] - w[i]) * (double) (back[i] - w[i]);
            }
            double rmse = Math.sqrt(se / w.length);
            System.out.printf(java.util.Locale.ROOT, "%s rmse on unit gaussians %.5f%n", type, rmse);
            assertThat(rmse).as("%s rmse on unit gaussians", type).isLessThanOrEqualTo(lim[1]);
        }
    }

    @Test
    void dtypeOptionsBuildQuantizedStorage() {
        Random r = new Random(5);
        float[] w = gaussian(r, 4 * 512);
        assertThat(Matrix.of(DType.Q4_0, w, 4, 512).dtype()).isEqualTo(DType.Q4_0);
        assertThat(Matrix.of(DType.Q4_K, w, 4, 512).dtype()).isEqualTo(DType.Q4_K);
        // widths that are not whole blocks fall back: q4_K to q4_0 (288 = 9 x 32), anything else to q8
        assertThat(Matrix.of(DType.Q4_K, gaussian(r, 4 * 288), 4, 288).dtype()).isEqualTo(DType.Q4_0);
        assertThat(Matrix.of(DType.Q4_0, gaussian(r, 4 * 30), 4, 30).dtype()).isEqualTo(DType.Q8);
        assertThat(Matrix.of(DType.Q5_K, w, 4, 512).dtype()).isEqualTo(DType.Q5_K);
        assertThat(Matrix.of(DType.Q6_K, w, 4, 512).dtype()).isEqualTo(DType.Q6_K);
        // q5_K and q6_K rows that are not whole super-blocks are kept as 8-bit (llama.cpp: Q5_1, Q8_0)
        assertThat(Matrix.of(DType.Q5_K, gaussian(r, 4 * 288), 4, 288).dtype()).isEqualTo(DType.Q8);
        assertThat(Matrix.of(DType.Q6_K, gaussian(r, 4 * 288), 4, 288).dtype()).isEqualTo(DType.Q8);
        assertThat(GgmlMatrices.writtenType(GgmlType.Q6_K, 288)).isEqualTo(GgmlType.Q8_0);
        assertThat(GgmlMatrices.writtenType(GgmlType.Q5_K, 288)).isEqualTo(GgmlType.Q8_0);
        assertThat(GgmlMatrices.writtenType(GgmlType.Q4_K, 288)).isEqualTo(GgmlType.Q4_0);
        assertThat(GgmlMatrices.writtenType(GgmlType.Q6_K, 768)).isEqualTo(GgmlType.Q6_K);
        assertThat(DType.parse("q6_k")).isEqualTo(DType.Q6_K);
        assertThat(DType.parse("q5_K")).isEqualTo(DType.Q5_K);
        assertThat(DType.parse("q4_k")).isEqualTo(DType.Q4_K);
        assertThat(DType.parse("q4_0")).isEqualTo(DType.Q4_0);
    }

    static float[] gaussian(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) r.nextGaussian();
        }
        return a;
    }
}
