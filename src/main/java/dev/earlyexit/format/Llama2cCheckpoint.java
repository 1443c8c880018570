package dev.earlyexit.format;

import dev.earlyexit.model.LayerWeights;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.ModelWeights;
import dev.earlyexit.tensor.DType;
import dev.earlyexit.tensor.Matrix;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * Reads llama2.c checkpoints: the original ("legacy") layout that Karpathy's TinyStories models ship
 * in, and the float32 "version 1" layout (magic "ak42") of llama2.c's later export script.
 *
 * <p>Legacy: 7 little-endian int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size,
 * seq_len; a negative vocab_size means an unshared classifier), then float32 tensors: embedding,
 * attention norms, wq, wk, wv, wo, MLP norms, w1, w2, w3, final norm, two legacy RoPE tables (skipped:
 * we compute RoPE ourselves), classifier if unshared.
 */
public final class Llama2cCheckpoint {
    private static final int LEGACY_HEADER_BYTES = 7 * 4;
    private static final int V1_MAGIC = 0x616b3432; // "ak42" read as a little-endian int32
    private static final int V1_HEADER_BYTES = 256;

    private Llama2cCheckpoint() {
    }

    /** The llama2.c model's architecture: Llama-2 with interleaved RoPE, as Meta's reference code. */
    public static ModelConfig config(int dim, int hidden, int layers, int heads, int kvHeads, int vocab, int seqLen) {
        return new ModelConfig("llama2.c", dim, hidden, layers, heads, kvHeads, dim / heads, vocab, seqLen,
                ModelConfig.NormKind.RMS, 1e-5f, 10000f, dim / heads, ModelConfig.RopeStyle.INTERLEAVED,
                ModelConfig.MlpKind.SWIGLU, ModelConfig.ResidualKind.SEQUENTIAL, false, 1, 2);
    }

    public record Loaded(ModelConfig config, ModelWeights weights) {
    }

    public static Loaded load(Path path, DType dtype) throws IOException {
        try (FloatFileReader in = new FloatFileReader(path)) {
            if (in.size() < LEGACY_HEADER_BYTES) {
                throw new ModelFormatException(path + ": not a llama2.c checkpoint: only " + in.size() + " bytes");
            }
            ByteBuffer header = in.readBytes(0, (int) Math.min(V1_HEADER_BYTES, in.size()));
            int first = header.getInt(0);
            if (first == V1_MAGIC) {
                return loadV1(in, header, dtype);
            }
            int[] h = new int[7];
            for (int i = 0; i < 7; i++) {
                h[i] = header.getInt(4 * i);
            }
            return loadLegacy(in, h, dtype);
        }
    }

    private static ModelConfig validated(Path path, int dim, int hidden, int layers, int heads, int kvHeads,
                                         int vocab, int seqLen) {
        boolean plausible = dim > 0 && hidden > 0 && layers > 0 && heads > 0 && kvHeads > 0 && vocab > 0
                && seqLen > 0 && dim % heads == 0 && heads % kvHeads == 0 && dim <= 65536 && hidden <= 1 << 18
                && layers <= 1024 && vocab <= 1 << 22 && seqLen <= 1 << 22;
        if (!plausible) {
            throw new ModelFormatException(path + ": not a llama2.c checkpoint: implausible header (dim=" + dim
                    + ", hidden=" + hidden + ", layers=" + layers + ", heads=" + heads + ", kv_heads=" + kvHeads
                    + ", vocab=" + vocab + ", seq_len=" + seqLen + ")");
        }
        return config(dim, hidden, layers, heads, kvHeads, vocab, seqLen);
    }

    private static Loaded loadLegacy(FloatFileReader in, int[] h, DType dtype) throws IOException {
        boolean shared = h[5] > 0;
        ModelConfig c = validated(in.path(), h[0], h[1], h[2], h[3], h[4], Math.abs(h[5]), h[6]);
        int dim = c.dim();
        int kvDim = c.kvDim();
        int hidden = c.hiddenDim();
        int L = c.layers();
        long headSize = c.headDim();

        long o = LEGACY_HEADER_BYTES;
        long emb = o;
        o += 4L * c.vocabSize() * dim;
        long attNorm = o;
        o += 4L * L * dim;
        long wq = o;
        o += 4L * L * dim * dim;
        long wk = o;
        o += 4L * L * dim * kvDim;
        long wv = o;
        o += 4L * L * dim * kvDim;
        long wo = o;
        o += 4L * L * dim * dim;
        long ffnNorm = o;
        o += 4L * L * dim;
        long w1 = o;
        o += 4L * L * dim * hidden;
        long w2 = o;
        o += 4L * L * hidden * dim;
        long w3 = o;
        o += 4L * L * hidden * dim;
        long finalNorm = o;
        o += 4L * dim;
        o += 2L * 4L * c.maxSeqLen() * headSize / 2; // legacy freq_cis_real and freq_cis_imag
        long cls = o;
        if (!shared) {
            o += 4L * c.vocabSize() * dim;
        }
        checkSize(in, o, shared);

        Offsets off = new Offsets(emb, attNorm, wq, wk, wv, wo, ffnNorm, w1, w2, w3, finalNorm, shared ? -1 : cls);
        return new Loaded(c, read(in, c, off, dtype, dim));
    }

    private static Loaded loadV1(FloatFileReader in, ByteBuffer header, DType dtype) throws IOException {
        if (in.size() < V1_HEADER_BYTES) {
            throw new ModelFormatException(in.path() + ": truncated llama2.c v1 header");
        }
        int version = header.getInt(4);
        if (version != 1) {
            throw new ModelFormatException(in.path() + ": llama2.c checkpoint version " + version
                    + " is not supported (only the legacy and the float32 version 1 formats are)");
        }
        int[] h = new int[7];
        for (int i = 0; i < 7; i++) {
            h[i] = header.getInt(8 + 4 * i);
        }
        boolean shared = header.get(36) != 0;
        ModelConfig c = validated(in.path(), h[0], h[1], h[2], h[3], h[4], h[5], h[6]);
        int dim = c.dim();
        int kvDim = c.kvDim();
        int hidden = c.hiddenDim();
        int L = c.layers();
        // v1 order: attention norms, MLP norms, final norm, embedding, wq, wk, wv, wo, w1, w2, w3, [classifier]
        long o = V1_HEADER_BYTES;
        long attNorm = o;
        o += 4L * L * dim;
        long ffnNorm = o;
        o += 4L * L * dim;
        long finalNorm = o;
        o += 4L * dim;
        long emb = o;
        o += 4L * c.vocabSize() * dim;
        long wq = o;
        o += 4L * L * dim * dim;
        long wk = o;
        o += 4L * L * dim * kvDim;
        long wv = o;
        o += 4L * L * dim * kvDim;
        long wo = o;
        o += 4L * L * dim * dim;
        long w1 = o;
        o += 4L * L * dim * hidden;
        long w2 = o;
        o += 4L * L * hidden * dim;
        long w3 = o;
        o += 4L * L * hidden * dim;
        long cls = o;
        if (!shared) {
            o += 4L * c.vocabSize() * dim;
        }
        checkSize(in, o, shared);
        Offsets off = new Offsets(emb, attNorm, wq, wk, wv, wo, ffnNorm, w1, w2, w3, finalNorm, shared ? -1 : cls);
        return new Loaded(c, read(in, c, off, dtype, dim));
    }

    private static void checkSize(FloatFileReader in, long expected, boolean shared) {
        if (in.size() != expected) {
            throw new ModelFormatException(in.path() + ": size mismatch: the header describes "
                    + (shared ? "a shared" : "an unshared") + " classifier and " + expected
                    + " bytes, but the file has " + in.size() + (in.size() < expected ? " (truncated?)" : ""));
        }
    }

    private record Offsets(long emb, long attNorm, long wq, long wk, long wv, long wo, long ffnNorm,
                           long w1, long w2, long w3, long finalNorm, long cls) {
    }

    private static ModelWeights read(FloatFileReader in, ModelConfig c, Offsets o, DType dtype, int dim) throws IOException {
        int kvDim = c.kvDim();
        int hidden = c.hiddenDim();
        Matrix embedding = matrix(in, dtype, c.vocabSize(), dim, o.emb());
        LayerWeights[] layers = new LayerWeights[c.layers()];
        for (int l = 0; l < c.layers(); l++) {
            float[] attNorm = floats(in, o.attNorm() + 4L * l * dim, dim);
            float[] ffnNorm = floats(in, o.ffnNorm() + 4L * l * dim, dim);
            float[] qkv = new float[c.qkvDim() * dim];
            in.readFloats(o.wq() + 4L * l * dim * dim, qkv, 0, dim * dim);
            in.readFloats(o.wk() + 4L * l * kvDim * dim, qkv, dim * dim, kvDim * dim);
            in.readFloats(o.wv() + 4L * l * kvDim * dim, qkv, dim * dim + kvDim * dim, kvDim * dim);
            float[] upGate = new float[2 * hidden * dim];
            in.readFloats(o.w1() + 4L * l * hidden * dim, upGate, 0, hidden * dim);
            in.readFloats(o.w3() + 4L * l * hidden * dim, upGate, hidden * dim, hidden * dim);
            layers[l] = new LayerWeights(attNorm, null,
                    Matrix.of(dtype, qkv, c.qkvDim(), dim), null,
                    matrix(in, dtype, dim, dim, o.wo() + 4L * l * dim * dim), null,
                    ffnNorm, null,
                    Matrix.of(dtype, upGate, 2 * hidden, dim), null,
                    matrix(in, dtype, dim, hidden, o.w2() + 4L * l * dim * hidden), null);
        }
        float[] finalNorm = floats(in, o.finalNorm(), dim);
        Matrix classifier = o.cls() < 0 ? embedding : matrix(in, dtype, c.vocabSize(), dim, o.cls());
        return new ModelWeights(embedding, null, layers, finalNorm, null, classifier, null);
    }

    private static float[] floats(FloatFileReader in, long offset, int n) throws IOException {
        float[] a = new float[n];
        in.readFloats(offset, a, 0, n);
        return a;
    }

    private static Matrix matrix(FloatFileReader in, DType dtype, int rows, int cols, long offset) throws IOException {
        return Matrix.load(dtype, rows, cols, (first, count, dst, off) ->
                in.readFloats(offset + 4L * first * cols, dst, off, count * cols));
    }
}
