package dev.earlyexit.tensor;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Locale;

import static org.assertj.core.api.Assertions.assertThat;

/** Dequantization against ggml's own to_float output on types.gguf (copied from ../shared/reference/gguf). */
class GgmlDequantTest {
    static final List<String> ALL_TYPES = List.of("f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1",
            "q2_K", "q3_K", "q4_K", "q5_K", "q6_K", "iq4_nl", "iq4_xs");

    @Test
    void everyTypeEqualsGgmlBitForBit() throws Exception {
        List<GgufTestTensors.Tensor> tensors = GgufTestTensors.read(GgufTestTensors.resource("/gguf/types.gguf"));
        ByteBuffer expected = ByteBuffer.wrap(GgufTestTensors.resource("/gguf/types-dequant.f32")).order(ByteOrder.LITTLE_ENDIAN);
        assertThat(tensors).extracting(GgufTestTensors.Tensor::name).containsExactlyInAnyOrderElementsOf(ALL_TYPES);
        for (GgufTestTensors.Tensor t : tensors) {
            assertThat(t.type().ggmlName()).isEqualTo(t.name());
            int n = Math.toIntExact(t.elements());
            float[] got = new float[n + 3];
            ByteBuffer data = t.data().duplicate();
            GgmlDequant.dequantize(t.type(), data, got, 3, n);
            assertThat(data.remaining()).as("%s consumed", t.name()).isZero();
            for (int i = 0; i < n; i++) {
                float want = expected.getFloat();
                if (Float.floatToRawIntBits(got[3 + i]) != Float.floatToRawIntBits(want)) {
                    throw new AssertionError(String.format(Locale.ROOT, "%s value %d: got %s, ggml %s",
                            t.name(), i, got[3 + i], want));
                }
            }
        }
        assertThat(expected.remaining()).isZero();
    }

    @Test
    void refusesShortBuffersAndPartialBlocks() {
        ByteBuffer b = ByteBuffer.allocate(33);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> GgmlDequant.dequantize(GgmlType.Q8_0, b, new float[32], 0, 32))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("q8_0");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> GgmlDequant.dequantize(GgmlType.Q4_K, ByteBuffer.allocate(1000), new float[300], 0, 300))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("256");
    }
}
