package dev.earlyexit.format;

import dev.earlyexit.tensor.GgmlMatrices;
import dev.earlyexit.tensor.GgmlType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The GGUF reader on files our writer makes, whole and damaged. */
public class GgufFileTest {
    @TempDir
    Path dir;

    /** A one-layer llama of random weights (dim 32, MLP 64, 2 heads, vocabulary 64), F32 or the given type. */
    public static GgufWriter tinyLlama(GgmlType type, String... omit) {
        Random rnd = new Random(7);
        GgufWriter w = new GgufWriter()
                .put("general.architecture", "llama")
                .put("llama.embedding_length", 32).put("llama.feed_forward_length", 64).put("llama.block_count", 1)
                .put("llama.attention.head_count", 2).put("llama.attention.head_count_kv", 2)
                .put("llama.context_length", 64).put("llama.attention.layer_norm_rms_epsilon", 1e-5f)
                .put("llama.rope.freq_base", 10000f);
        String[][] mats = {{"token_embd.weight", "64", "32"}, {"blk.0.attn_q.weight", "32", "32"},
                {"blk.0.attn_k.weight", "32", "32"}, {"blk.0.attn_v.weight", "32", "32"},
                {"blk.0.attn_output.weight", "32", "32"}, {"blk.0.ffn_gate.weight", "64", "32"},
                {"blk.0.ffn_up.weight", "64", "32"}, {"blk.0.ffn_down.weight", "32", "64"}};
        for (String[] m : mats) {
            int rows = Integer.parseInt(m[1]);
            int cols = Integer.parseInt(m[2]);
            float[] v = new float[rows * cols];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) rnd.nextGaussian() * 0.2f;
            }
            if (!Arrays.asList(omit).contains(m[0])) {
                w.tensor(m[0], new long[]{cols, rows}, type, GgmlMatrices.quantize(type, v, 0, rows, cols));
            }
        }
        float[] ones = new float[32];
        Arrays.fill(ones, 1f);
        for (String n : new String[]{"blk.0.attn_norm.weight", "blk.0.ffn_norm.weight", "output_norm.weight"}) {
            w.tensor(n, new long[]{32}, GgmlType.F32, GgmlMatrices.quantize(GgmlType.F32, ones, 0, 1, 32));
        }
        return w;
    }

    @Test
    void everyMetadataTypeRoundTrips() throws Exception {
        Path f = dir.resolve("m.gguf");
        new GgufWriter().put("a.u32", 7).put("a.i32", -3).put("a.u64", 1L << 40).put("a.f32", 1.5f).put("a.f64", 2.25)
                .put("a.bool", true).put("a.str", "héllo ✓").put("a.strs", new String[]{"x", "", "▁y"})
                .put("a.floats", new float[]{1, -2}).put("a.ints", new int[]{3, -4})
                .tensor("t", new long[]{4, 2}, GgmlType.F32, new byte[32]).write(f);
        GgufFile g = GgufFile.open(f);
        assertThat(g.version()).isEqualTo(3);
        assertThat(g.alignment()).isEqualTo(32);
        assertThat(g.integer("a.u32")).isEqualTo(7);
        assertThat(g.integer("a.i32")).isEqualTo(-3);
        assertThat(g.integer("a.u64")).isEqualTo(1L << 40);
        assertThat(g.number("a.f32", 0)).isEqualTo(1.5);
        assertThat(g.number("a.f64", 0)).isEqualTo(2.25);
        assertThat(g.bool("a.bool", false)).isTrue();
        assertThat(g.string("a.str")).contains("héllo ✓");
        assertThat(g.array("a.strs", String[].class).orElseThrow()).containsExactly("x", "", "▁y");
        assertThat(g.array("a.floats", float[].class).orElseThrow()).containsExactly(1f, -2f);
        assertThat(g.array("a.ints", long[].class).orElseThrow()).containsExactly(3L, -4L);
        GgufFile.TensorInfo t = g.tensor("t").orElseThrow();
        assertThat(t.dims()).containsExactly(4, 2);
        assertThat(t.offset() % 32).isZero();
        assertThat(t.offset()).isEqualTo(g.dataStart());
        g.close();
    }

    @Test
    void theReferenceTypesFileListsEveryTensor() throws Exception {
        GgufFile g = GgufFile.open(Path.of("src/test/resources/gguf/types.gguf"));
        assertThat(g.tensors()).hasSize(15);
        assertThat(g.tensors().get("q4_K").type()).isEqualTo(GgmlType.Q4_K);
        assertThat(g.tensors().get("iq4_xs").dims()).containsExactly(512, 8);
        g.close();
    }

    @Test
    void aTinyLlamaLoads() throws Exception {
        Path f = dir.resolve("tiny.gguf");
        tinyLlama(GgmlType.Q8_0).write(f);
        var loaded = GgufCheckpoint.load(f);
        assertThat(loaded.config().dim()).isEqualTo(32);
        assertThat(loaded.weights().layers()[0].wqkv().rows()).isEqualTo(96);
        assertThat(loaded.weights().classifier()).isSameAs(loaded.weights().tokenEmbedding());
        assertThat(loaded.tokenizerOrNull()).isNull();
    }

    @Test
    void fusedTensorsOfDifferentTypesShareQ8AndTheLoaderSaysSo() throws Exception {
        Path f = dir.resolve("mixed.gguf");
        float[] v = new float[32 * 32];
        Random rnd = new Random(11);
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) rnd.nextGaussian() * 0.2f;
        }
        // as a Q4_K_M file has them: q and k in one type, v in a more precise one
        tinyLlama(GgmlType.Q4_0, "blk.0.attn_v.weight")
                .tensor("blk.0.attn_v.weight", new long[]{32, 32}, GgmlType.Q8_0, GgmlMatrices.quantize(GgmlType.Q8_0, v, 0, 32, 32))
                .write(f);
        var loaded = GgufCheckpoint.load(f);
        var wqkv = loaded.weights().layers()[0].wqkv();
        assertThat(wqkv.dtype()).isEqualTo(dev.earlyexit.tensor.DType.Q8);
        assertThat(loaded.conversions()).containsExactly("q4_0 as q8 (fused with another type)");
        float[] expected = new float[32 * 32];
        dev.earlyexit.tensor.GgmlDequant.dequantize(GgmlType.Q8_0,
                java.nio.ByteBuffer.wrap(GgmlMatrices.quantize(GgmlType.Q8_0, v, 0, 32, 32)), expected, 0, expected.length);
        float[] row = new float[32];
        for (int r = 0; r < 32; r++) {
            wqkv.row(64 + r, row, 0); // v's rows follow q's and k's 32 each
            for (int c = 0; c < 32; c++) {
                assertThat(row[c]).isEqualTo(expected[r * 32 + c]); // Q8_0 kept exactly
            }
        }

        Path f16 = dir.resolve("f16.gguf");
        tinyLlama(GgmlType.F16).write(f16);
        assertThat(GgufCheckpoint.load(f16).conversions()).containsExactly("f16 as f32");
        assertThat(GgufCheckpoint.load(written()).conversions()).isEmpty(); // f32 is kept as it is
    }

    private Path written() throws Exception {
        Path f = dir.resolve("ok.gguf");
        tinyLlama(GgmlType.F32).write(f);
        return f;
    }

    @Test
    void wrongMagic() throws Exception {
        Path f = written();
        byte[] b = Files.readAllBytes(f);
        b[0] = 'X';
        Files.write(f, b);
        assertThatThrownBy(() -> GgufCheckpoint.load(f)).isInstanceOf(ModelFormatException.class).hasMessageContaining("wrong magic");
    }

    @Test
    void unknownVersion() throws Exception {
        Path f = written();
        byte[] b = Files.readAllBytes(f);
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(4, 9);
        Files.write(f, b);
        assertThatThrownBy(() -> GgufCheckpoint.load(f)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("GGUF version 9 is not supported");
    }

    @Test
    void truncatedAnywhere() throws Exception {
        Path f = written();
        byte[] b = Files.readAllBytes(f);
        for (int cut : new int[]{3, 10, 30, 200, b.length / 2, b.length - 1}) {
            Path t = dir.resolve("cut" + cut + ".gguf");
            Files.write(t, Arrays.copyOf(b, cut));
            assertThatThrownBy(() -> GgufCheckpoint.load(t)).as("cut at %d", cut).isInstanceOf(ModelFormatException.class)
                    .hasMessageMatching("(?s).*(truncated|wrong magic).*");
        }
    }

    @Test
    void unknownTypeId() throws Exception {
        Path f = dir.resolve("t.gguf");
        new GgufWriter().put("general.architecture", "llama").tensor("t", new long[]{4}, GgmlType.F32, new byte[16]).write(f);
        byte[] b = Files.readAllBytes(f);
        // the tensor info ends with n_dims=1, dim 4, type id (f32 = 0), offset 0: patch the type id
        int at = indexOf(b, "t".getBytes()) + 1 + 4 + 8;
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(at, 99);
        Files.write(f, b);
        assertThatThrownBy(() -> GgufFile.open(f)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("tensor t has unknown ggml type id 99");
    }

    @Test
    void tensorWhoseSizeDoesNotAddUp() throws Exception {
        Path f = dir.resolve("s.gguf");
        tinyLlama(GgmlType.F32).put("llama.feed_forward_length", 48).write(f);
        assertThatThrownBy(() -> GgufCheckpoint.load(f)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("tensor blk.0.ffn_gate.weight has shape [32, 64]");
    }

    @Test
    void missingTensor() throws Exception {
        Path f = dir.resolve("m.gguf");
        tinyLlama(GgmlType.F32, "blk.0.attn_v.weight").write(f);
        assertThatThrownBy(() -> GgufCheckpoint.load(f)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("lacks tensor blk.0.attn_v.weight");
    }

    @Test
    void unsupportedArchitectureIsNamed() throws Exception {
        Path f = dir.resolve("a.gguf");
        tinyLlama(GgmlType.F32).put("general.architecture", "mamba").write(f);
        assertThatThrownBy(() -> GgufCheckpoint.load(f)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("architecture \"mamba\" is not supported");
    }

    static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = hay.length - needle.length; i >= 0; i--) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
