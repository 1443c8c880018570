package dev.earlyexit.format;

import dev.earlyexit.model.LayerWeights;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.ModelWeights;
import dev.earlyexit.model.RopeScaling;
import dev.earlyexit.tensor.DType;
import dev.earlyexit.tensor.Matrix;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.List;

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
                ModelConfig.MlpKind.SWIGLU, ModelConfig.ResidualKind.SEQUENTIAL, false, 1, 2, RopeScaling.NONE, false);
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
        try {
            return config(dim, hidden, layers, heads, kvHeads, vocab, seqLen);
        } catch (IllegalArgumentException e) {
            // ModelConfig's own checks (e.g. an odd head size) speak of a config; here the file is at fault
            throw new ModelFormatException(path + ": not a llama2.c checkpoint: " + e.getMessage(), e);
        }
    }

    private static Loaded loadLegacy(FloatFileReader in, int[] h, DType dtype) throws IOException {
        boolean shared = h[5] > 0;
        ModelConfig c = validated(in.path(), h[0], h[1], h[2], h[3], h[4], Math.abs(h[5]), h[6]);
        Layout layout = new Layout(c, LEGACY_HEADER_BYTES, List.of(Part.EMBEDDING, Part.ATTENTION_NORM, Part.WQ, Part.WK,
                Part.WV, Part.WO, Part.MLP_NORM, Part.W1, Part.W2, Part.W3, Part.FINAL_NORM, Part.LEGACY_ROPE_TABLES,
                Part.CLASSIFIER), shared);
        checkSize(in, layout.end, shared);
        return new Loaded(c, read(in, c, layout, dtype));
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
        Layout layout = new Layout(c, V1_HEADER_BYTES, List.of(Part.ATTENTION_NORM, Part.MLP_NORM, Part.FINAL_NORM,
                Part.EMBEDDING, Part.WQ, Part.WK, Part.WV, Part.WO, Part.W1, Part.W2, Part.W3, Part.CLASSIFIER), shared);
        checkSize(in, layout.end, shared);
        return new Loaded(c, read(in, c, layout, dtype));
    }

    /** The tensors of a llama2.c file; each is all layers' slices back to back where it is per layer. */
    private enum Part {
        EMBEDDING, ATTENTION_NORM, WQ, WK, WV, WO, MLP_NORM, W1, W2, W3, FINAL_NORM, LEGACY_ROPE_TABLES, CLASSIFIER;

        long floats(ModelConfig c) {
            long L = c.layers();
            long dim = c.dim();
            return switch (this) {
                case EMBEDDING, CLASSIFIER -> (long) c.vocabSize() * dim;
                case ATTENTION_NORM, MLP_NORM -> L * dim;
                case WQ, WO -> L * dim * dim;
                case WK, WV -> L * dim * c.kvDim();
                case W1, W2, W3 -> L * dim * c.hiddenDim();
                case FINAL_NORM -> dim;
                case LEGACY_ROPE_TABLES -> 2L * c.maxSeqLen() * c.headDim() / 2; // freq_cis_real and _imag
            };
        }
    }

    /** Byte offsets of the parts in the order a layout stores them; the classifier only when unshared. */
    private static final class Layout {
        final EnumMap<Part, Long> offsets = new EnumMap<>(Part.class);
        final long end;

        Layout(ModelConfig c, long start, List<Part> order, boolean sharedClassifier) {
            long o = start;
            for (Part p : order) {
                if (p == Part.CLASSIFIER && sharedClassifier) {
                    continue;
                }
                offsets.put(p, o);
                o += 4L * p.floats(c);
            }
            end = o;
        }

        long of(Part p) {
            return offsets.get(p);
        }
    }

    private static void checkSize(FloatFileReader in, long expected, boolean shared) {
        if (in.size() != expected) {
            throw new ModelFormatException(in.path() + ": size mismatch: the header describes "
                    + (shared ? "a shared" : "an unshared") + " classifier and " + expected
                    + " bytes, but the file has " + in.size() + (in.size() < expected ? " (truncated?)" : ""));
        }
    }

    private static ModelWeights read(FloatFileReader in, ModelConfig c, Layout o, DType dtype) throws IOException {
        int dim = c.dim();
        int kvDim = c.kvDim();
        int hidden = c.hiddenDim();
        Matrix embedding = matrix(in, dtype, c.vocabSize(), dim, o.of(Part.EMBEDDING));
        LayerWeights[] layers = new LayerWeights[c.layers()];
        for (int l = 0; l < c.layers(); l++) {
            float[] attNorm = floats(in, o.of(Part.ATTENTION_NORM) + 4L * l * dim, dim);
            float[] ffnNorm = floats(in, o.of(Part.MLP_NORM) + 4L * l * dim, dim);
            float[] qkv = new float[c.qkvDim() * dim];
            in.readFloats(o.of(Part.WQ) + 4L * l * dim * dim, qkv, 0, dim * dim);
            in.readFloats(o.of(Part.WK) + 4L * l * kvDim * dim, qkv, dim * dim, kvDim * dim);
            in.readFloats(o.of(Part.WV) + 4L * l * kvDim * dim, qkv, dim * dim + kvDim * dim, kvDim * dim);
            float[] upGate = new float[2 * hidden * dim];
            in.readFloats(o.of(Part.W1) + 4L * l * hidden * dim, upGate, 0, hidden * dim);
            in.readFloats(o.of(Part.W3) + 4L * l * hidden * dim, upGate, hidden * dim, hidden * dim);
            layers[l] = new LayerWeights(attNorm, null,
                    Matrix.of(dtype, qkv, c.qkvDim(), dim), null,
                    matrix(in, dtype, dim, dim, o.of(Part.WO) + 4L * l * dim * dim), null,
                    ffnNorm, null,
                    Matrix.of(dtype, upGate, 2 * hidden, dim), null,
                    matrix(in, dtype, dim, hidden, o.of(Part.W2) + 4L * l * dim * hidden), null, null, null);
        }
        float[] finalNorm = floats(in, o.of(Part.FINAL_NORM), dim);
        Matrix classifier = o.offsets.containsKey(Part.CLASSIFIER)
                ? matrix(in, dtype, c.vocabSize(), dim, o.of(Part.CLASSIFIER)) : embedding;
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
