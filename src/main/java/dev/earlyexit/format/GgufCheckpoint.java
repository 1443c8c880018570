package dev.earlyexit.format;

import dev.earlyexit.model.LayerWeights;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.ModelConfig.MlpKind;
import dev.earlyexit.model.ModelConfig.NormKind;
import dev.earlyexit.model.ModelConfig.ResidualKind;
import dev.earlyexit.model.ModelConfig.RopeStyle;
import dev.earlyexit.model.ModelWeights;
import dev.earlyexit.model.RopeScaling;
import dev.earlyexit.tensor.GgmlDequant;
import dev.earlyexit.tensor.GgmlMatrices;
import dev.earlyexit.tensor.GgmlType;
import dev.earlyexit.tensor.Matrix;
import dev.earlyexit.tokenizer.GgufTokenizers;
import dev.earlyexit.tokenizer.Tokenizer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.stream.IntStream;

/**
 * Loads a GGUF model as llama.cpp's converter writes it: architectures llama (also Mistral, Llama 3.x),
 * qwen2, qwen3, phi3, gpt2, phi2 and gptneox. Weights stay in their ggml encoding where a kernel reads it
 * ({@link GgmlMatrices#kernelTypeFor}); tensors are read a chunk of rows at a time into the matrices, so neither
 * a float32 copy of the model nor a mapping of the file stays in memory beside them.
 *
 * <p>llama.cpp's {@code llama} files hold q/k rows in Meta's order for interleaved RoPE; the NeoX-style
 * architectures rotate halves (our {@link RopeStyle#HALF}).
 */
public final class GgufCheckpoint {
    private GgufCheckpoint() {
    }

    /**
     * @param conversions how tensors whose type has no kernel of its own are stored, one phrase per case
     *                    (e.g. "q5_1 as q8"); empty when every tensor stays in its own encoding
     */
    public record Loaded(ModelConfig config, ModelWeights weights, Tokenizer tokenizerOrNull,
                         Optional<String> chatTemplate, GgufFile file, List<String> conversions) {
    }

    public static Loaded load(Path path) throws IOException {
        GgufFile f = GgufFile.open(path);
        try {
            ModelConfig c = config(f);
            // A vocabulary of 128k tokens and 280k merges takes about a second to build: alongside the weights.
            FutureTask<Tokenizer> tokenizer = new FutureTask<>(() -> GgufTokenizers.load(f));
            Thread t = new Thread(tokenizer, "gguf-tokenizer");
            t.setDaemon(true);
            t.start();
            ModelWeights w;
            Reader reader = new Reader(f, c);
            try {
                w = reader.weights();
            } catch (IOException | RuntimeException e) {
                tokenizer.cancel(true);
                throw e;
            }
            Tokenizer tok = joined(tokenizer);
            if (tok != null && tok.vocabSize() > c.vocabSize()) {
                throw new ModelFormatException(path + ": the tokenizer has " + tok.vocabSize()
                        + " tokens but the model only " + c.vocabSize() + " rows of embedding");
            }
            return new Loaded(c, w, tok, f.string("tokenizer.chat_template"), f, List.copyOf(new TreeSet<>(reader.conversions)));
        } finally {
            f.close(); // the few small vectors read through mappings stay valid after the channel closes
        }
    }

    private static Tokenizer joined(FutureTask<Tokenizer> tokenizer) throws IOException {
        try {
            return tokenizer.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while loading the tokenizer", e);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof RuntimeException r) {
                throw r; // ModelFormatException with its message, or a bug as itself
            }
            if (cause instanceof Error err) {
                throw err;
            }
            throw new IOException(cause);
        }
    }

    static ModelConfig config(GgufFile f) {
        String arch = f.string("general.architecture").orElseThrow(() ->
                new ModelFormatException(f.path() + ": GGUF metadata lacks general.architecture"));
        String p = arch + ".";
        RopeStyle style;
        NormKind norm;
        MlpKind mlp;
        ResidualKind residual;
        boolean learnedPositions = false;
        boolean qkNorm = false;
        switch (arch) {
            case "llama" -> { style = RopeStyle.INTERLEAVED; norm = NormKind.RMS; mlp = MlpKind.SWIGLU; residual = ResidualKind.SEQUENTIAL; }
            case "qwen2", "phi3" -> { style = RopeStyle.HALF; norm = NormKind.RMS; mlp = MlpKind.SWIGLU; residual = ResidualKind.SEQUENTIAL; }
            case "qwen3" -> { style = RopeStyle.HALF; norm = NormKind.RMS; mlp = MlpKind.SWIGLU; residual = ResidualKind.SEQUENTIAL; qkNorm = true; }
            case "gpt2" -> { style = RopeStyle.HALF; norm = NormKind.LAYER; mlp = MlpKind.GELU_TANH; residual = ResidualKind.SEQUENTIAL; learnedPositions = true; }
            case "phi2" -> { style = RopeStyle.HALF; norm = NormKind.LAYER; mlp = MlpKind.GELU_TANH; residual = ResidualKind.PARALLEL_SHARED_NORM; }
            case "gptneox" -> {
                style = RopeStyle.HALF; norm = NormKind.LAYER; mlp = MlpKind.GELU_EXACT;
                residual = f.bool(p + "use_parallel_residual", true) ? ResidualKind.PARALLEL : ResidualKind.SEQUENTIAL;
            }
            default -> throw new ModelFormatException(f.path() + ": GGUF architecture \"" + arch
                    + "\" is not supported (llama, qwen2, qwen3, phi3, gpt2, phi2, gptneox are)");
        }
        int dim = (int) f.integer(p + "embedding_length");
        int hidden = (int) f.integer(p + "feed_forward_length");
        int layers = (int) f.integer(p + "block_count");
        int heads = (int) f.integer(p + "attention.head_count");
        int kvHeads = (int) f.integer(p + "attention.head_count_kv", heads);
        int headDim = (int) f.integer(p + "attention.key_length", heads > 0 ? dim / heads : 0);
        int ctx = (int) Math.min(Integer.MAX_VALUE, f.integer(p + "context_length"));
        GgufFile.TensorInfo emb = f.tensor("token_embd.weight").orElseThrow(() -> missing(f, "token_embd.weight"));
        int vocab = (int) (emb.dims().length > 1 ? emb.dims()[1] : 0);
        float eps = (float) (norm == NormKind.RMS ? f.number(p + "attention.layer_norm_rms_epsilon", 1e-5)
                : f.number(p + "attention.layer_norm_epsilon", 1e-5));
        float theta = (float) f.number(p + "rope.freq_base", 10000);
        int rotary = arch.equals("gpt2") ? 0 : (int) f.integer(p + "rope.dimension_count", headDim);
        RopeScaling scaling = ropeScaling(f, p);
        long bos = f.integer("tokenizer.ggml.bos_token_id", -1);
        long eos = f.integer("tokenizer.ggml.eos_token_id", -1);
        if (!f.bool("tokenizer.ggml.add_bos_token", arch.equals("llama"))) {
            bos = -1;
        }
        try {
            return new ModelConfig(arch, dim, hidden, layers, heads, kvHeads, headDim, vocab, ctx, norm, eps, theta, rotary,
                    style, mlp, residual, learnedPositions, (int) bos, (int) eos, scaling, qkNorm);
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(f.path() + ": " + e.getMessage());
        }
    }

    private static RopeScaling ropeScaling(GgufFile f, String p) {
        Optional<GgufFile.TensorInfo> freqs = f.tensor("rope_freqs.weight");
        if (freqs.isPresent()) {
            try {
                return RopeScaling.freqFactors(floats(f, freqs.get()));
            } catch (IOException e) {
                throw new ModelFormatException(f.path() + ": cannot read rope_freqs.weight: " + e.getMessage());
            }
        }
        String type = f.string(p + "rope.scaling.type").orElse("none");
        double factor = f.number(p + "rope.scaling.factor", 1);
        return switch (type) {
            case "none" -> RopeScaling.NONE;
            case "linear" -> factor == 1 ? RopeScaling.NONE : RopeScaling.linear(factor);
            default -> throw new ModelFormatException(f.path() + ": GGUF " + p + "rope.scaling.type \"" + type
                    + "\" is not supported (none, linear, or llama 3's rope_freqs tensor)");
        };
    }

    private static ModelFormatException missing(GgufFile f, String name) {
        return new ModelFormatException(f.path() + ": GGUF file lacks tensor " + name);
    }

    static float[] floats(GgufFile f, GgufFile.TensorInfo t) throws IOException {
        if (t.elements() > Integer.MAX_VALUE - 8) {
            throw new ModelFormatException(f.path() + ": tensor " + t.name() + " is too large for a vector");
        }
        requireSupported(f, t);
        float[] a = new float[(int) t.elements()];
        GgmlDequant.dequantize(t.type(), f.data(t), a, 0, a.length);
        return a;
    }

    /** A tensor of a type we cannot decode (q8_1, most i-quants) is the file's fault, named as such. */
    private static void requireSupported(GgufFile f, GgufFile.TensorInfo t) {
        if (!GgmlDequant.supports(t.type())) {
            throw new ModelFormatException(f.path() + ": tensor " + t.name() + " has ggml type " + t.type().ggmlName()
                    + ", which is not supported as a weight (f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q2_k-q6_k, "
                    + "iq4_nl and iq4_xs are)");
        }
    }

    private static final class Reader {
        /**
         * Bytes read from the file at a time (a few rows of the largest tensors). Each loading thread holds
         * one such chunk and the JDK one direct buffer of its size for the read: at 8 MB they were 30 MB of
         * peak RSS on 2 cores, at 1 MB the reads are still long enough that loading is no slower.
         */
        private static final int CHUNK_BYTES = 1 << 20;
        final GgufFile f;
        final ModelConfig c;
        /** Chunk buffers, one per thread loading at the same time, handed back after each tensor. */
        private final ConcurrentLinkedQueue<ByteBuffer> freeChunks = new ConcurrentLinkedQueue<>();
        final Set<String> conversions = ConcurrentHashMap.newKeySet();

        Reader(GgufFile f, ModelConfig c) {
            this.f = f;
            this.c = c;
        }

        GgufFile.TensorInfo info(String name, long... dims) {
            GgufFile.TensorInfo t = f.tensor(name).orElseThrow(() -> missing(f, name));
            if (!java.util.Arrays.equals(t.dims(), dims)) {
                throw new ModelFormatException(f.path() + ": tensor " + name + " has shape "
                        + java.util.Arrays.toString(t.dims()) + ", the model's hyper-parameters need "
                        + java.util.Arrays.toString(dims) + " (dims innermost first)");
            }
            requireSupported(f, t);
            return t;
        }

        float[] vector(String name, int n) throws IOException {
            return floats(f, info(name, n));
        }

        float[] optionalVector(String name, int n) throws IOException {
            return f.tensor(name).isPresent() ? vector(name, n) : null;
        }

        Matrix matrix(String name, int rows, int cols) throws IOException {
            return stacked(new String[]{name}, new int[]{rows}, cols);
        }

        /**
         * Row blocks stacked into one matrix (q|k|v, gate|up), in their kernel type; blocks of different
         * types (a Q4_K_M file's v in Q6_K with q and k in Q4_K) share q8 storage, which holds each of
         * them within 1/254 of a block's largest value (requantizing v to Q4_K would lose two bits). The
         * bytes are read a chunk of rows at a time into one reused buffer and repacked straight into the
         * matrix: no tensor stays mapped or is copied whole, so the weights are in memory once.
         */
        Matrix stacked(String[] names, int[] rows, int cols) throws IOException {
            GgufFile.TensorInfo[] ts = new GgufFile.TensorInfo[names.length];
            int total = 0;
            for (int i = 0; i < names.length; i++) {
                ts[i] = info(names[i], cols, rows[i]);
                total += rows[i];
            }
            ByteBuffer chunk = freeChunks.poll();
            try {
                GgmlType storage = ts[0].type();
                for (GgufFile.TensorInfo t : ts) {
                    if (GgmlMatrices.kernelTypeFor(t.type()) != GgmlMatrices.kernelTypeFor(storage)) {
                        storage = GgmlType.Q8_0;
                    }
                }
                Matrix m = GgmlMatrices.allocate(storage, total, cols);
                for (GgufFile.TensorInfo t : ts) {
                    boolean fusedAway = GgmlMatrices.kernelTypeFor(t.type()) != m.dtype();
                    if (fusedAway || !GgmlMatrices.keptAsIs(t.type())) {
                        conversions.add(t.type().ggmlName() + " as " + m.dtype().cliName()
                                + (fusedAway ? " (fused with another type)" : ""));
                    }
                }
                int firstRow = 0;
                for (int i = 0; i < ts.length; i++) {
                    long rowBytes = ts[i].type().bytesFor(cols);
                    int chunkRows = (int) Math.max(1, Math.min(rows[i], CHUNK_BYTES / rowBytes));
                    int chunkBytes = Math.toIntExact(chunkRows * rowBytes);
                    if (chunk == null || chunk.capacity() < chunkBytes) {
                        chunk = ByteBuffer.allocate(Math.max(chunkBytes, CHUNK_BYTES)).order(ByteOrder.LITTLE_ENDIAN);
                    }
                    for (int r = 0; r < rows[i]; r += chunkRows) {
                        int n = Math.min(chunkRows, rows[i] - r);
                        chunk.clear().limit(Math.toIntExact(n * rowBytes));
                        f.read(ts[i], r * rowBytes, chunk);
                        chunk.flip();
                        GgmlMatrices.fillRows(m, ts[i].type(), firstRow + r, n, chunk);
                    }
                    firstRow += rows[i];
                }
                return m;
            } catch (IllegalArgumentException e) {
                throw new ModelFormatException(f.path() + ": tensor " + names[0] + ": " + e.getMessage());
            } finally {
                if (chunk != null) {
                    freeChunks.add(chunk);
                }
            }
        }

        float[] stackedBias(String[] names, int[] rows) throws IOException {
            if (f.tensor(names[0]).isEmpty()) {
                return null;
            }
            int total = 0;
            for (int r : rows) {
                total += r;
            }
            float[] all = new float[total];
            int at = 0;
            for (int i = 0; i < names.length; i++) {
                System.arraycopy(vector(names[i], rows[i]), 0, all, at, rows[i]);
                at += rows[i];
            }
            return all;
        }

        LayerWeights layer(int l) throws IOException {
            int dim = c.dim();
            int hidden = c.hiddenDim();
            int q = c.qDim();
            int kv = c.kvDim();
            boolean gated = c.mlp() == MlpKind.SWIGLU;
            int[] qkvRows = {q, kv, kv};
            String b = "blk." + l + ".";
            boolean fusedQkv = f.tensor(b + "attn_qkv.weight").isPresent();
            Matrix wqkv = fusedQkv ? matrix(b + "attn_qkv.weight", q + 2 * kv, dim)
                    : stacked(new String[]{b + "attn_q.weight", b + "attn_k.weight", b + "attn_v.weight"}, qkvRows, dim);
            float[] bqkv = fusedQkv ? optionalVector(b + "attn_qkv.bias", q + 2 * kv)
                    : stackedBias(new String[]{b + "attn_q.bias", b + "attn_k.bias", b + "attn_v.bias"}, qkvRows);
            Matrix up;
            float[] bUp;
            if (!gated) {
                up = matrix(b + "ffn_up.weight", hidden, dim);
                bUp = optionalVector(b + "ffn_up.bias", hidden);
            } else if (f.tensor(b + "ffn_gate.weight").isPresent()) {
                up = stacked(new String[]{b + "ffn_gate.weight", b + "ffn_up.weight"}, new int[]{hidden, hidden}, dim);
                bUp = null;
            } else {
                up = matrix(b + "ffn_up.weight", 2 * hidden, dim); // phi3: gate|up in one tensor
                bUp = null;
            }
            boolean sharedNorm = c.residual() == ResidualKind.PARALLEL_SHARED_NORM;
            return new LayerWeights(
                    vector(b + "attn_norm.weight", dim), optionalVector(b + "attn_norm.bias", dim),
                    wqkv, bqkv,
                    matrix(b + "attn_output.weight", dim, q), optionalVector(b + "attn_output.bias", dim),
                    sharedNorm ? null : vector(b + "ffn_norm.weight", dim),
                    sharedNorm ? null : optionalVector(b + "ffn_norm.bias", dim),
                    up, bUp,
                    matrix(b + "ffn_down.weight", dim, hidden), optionalVector(b + "ffn_down.bias", dim),
                    c.qkNorm() ? vector(b + "attn_q_norm.weight", c.headDim()) : null,
                    c.qkNorm() ? vector(b + "attn_k_norm.weight", c.headDim()) : null);
        }

        private interface IndexedTask {
            void run(int i) throws IOException;
        }

        /** Runs task(0..n-1) on the common fork-join pool (loading happens once, before any kernel runs). */
        private static void inParallel(int n, IndexedTask task) throws IOException {
            try {
                IntStream.range(0, n).parallel().forEach(i -> {
                    try {
                        task.run(i);
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                });
            } catch (UncheckedIOException e) {
                throw e.getCause();
            }
        }

        ModelWeights weights() throws IOException {
            int dim = c.dim();
            float[] positions = null;
            if (c.learnedPositions()) {
                GgufFile.TensorInfo pe = f.tensor("position_embd.weight").orElseThrow(() -> missing(f, "position_embd.weight"));
                positions = floats(f, pe);
                int n = positions.length / dim;
                if (pe.dims().length != 2 || pe.dims()[0] != dim) {
                    throw new ModelFormatException(f.path() + ": tensor position_embd.weight has the wrong shape");
                }
                if (n < c.maxSeqLen()) {
                    throw new ModelFormatException(f.path() + ": position_embd.weight has " + n + " positions, context is "
                            + c.maxSeqLen());
                }
            }
            // The embedding, the classifier and each layer on their own: the cores share the page faults
            // of new arrays and the repacking, which dominate loading (about 2x faster on 2 cores).
            if (c.layers() > f.tensors().size()) { // each layer has several tensors: checked before allocating
                throw new ModelFormatException(f.path() + ": block_count " + c.layers() + " but the file has only "
                        + f.tensors().size() + " tensors");
            }
            LayerWeights[] layers = new LayerWeights[c.layers()];
            Matrix[] embeddingAndOutput = new Matrix[2];
            boolean untied = f.tensor("output.weight").isPresent();
            inParallel(2 + c.layers(), i -> {
                if (i == 0) {
                    embeddingAndOutput[0] = matrix("token_embd.weight", c.vocabSize(), dim);
                } else if (i == 1) {
                    embeddingAndOutput[1] = untied ? matrix("output.weight", c.vocabSize(), dim) : null;
                } else {
                    layers[i - 2] = layer(i - 2);
                }
            });
            Matrix embedding = embeddingAndOutput[0];
            float[] finalNorm = vector("output_norm.weight", dim);
            float[] finalBias = optionalVector("output_norm.bias", dim);
            Matrix classifier = untied ? embeddingAndOutput[1] : embedding;
            return new ModelWeights(embedding, positions, layers, finalNorm, finalBias, classifier,
                    optionalVector("output.bias", c.vocabSize()));
        }
    }
}
