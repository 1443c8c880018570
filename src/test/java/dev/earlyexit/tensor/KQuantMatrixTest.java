package dev.earlyexit.tensor;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The k-quant kernels kept in their own encoding (Q4_K, Q5_K, Q6_K): products equal ggml's dequantized
 * weights times x in double precision, within the error of float summation.
 *
 * <p>Tolerance: each kernel output is a sum of cols float products, accumulated in float vector lanes
 * (at least 8 lanes: cols/8 additions per lane, then log2(lanes) in the reduction) and, for T >= 4,
 * with one fused multiply-add per term. With at most k = cols/8 + 8 roundings along any term's path
 * (the weight's own decode included: Q4_K/Q5_K compute d*sc*q - dmin*m with one fma where ggml rounds
 * twice; Q6_K's decoded weights are bit-exact), the error is at most k * 2^-24 * sum |w x| (the classic
 * bound for recursive summation, first order). That is what is asserted, against the exact product of
 * ggml's values.
 */
class KQuantMatrixTest {
    private static final GgmlType[] K_TYPES = {GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K};

    /** The Q4_K/Q5_K/Q6_K tensors of types.gguf (made by ggml's quantizers) against ggml's own to_float output. */
    @Test
    void ggmlTensorsMultiplyAsGgmlDequantizesThem() throws Exception {
        List<GgufTestTensors.Tensor> tensors = GgufTestTensors.read(GgufTestTensors.resource("/gguf/types.gguf"));
        ByteBuffer expected = ByteBuffer.wrap(GgufTestTensors.resource("/gguf/types-dequant.f32")).order(ByteOrder.LITTLE_ENDIAN);
        Random r = new Random(17);
        int checked = 0;
        for (GgufTestTensors.Tensor t : tensors) {
            int rows = (int) t.dims()[1];
            int cols = (int) t.dims()[0];
            float[] want = new float[rows * cols];
            for (int i = 0; i < want.length; i++) {
                want[i] = expected.getFloat();
            }
            if (!List.of(K_TYPES).contains(t.type())) {
                continue;
            }
            Matrix m = GgmlMatrices.of(t.type(), t.data(), rows, cols);
            assertThat(m.dtype()).as(t.name()).isEqualTo(GgmlMatrices.kernelTypeFor(t.type()));
            assertThat(m.dtype().cliName()).isEqualTo(t.type().ggmlName().toLowerCase(java.util.Locale.ROOT));
            float[] row = new float[cols];
            for (int i = 0; i < rows; i++) {
                m.row(i, row, 0);
                assertThat(row).as("%s row %d", t.name(), i).containsExactly(java.util.Arrays.copyOfRange(want, i * cols, (i + 1) * cols));
            }
            for (int T : new int[] {1, 3, 4, 8, 9, Matrix.TILED_MIN_T, 23, 49}) { // from 18: tiled
                for (int threads : new int[] {1, 2}) {
                    checkProduct(t.name() + " T=" + T + " threads=" + threads, m, want, gaussian(r, T * cols), T, threads);
                }
            }
            checked++;
        }
        assertThat(checked).isEqualTo(K_TYPES.length);
    }

    /**
     * Arbitrary super-blocks (every bit pattern of levels, high bits, 6-bit and signed 8-bit scales, with
     * finite random super-scales): the kernels read them as GgmlDequant does.
     */
    @Property(tries = 40)
    void randomSuperBlocksMultiplyAsDequantized(@ForAll @IntRange(min = 0, max = 2) int type,
                                                @ForAll @IntRange(min = 1, max = 19) int rows,
                                                @ForAll @IntRange(min = 1, max = 3) int supers,
                                                @ForAll @IntRange(min = 1, max = 9) int T,
                                                @ForAll @IntRange(min = 1, max = 3) int threads) {
        GgmlType t = K_TYPES[type];
        int cols = 256 * supers;
        Random r = new Random(type * 1_000_003L + rows * 1009L + supers * 31L + T);
        byte[] enc = randomBlocks(t, rows * supers, r);
        float[] deq = new float[rows * cols];
        GgmlDequant.dequantize(t, ByteBuffer.wrap(enc), deq, 0, deq.length);
        Matrix m = GgmlMatrices.of(t, ByteBuffer.wrap(enc), rows, cols);
        float[] row = new float[cols];
        for (int i = 0; i < rows; i++) {
            m.row(i, row, 0);
            assertThat(row).as("%s row %d", t, i).containsExactly(java.util.Arrays.copyOfRange(deq, i * cols, (i + 1) * cols));
        }
        checkProduct(t + " " + rows + "x" + cols + " T=" + T, m, deq, gaussian(r, T * cols), T, threads);
    }

    /** Random ggml super-blocks of {@code t} with a finite, moderate f16 super-scale (and min). */
    static byte[] randomBlocks(GgmlType t, int blocks, Random r) {
        byte[] b = new byte[Math.toIntExact(t.bytesFor(256L * blocks))];
        r.nextBytes(b);
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        for (int k = 0; k < blocks; k++) {
            int p = k * t.typeSize();
            if (t == GgmlType.Q6_K) {
                bb.putShort(p + 208, Half.fromFloat((float) (r.nextGaussian() * 1e-3)));
            } else {
                bb.putShort(p, Half.fromFloat((float) (r.nextGaussian() * 1e-2)));
                bb.putShort(p + 2, Half.fromFloat((float) (r.nextGaussian() * 1e-2)));
            }
        }
        return b;
    }

    static void checkProduct(String what, Matrix m, float[] w, float[] x, int T, int threads) {
        double roundings = m.cols() / 8.0 + 8;
        checkProduct(what, m, w, x, T, threads, scale -> roundings * 0x1p-24 * scale + Double.MIN_NORMAL);
    }

    /**
     * m's product (written at a stride and offset, so that stray writes show) against the float64 product
     * with w, within tolerance(sum of |w x|) of each output.
     */
    static void checkProduct(String what, Matrix m, float[] w, float[] x, int T, int threads,
                             java.util.function.DoubleUnaryOperator tolerance) {
        int rows = m.rows();
        int cols = m.cols();
        float[] out = new float[T * (rows + 1) + 2];
        try (ThreadPool pool = new ThreadPool(threads)) {
            m.matmul(x, T, out, rows + 1, 2, pool);
        }
        if (m.dtype() == DType.Q4_0) {
            x = roundedAsLlamaCppDoes(x, T * cols); // what a Q4_0 product multiplies, by its definition
        }
        for (int t = 0; t < T; t++) {
            for (int i = 0; i < rows; i++) {
                double expected = 0;
                double scale = 0;
                for (int j = 0; j < cols; j++) {
                    expected += (double) w[i * cols + j] * x[t * cols + j];
                    scale += Math.abs((double) w[i * cols + j] * x[t * cols + j]);
                }
                assertThat((double) out[t * (rows + 1) + 2 + i]).as("%s [%d,%d]", what, t, i)
                        .isCloseTo(expected, Offset.offset(tolerance.applyAsDouble(scale)));
            }
        }
    }

    /**
     * The activations llama.cpp's x86 CPU backend multiplies against Q4_0 weights, written from its
     * quantize_row_q8_0: per 32 values, d = amax / 127 stored as f16, q = round-half-even(x * 127 / amax).
     */
    static float[] roundedAsLlamaCppDoes(float[] x, int n) {
        float[] out = x.clone();
        for (int b = 0; b < n; b += 32) {
            float amax = 0;
            for (int i = b; i < b + 32; i++) {
                amax = Math.max(amax, Math.abs(x[i]));
            }
            float d = Half.toFloat(Half.fromFloat(amax / 127f) & 0xFFFF);
            float id = amax == 0 ? 0 : 127f / amax;
            for (int i = b; i < b + 32; i++) {
                out[i] = (float) Math.rint(x[i] * id) * d;
            }
        }
        return out;
    }

    static float[] gaussian(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) r.nextGaussian();
        }
        return a;
    }
}
