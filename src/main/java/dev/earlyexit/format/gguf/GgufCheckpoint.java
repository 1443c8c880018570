package dev.earlyexit.format.gguf;

import dev.earlyexit.format.ModelFormatException;
import dev.earlyexit.model.LayerWeights;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.ModelWeights;
import dev.earlyexit.model.RopeScaling;
import dev.earlyexit.tensor.GgmlDequant;
import dev.earlyexit.tensor.GgmlMatrices;
import dev.earlyexit.tensor.Matrix;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import dev.earlyexit.tokenizer.SentencePieceBpeTokenizer;
import dev.earlyexit.tokenizer.Tokenizer;

/**
 * Loads a GGUF model onto the engine's generic block. So far: architecture {@code llama} (Llama 2/3,
 * Mistral); other architectures are refused by name. llama.cpp's {@code llama} files keep q/k rows in the
 * Meta (interleaved RoPE) order, hence {@link ModelConfig.RopeStyle#INTERLEAVED}. Matrices stay in their
 * ggml encoding where a kernel reads it ({@link GgmlMatrices#kernelTypeFor}); q|k|v and gate|up are fused
 * by concatenating their encoded rows (same type required).
 */
public final class GgufCheckpoint {
    private GgufCheckpoint() {
    }

    /** {@code chatTemplate}: tokenizer.chat_template, or null; {@code tokenizerOrNull}: from the metadata, when it has one. */
    public record Loaded(ModelConfig config, ModelWeights weights, Tokenizer tokenizerOrNull, String chatTemplate) {
    }

    public static Loaded load(Path path) throws IOException {
        try (GgufFile f = GgufFile.open(path)) {
            String arch = f.string("general.architecture");
            if (!arch.equals("llama")) {
                throw new ModelFormatException(path + ": GGUF architecture \"" + arch + "\" is not supported yet (supported: llama)");
            }
            ModelConfig c = llamaConfig(f, arch);
            return new Loaded(c, llamaWeights(f, c), tokenizer(f), f.string("tokenizer.chat_template", null));
        }
    }

    /** SentencePiece ({@code tokenizer.ggml.model = llama}) from the metadata; other tokenizer models are refused by name. */
    static Tokenizer tokenizer(GgufFile f) {
        if (!f.has("tokenizer.ggml.model")) {
            return null;
        }
        String model = f.string("tokenizer.ggml.model");
        if (!model.equals("llama")) {
            throw new ModelFormatException(f.path() + ": tokenizer.ggml.model \"" + model + "\" is not supported yet (supported: llama)");
        }
        List<Object> tokens = f.array("tokenizer.ggml.tokens", GgufFile.ValueType.STRING);
        List<Object> scores = f.array("tokenizer.ggml.scores", GgufFile.ValueType.FLOAT32);
        if (tokens == null || scores == null) {
            throw new ModelFormatException(f.path() + ": SentencePiece tokenizer without tokenizer.ggml.tokens/scores");
        }
        String[] pieces = tokens.toArray(new String[0]);
        float[] s = new float[scores.size()];
        for (int i = 0; i < s.length; i++) {
            s[i] = (Float) scores.get(i);
        }
        try {
            return SentencePieceBpeTokenizer.fromPieces(pieces, s);
        } catch (ModelFormatException e) {
            throw new ModelFormatException(f.path() + ": " + e.getMessage(), e);
        }
    }

    private static ModelConfig llamaConfig(GgufFile f, String a) {
        int dim = f.int32(a + ".embedding_length");
        int heads = f.int32(a + ".attention.head_count");
        int kvHeads = f.int32(a + ".attention.head_count_kv", heads);
        int headDim = f.int32(a + ".attention.key_length", dim / heads);
        int rotary = f.int32(a + ".rope.dimension_count", headDim);
        String scaling = f.string(a + ".rope.scaling.type", "none");
        if (!scaling.equals("none")) {
            throw new ModelFormatException(f.path() + ": " + a + ".rope.scaling.type \"" + scaling + "\" is not supported yet");
        }
        if (f.tensors().containsKey("rope_freqs.weight")) {
            throw new ModelFormatException(f.path() + ": rope_freqs.weight (Llama-3.1 RoPE scaling) is not supported yet");
        }
        int vocab = Math.toIntExact(f.tensor("token_embd.weight").dims()[1]);
        int bos = f.has("tokenizer.ggml.bos_token_id") ? f.int32("tokenizer.ggml.bos_token_id") : -1;
        int eos = f.has("tokenizer.ggml.eos_token_id") ? f.int32("tokenizer.ggml.eos_token_id") : -1;
        try {
            return new ModelConfig(a, dim, f.int32(a + ".feed_forward_length"), f.int32(a + ".block_count"), heads, kvHeads,
                    headDim, vocab, f.int32(a + ".context_length"), ModelConfig.NormKind.RMS,
                    (float) f.number(a + ".attention.layer_norm_rms_epsilon", 1e-5), (float) f.number(a + ".rope.freq_base", 10000),
                    rotary, ModelConfig.RopeStyle.INTERLEAVED, ModelConfig.MlpKind.SWIGLU, ModelConfig.ResidualKind.SEQUENTIAL,
                    false, bos, eos, RopeScaling.NONE, false);
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(f.path() + ": " + e.getMessage(), e);
        }
    }

    private static ModelWeights llamaWeights(GgufFile f, ModelConfig c) throws IOException {
        int dim = c.dim();
        Matrix embedding = matrix(f, c.vocabSize(), dim, "token_embd.weight");
        LayerWeights[] layers = new LayerWeights[c.layers()];
        for (int l = 0; l < c.layers(); l++) {
            String p = "blk." + l + ".";
            layers[l] = new LayerWeights(
                    vector(f, p + "attn_norm.weight", dim), null,
                    fused(f, dim, new String[]{p + "attn_q.weight", p + "attn_k.weight", p + "attn_v.weight"},
                            new int[]{c.qDim(), c.kvDim(), c.kvDim()}), null,
                    matrix(f, dim, c.qDim(), p + "attn_output.weight"), null,
                    vector(f, p + "ffn_norm.weight", dim), null,
                    fused(f, dim, new String[]{p + "ffn_gate.weight", p + "ffn_up.weight"},
                            new int[]{c.hiddenDim(), c.hiddenDim()}), null,
                    matrix(f, dim, c.hiddenDim(), p + "ffn_down.weight"), null,
                    null, null);
        }
        Matrix classifier = f.tensors().containsKey("output.weight")
                ? matrix(f, c.vocabSize(), dim, "output.weight") : embedding;
        return new ModelWeights(embedding, null, layers, vector(f, "output_norm.weight", dim), null, classifier, null);
    }

    private static GgufFile.TensorInfo checked(GgufFile f, String name, long rows, long cols) {
        GgufFile.TensorInfo t = f.tensor(name);
        long[] d = t.dims();
        boolean ok = rows == 1 ? d.length == 1 && d[0] == cols : d.length == 2 && d[0] == cols && d[1] == rows;
        if (!ok) {
            throw new ModelFormatException(f.path() + ": tensor " + name + " has dims " + GgufFile.shape(d) + ", expected "
                    + (rows == 1 ? "[" + cols + "]" : "[" + cols + ", " + rows + "]"));
        }
        return t;
    }

    private static float[] vector(GgufFile f, String name, int n) throws IOException {
        GgufFile.TensorInfo t = checked(f, name, 1, n);
        float[] v = new float[n];
        GgmlDequant.dequantize(t.type(), f.read(t), v, 0, n);
        return v;
    }

    private static Matrix matrix(GgufFile f, int rows, int cols, String name) throws IOException {
        GgufFile.TensorInfo t = checked(f, name, rows, cols);
        return GgmlMatrices.of(t.type(), f.read(t), rows, cols);
    }

    /** Row blocks of the same ggml type, stacked into one matrix by concatenating their encoded bytes. */
    private static Matrix fused(GgufFile f, int cols, String[] names, int[] rows) throws IOException {
        GgufFile.TensorInfo[] ts = new GgufFile.TensorInfo[names.length];
        long bytes = 0;
        int total = 0;
        for (int i = 0; i < names.length; i++) {
            ts[i] = checked(f, names[i], rows[i], cols);
            if (ts[i].type() != ts[0].type()) {
                throw new ModelFormatException(f.path() + ": " + names[i] + " is " + ts[i].type().ggmlName() + " but " + names[0]
                        + " is " + ts[0].type().ggmlName() + ": mixed types in one fused matrix are not supported yet");
            }
            bytes += ts[i].bytes();
            total += rows[i];
        }
        ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(bytes)).order(ByteOrder.LITTLE_ENDIAN);
        for (GgufFile.TensorInfo t : ts) {
            f.read(t, b);
            b.position(b.position() + (int) t.bytes());
        }
        b.flip();
        return GgmlMatrices.of(ts[0].type(), b, total, cols);
    }
}
