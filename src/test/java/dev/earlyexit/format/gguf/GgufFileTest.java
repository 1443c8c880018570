package dev.earlyexit.format.gguf;

import dev.earlyexit.format.ModelFormatException;
import dev.earlyexit.tensor.GgmlDequant;
import dev.earlyexit.tensor.GgmlType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class GgufFileTest {
    private static final Path TYPES = Path.of("src/test/resources/gguf/types.gguf");
    private static final Path TYPES_DEQUANT = Path.of("src/test/resources/gguf/types-dequant.f32");
    private static final Path STORIES_F16 = Path.of("../shared/reference/gguf/stories15M-f16.gguf");

    @TempDir
    Path tmp;

    @Test
    void readsEveryTensorOfTypesGgufAndItsFloatTypesMatchGgml() throws Exception {
        try (GgufFile f = GgufFile.open(TYPES)) {
            assertThat(f.version()).isIn(2, 3);
            assertThat(f.tensors()).hasSize(15);
            ByteBuffer expected = ByteBuffer.wrap(Files.readAllBytes(TYPES_DEQUANT)).order(ByteOrder.LITTLE_ENDIAN);
            for (GgufFile.TensorInfo t : f.tensors().values()) {
                assertThat(t.dims()).containsExactly(512, 8);
                float[] want = new float[8 * 512];
                expected.asFloatBuffer().get(want);
                expected.position(expected.position() + 4 * want.length);
                if (t.type() == GgmlType.F32 || t.type() == GgmlType.F16 || t.type() == GgmlType.BF16 || t.type() == GgmlType.Q8_0) {
                    float[] got = new float[want.length];
                    GgmlDequant.dequantize(t.type(), f.read(t), got, 0, got.length);
                    assertThat(got).as(t.name()).containsExactly(want);
                }
            }
        }
    }

    @Test
    void readsStoriesMetadata() throws Exception {
        assumeTrue(Files.isRegularFile(STORIES_F16), "needs " + STORIES_F16 + " (absent)");
        try (GgufFile f = GgufFile.open(STORIES_F16)) {
            assertThat(f.string("general.architecture")).isEqualTo("llama");
            assertThat(f.int32("llama.block_count")).isEqualTo(6);
            assertThat(f.int32("llama.embedding_length")).isEqualTo(288);
            assertThat(f.string("tokenizer.ggml.model")).isEqualTo("llama");
            assertThat(f.array("tokenizer.ggml.tokens", GgufFile.ValueType.STRING)).hasSize(32000);
            assertThat(f.array("tokenizer.ggml.scores", GgufFile.ValueType.FLOAT32)).hasSize(32000);
            GgufFile.TensorInfo emb = f.tensor("token_embd.weight");
            assertThat(emb.dims()).containsExactly(288, 32000);
            assertThat(f.tensors()).containsKey("blk.5.ffn_down.weight");
        }
    }

    private Path variant(String name, byte[] bytes) throws Exception {
        Path p = tmp.resolve(name);
        Files.write(p, bytes);
        return p;
    }

    @Test
    void badInputGivesOneMessageNamingTheProblem() throws Exception {
        byte[] good = Files.readAllBytes(TYPES);
        assertThatThrownBy(() -> GgufFile.open(variant("trunc.gguf", Arrays.copyOf(good, good.length - 100))))
                .isInstanceOf(ModelFormatException.class).hasMessageContaining("runs past the end of the file");
        assertThatThrownBy(() -> GgufFile.open(variant("header.gguf", Arrays.copyOf(good, 30))))
                .isInstanceOf(ModelFormatException.class).hasMessageContaining("truncated");
        byte[] magic = good.clone();
        magic[0] = 'X';
        assertThatThrownBy(() -> GgufFile.open(variant("magic.gguf", magic)))
                .isInstanceOf(ModelFormatException.class).hasMessageContaining("not a GGUF file");
        byte[] version = good.clone();
        version[4] = 9;
        assertThatThrownBy(() -> GgufFile.open(variant("version.gguf", version)))
                .isInstanceOf(ModelFormatException.class).hasMessageContaining("unsupported GGUF version 9");
        // the first tensor's type id sits right after its name and dims; find it by the name "f32"
        int at = indexOf(good, "f32".getBytes()) + 3 + 4 + 16;
        byte[] type = good.clone();
        type[at] = 99;
        assertThatThrownBy(() -> GgufFile.open(variant("type.gguf", type)))
                .isInstanceOf(ModelFormatException.class).hasMessageContaining("unknown ggml type id 99");
        byte[] dims = good.clone();
        dims[at - 8] = 100; // rows 8 -> 100: the tensor no longer fits
        assertThatThrownBy(() -> GgufFile.open(variant("dims.gguf", dims)))
                .isInstanceOf(ModelFormatException.class).hasMessageContaining("f32");
        try (GgufFile f = GgufFile.open(TYPES)) {
            assertThatThrownBy(() -> f.tensor("output.weight"))
                    .isInstanceOf(ModelFormatException.class).hasMessageContaining("missing tensor output.weight");
        }
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        throw new AssertionError("not found");
    }
}
