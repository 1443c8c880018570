package dev.earlyexit.format;

import dev.earlyexit.model.KVCache;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.Transformer;
import dev.earlyexit.tensor.DType;
import dev.earlyexit.tensor.ThreadPool;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** llama2.c files written here with random weights, in both layouts, and broken in every way we check. */
class Llama2cCheckpointTest {
    private static final int DIM = 32;
    private static final int HIDDEN = 48;
    private static final int LAYERS = 2;
    private static final int HEADS = 4;
    private static final int KV_HEADS = 2;
    private static final int VOCAB = 50;
    private static final int SEQ = 16;

    @TempDir
    Path dir;

    /** Named tensors in llama2.c's order of the legacy layout. */
    record Weights(float[] emb, float[] attNorm, float[] wq, float[] wk, float[] wv, float[] wo, float[] ffnNorm,
                   float[] w1, float[] w2, float[] w3, float[] finalNorm, float[] cls) {
        static Weights random(long seed, boolean shared) {
            Random r = new Random(seed);
            int kv = DIM / HEADS * KV_HEADS;
            return new Weights(f(r, VOCAB * DIM), norm(r, LAYERS * DIM), f(r, LAYERS * DIM * DIM), f(r, LAYERS * kv * DIM),
                    f(r, LAYERS * kv * DIM), f(r, LAYERS * DIM * DIM), norm(r, LAYERS * DIM), f(r, LAYERS * HIDDEN * DIM),
                    f(r, LAYERS * DIM * HIDDEN), f(r, LAYERS * HIDDEN * DIM), norm(r, DIM), shared ? null : f(r, VOCAB * DIM));
        }

        private static float[] f(Random r, int n) {
            float[] a = new float[n];
            for (int i = 0; i < n; i++) {
                a[i] = (float) (r.nextGaussian() * 0.2);
            }
            return a;
        }

        private static float[] norm(Random r, int n) {
            float[] a = new float[n];
            for (int i = 0; i < n; i++) {
                a[i] = 1f + (float) (r.nextGaussian() * 0.1);
            }
            return a;
        }
    }

    static Path writeLegacy(Path file, Weights w) throws IOException {
        int headSize = DIM / HEADS;
        float[] freqs = new float[SEQ * headSize / 2];
        ByteBuffer b = buffer(7 * 4 + 4 * count(w.emb, w.attNorm, w.wq, w.wk, w.wv, w.wo, w.ffnNorm, w.w1, w.w2, w.w3,
                w.finalNorm, freqs, freqs, w.cls));
        b.putInt(DIM).putInt(HIDDEN).putInt(LAYERS).putInt(HEADS).putInt(KV_HEADS)
                .putInt(w.cls == null ? VOCAB : -VOCAB).putInt(SEQ);
        put(b, w.emb, w.attNorm, w.wq, w.wk, w.wv, w.wo, w.ffnNorm, w.w1, w.w2, w.w3, w.finalNorm, freqs, freqs, w.cls);
        Files.write(file, b.array());
        return file;
    }

    static Path writeV1(Path file, Weights w) throws IOException {
        ByteBuffer b = buffer(256 + 4 * count(w.attNorm, w.ffnNorm, w.finalNorm, w.emb, w.wq, w.wk, w.wv, w.wo, w.w1,
                w.w2, w.w3, w.cls));
        b.putInt(0x616b3432).putInt(1).putInt(DIM).putInt(HIDDEN).putInt(LAYERS).putInt(HEADS).putInt(KV_HEADS)
                .putInt(VOCAB).putInt(SEQ).put((byte) (w.cls == null ? 1 : 0));
        b.position(256);
        put(b, w.attNorm, w.ffnNorm, w.finalNorm, w.emb, w.wq, w.wk, w.wv, w.wo, w.w1, w.w2, w.w3, w.cls);
        Files.write(file, b.array());
        return file;
    }

    private static int count(float[]... arrays) {
        return Arrays.stream(arrays).filter(a -> a != null).mapToInt(a -> a.length).sum();
    }

    private static ByteBuffer buffer(int bytes) {
        return ByteBuffer.allocate(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static void put(ByteBuffer b, float[]... arrays) {
        for (float[] a : arrays) {
            if (a != null) {
                for (float v : a) {
                    b.putFloat(v);
                }
            }
        }
    }

    static float[] logits(Llama2cCheckpoint.Loaded m, int[] tokens) {
        ModelConfig c = m.config();
        try (ThreadPool pool = new ThreadPool(2)) {
            Transformer tf = new Transformer(c, m.weights(), pool);
            float[] x = new float[tokens.length * c.dim()];
            tf.embed(tokens, 0, tokens.length, 0, x);
            tf.forward(x, tokens.length, 0, c.layers(), new KVCache(c));
            float[] out = new float[tokens.length * c.vocabSize()];
            tf.logitsBlock(x, tokens.length, out);
            return out;
        }
    }

    @Test
    void legacyAndVersion1LayoutsGiveTheSameModel() throws Exception {
        for (boolean shared : new boolean[] {true, false}) {
            Weights w = Weights.random(shared ? 1 : 2, shared);
            var legacy = Llama2cCheckpoint.load(writeLegacy(dir.resolve("legacy.bin"), w), DType.F32);
            var v1 = Llama2cCheckpoint.load(writeV1(dir.resolve("v1.bin"), w), DType.F32);
            assertThat(legacy.config()).isEqualTo(v1.config());
            assertThat(legacy.config().kvHeads()).isEqualTo(KV_HEADS);
            assertThat(legacy.weights().classifier() == legacy.weights().tokenEmbedding()).isEqualTo(shared);
            int[] tokens = {1, 7, 3, 49, 0, 12};
            float[] a = logits(legacy, tokens);
            assertThat(logits(v1, tokens)).containsExactly(a);
            assertThat(a).doesNotContain(Float.NaN);
        }
    }

    @Test
    void truncatedFileIsRejected() throws Exception {
        Path p = writeLegacy(dir.resolve("m.bin"), Weights.random(3, true));
        byte[] all = Files.readAllBytes(p);
        Files.write(p, Arrays.copyOf(all, all.length - 10));
        assertThatThrownBy(() -> Llama2cCheckpoint.load(p, DType.F32)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("size mismatch").hasMessageContaining("truncated");
    }

    @Test
    void trailingBytesAreRejected() throws Exception {
        Path p = writeLegacy(dir.resolve("m.bin"), Weights.random(3, true));
        byte[] all = Files.readAllBytes(p);
        Files.write(p, Arrays.copyOf(all, all.length + 8));
        assertThatThrownBy(() -> Llama2cCheckpoint.load(p, DType.F32)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("size mismatch");
    }

    @Test
    void garbageHeaderIsRejected() throws Exception {
        Path p = dir.resolve("garbage.bin");
        Files.write(p, "this is not a model file at all, just text".getBytes());
        assertThatThrownBy(() -> Llama2cCheckpoint.load(p, DType.F32)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("not a llama2.c checkpoint");
        Path tiny = dir.resolve("tiny.bin");
        Files.write(tiny, new byte[5]);
        assertThatThrownBy(() -> Llama2cCheckpoint.load(tiny, DType.F32)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("only 5 bytes");
    }

    @Test
    void unsupportedVersionIsNamed() throws Exception {
        ByteBuffer b = buffer(256);
        b.putInt(0x616b3432).putInt(2);
        Path p = dir.resolve("q80.bin");
        Files.write(p, b.array());
        assertThatThrownBy(() -> Llama2cCheckpoint.load(p, DType.F32)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("version 2");
    }
}
