package dev.earlyexit.format;

import dev.earlyexit.format.Safetensors.TensorType;
import dev.earlyexit.tensor.BF16Matrix;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SafetensorsTest {
    @TempDir
    Path dir;

    private static float[] ramp(int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (i - n / 2) * 0.37f + 1e-3f * i * i;
        }
        return a;
    }

    @Test
    void roundTripsF32AndBf16WithMetadata() throws IOException {
        Path file = dir.resolve("t.safetensors");
        float[] a = ramp(6 * 5);
        float[] b = ramp(7);
        new SafetensorsWriter().metadata("format", "pt").metadata("note", "exit heads")
                .add("a.weight", a, 6, 5)
                .add("b.bias", TensorType.BF16, b, 7)
                .write(file);
        try (Safetensors st = Safetensors.open(file)) {
            assertThat(st.names()).containsExactly("a.weight", "b.bias");
            assertThat(st.metadata()).isEqualTo(Map.of("format", "pt", "note", "exit heads"));
            assertThat(st.info("a.weight").type()).isEqualTo(TensorType.F32);
            assertThat(st.info("a.weight").shape()).containsExactly(6, 5);
            assertThat(st.read("a.weight", 6, 5)).containsExactly(a);
            float[] rb = st.read("b.bias", 7);
            for (int i = 0; i < b.length; i++) {
                assertThat(rb[i]).isEqualTo(BF16Matrix.toFloat(BF16Matrix.toBf16(b[i])));
            }
            // A sub-range (rows 2..3) straight into an offset of another array.
            float[] dst = new float[12];
            st.read("a.weight", 10, dst, 2, 10);
            for (int i = 0; i < 10; i++) {
                assertThat(dst[2 + i]).isEqualTo(a[10 + i]);
            }
        }
        // Data starts 8-byte aligned after the padded header.
        ByteBuffer len = ByteBuffer.wrap(Files.readAllBytes(file), 0, 8).order(ByteOrder.LITTLE_ENDIAN);
        assertThat(len.getLong() % 8).isZero();
    }

    @Test
    void decodesHalfPrecision() {
        assertThat(Safetensors.halfToFloat((short) 0x3C00)).isEqualTo(1f);
        assertThat(Safetensors.halfToFloat((short) 0xC000)).isEqualTo(-2f);
        assertThat(Safetensors.halfToFloat((short) 0x7BFF)).isEqualTo(65504f);
        assertThat(Safetensors.halfToFloat((short) 0x0001)).isEqualTo(0x1p-24f);
        assertThat(Safetensors.halfToFloat((short) 0x8000)).isEqualTo(-0f);
        assertThat(Safetensors.halfToFloat((short) 0x3555)).isEqualTo(0.333251953125f);
        assertThat(Safetensors.halfToFloat((short) 0x7C00)).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(Safetensors.halfToFloat((short) 0x7E00)).isNaN();
    }

    @Test
    void readsShardedCheckpointsThroughTheIndex() throws IOException {
        float[] a = ramp(8);
        float[] b = ramp(3);
        new SafetensorsWriter().add("a", a, 2, 4).write(dir.resolve("model-00001-of-00002.safetensors"));
        new SafetensorsWriter().add("b", b, 3).write(dir.resolve("model-00002-of-00002.safetensors"));
        Files.writeString(dir.resolve(Safetensors.INDEX_FILE), "{\"metadata\": {\"total_size\": 44}, \"weight_map\": {"
                + "\"a\": \"model-00001-of-00002.safetensors\", \"b\": \"model-00002-of-00002.safetensors\"}}");
        try (Safetensors st = Safetensors.open(dir)) {
            assertThat(st.names()).containsExactlyInAnyOrder("a", "b");
            assertThat(st.read("a", 2, 4)).containsExactly(a);
            assertThat(st.read("b", 3)).containsExactly(b);
        }
    }

    @Test
    void rejectsAnIndexThatPointsAtTheWrongShard() throws IOException {
        new SafetensorsWriter().add("a", ramp(2), 2).write(dir.resolve("s1.safetensors"));
        new SafetensorsWriter().add("b", ramp(2), 2).write(dir.resolve("s2.safetensors"));
        Files.writeString(dir.resolve(Safetensors.INDEX_FILE),
                "{\"weight_map\": {\"a\": \"s2.safetensors\", \"b\": \"s2.safetensors\"}}");
        assertThatThrownBy(() -> Safetensors.open(dir)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("tensor 'a'").hasMessageContaining("s2.safetensors")
                .hasMessageContaining("does not contain it");
        Files.writeString(dir.resolve(Safetensors.INDEX_FILE), "{\"weight_map\": {\"a\": \"gone.safetensors\"}}");
        assertThatThrownBy(() -> Safetensors.open(dir)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("shard gone.safetensors").hasMessageContaining("missing");
    }

    /** A file with the given header length field, header text and data bytes. */
    private Path raw(String name, long headerLen, String header, int dataBytes) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(headerLen).put(h);
        Path p = dir.resolve(name);
        Files.write(p, b.array());
        return p;
    }

    private Path raw(String name, String header, int dataBytes) throws IOException {
        return raw(name, header.getBytes(StandardCharsets.UTF_8).length, header, dataBytes);
    }

    private static void assertRejected(Path file, String... fragments) {
        var t = assertThatThrownBy(() -> Safetensors.open(file).close()).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining(file.getFileName().toString());
        for (String f : fragments) {
            t.hasMessageContaining(f);
        }
    }

    @Test
    void rejectsHeaderLengthBeyondTheFile() throws IOException {
        assertRejected(raw("len.safetensors", 1000, "{}", 4), "header length 1000", "beyond the file size");
        assertRejected(raw("neg.safetensors", -1, "{}", 0), "header length 18446744073709551615", "beyond");
    }

    @Test
    void rejectsMalformedHeaderJson() throws IOException {
        assertRejected(raw("bad.safetensors", "{\"a\": {\"dtype\": ", 0), "malformed header JSON");
        assertRejected(raw("arr.safetensors", "[1, 2]", 0), "malformed header JSON", "not an object");
    }

    @Test
    void rejectsUnknownDtype() throws IOException {
        assertRejected(raw("dt.safetensors", "{\"a\": {\"dtype\": \"F17\", \"shape\": [2], \"data_offsets\": [0, 8]}}", 8),
                "tensor 'a'", "unknown dtype 'F17'");
    }

    @Test
    void rejectsOffsetsOutOfRange() throws IOException {
        assertRejected(raw("oor.safetensors", "{\"a\": {\"dtype\": \"F32\", \"shape\": [100], \"data_offsets\": [0, 400]}}", 16),
                "tensor 'a'", "out of range", "16 bytes");
        assertRejected(raw("rev.safetensors", "{\"a\": {\"dtype\": \"F32\", \"shape\": [0], \"data_offsets\": [8, 4]}}", 16),
                "invalid data_offsets [8, 4]");
    }

    @Test
    void rejectsOffsetsThatDoNotMatchTheShape() throws IOException {
        assertRejected(raw("size.safetensors", "{\"a\": {\"dtype\": \"F32\", \"shape\": [2, 2], \"data_offsets\": [0, 12]}}", 16),
                "tensor 'a'", "span 12 bytes", "needs 16");
    }

    @Test
    void rejectsOverlappingTensors() throws IOException {
        assertRejected(raw("ovl.safetensors", "{\"a\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]},"
                + "\"b\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [8, 24]}}", 24), "overlapping");
    }

    @Test
    void rejectsTruncatedData() throws IOException {
        Path file = dir.resolve("trunc.safetensors");
        new SafetensorsWriter().add("a", ramp(64), 8, 8).write(file);
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(f.length() - 10);
        }
        assertRejected(file, "tensor 'a'", "out of range", "truncated");
    }

    @Test
    void reportsMissingTensorsWrongShapesAndNonFloatTensors() throws IOException {
        Path file = raw("ok.safetensors", "{\"a\": {\"dtype\": \"F32\", \"shape\": [2, 2], \"data_offsets\": [0, 16]},"
                + "\"ids\": {\"dtype\": \"I32\", \"shape\": [2], \"data_offsets\": [16, 24]}}", 24);
        try (Safetensors st = Safetensors.open(file)) {
            assertThatThrownBy(() -> st.read("nope", 2)).isInstanceOf(ModelFormatException.class)
                    .hasMessageContaining("ok.safetensors").hasMessageContaining("missing tensor 'nope'");
            assertThatThrownBy(() -> st.read("a", 3, 3)).isInstanceOf(ModelFormatException.class)
                    .hasMessageContaining("ok.safetensors").hasMessageContaining("shape [2, 2], expected [3, 3]");
            assertThatThrownBy(() -> st.read("ids", 2)).isInstanceOf(ModelFormatException.class)
                    .hasMessageContaining("dtype I32").hasMessageContaining("cannot be read as floats");
        }
    }
}
