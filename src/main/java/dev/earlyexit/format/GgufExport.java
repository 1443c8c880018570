package dev.earlyexit.format;

import dev.earlyexit.model.LayerWeights;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.ModelWeights;
import dev.earlyexit.model.RopeScaling;
import dev.earlyexit.tensor.GgmlMatrices;
import dev.earlyexit.tensor.GgmlType;
import dev.earlyexit.tensor.Matrix;
import dev.earlyexit.tokenizer.SentencePieceBpeTokenizer;
import dev.earlyexit.tokenizer.Tokenizer;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Writes a loaded model as a GGUF file llama.cpp loads: architecture {@code llama} (q/k rows in the
 * interleaved order llama.cpp's RoPE expects: permuted from a Hugging Face checkpoint's half-split order,
 * as is from llama2.c's) or {@code qwen2} (a llama with q/k/v biases and half-split RoPE), 2-D weights in
 * {@code type}, norms float32, the SentencePiece vocabulary in {@code tokenizer.ggml.*}.
 */
public final class GgufExport {
    private static final int TOKEN_NORMAL = 1;
    private static final int TOKEN_UNKNOWN = 2;
    private static final int TOKEN_CONTROL = 3;
    private static final int TOKEN_BYTE = 6;

    private GgufExport() {
    }

    public static void write(ModelConfig c, ModelWeights w, Tokenizer tokenizerOrNull, GgmlType type, Path out)
            throws IOException {
        boolean llamaShaped = c.norm() == ModelConfig.NormKind.RMS && c.mlp() == ModelConfig.MlpKind.SWIGLU
                && c.residual() == ModelConfig.ResidualKind.SEQUENTIAL && !c.learnedPositions() && !c.qkNorm()
                && c.rotaryDim() == c.headDim() && c.ropeScaling() instanceof RopeScaling.None;
        boolean biased = w.layers()[0].bqkv() != null;
        if (!llamaShaped || (biased && c.ropeStyle() != ModelConfig.RopeStyle.HALF)) {
            throw new IllegalArgumentException("writing " + c.architecture() + " as GGUF is not supported yet "
                    + "(Llama-shaped models without RoPE scaling are: llama2.c, Llama, Mistral, Qwen2)");
        }
        String arch = biased ? "qwen2" : "llama";
        boolean permute = arch.equals("llama") && c.ropeStyle() == ModelConfig.RopeStyle.HALF;
        GgufWriter g = new GgufWriter();
        String p = arch + ".";
        g.put("general.architecture", arch).put("general.name", c.architecture())
                .put(p + "context_length", c.maxSeqLen()).put(p + "embedding_length", c.dim())
                .put(p + "feed_forward_length", c.hiddenDim()).put(p + "block_count", c.layers())
                .put(p + "attention.head_count", c.heads()).put(p + "attention.head_count_kv", c.kvHeads())
                .put(p + "attention.key_length", c.headDim()).put(p + "attention.value_length", c.headDim())
                .put(p + "rope.dimension_count", c.rotaryDim()).put(p + "rope.freq_base", c.ropeTheta())
                .put(p + "attention.layer_norm_rms_epsilon", c.normEps());
        if (tokenizerOrNull instanceof SentencePieceBpeTokenizer sp) {
            int n = sp.vocabSize();
            String[] tokens = new String[n];
            float[] scores = new float[n];
            int[] types = new int[n];
            for (int id = 0; id < n; id++) {
                tokens[id] = sp.piece(id);
                scores[id] = sp.score(id);
                types[id] = id == sp.unkId() ? TOKEN_UNKNOWN : sp.isControlToken(id) ? TOKEN_CONTROL
                        : sp.isByteToken(id) ? TOKEN_BYTE : TOKEN_NORMAL;
            }
            g.put("tokenizer.ggml.model", "llama").put("tokenizer.ggml.tokens", tokens)
                    .put("tokenizer.ggml.scores", scores).put("tokenizer.ggml.token_type", types)
                    .put("tokenizer.ggml.bos_token_id", sp.bosId()).put("tokenizer.ggml.eos_token_id", sp.eosId())
                    .put("tokenizer.ggml.unknown_token_id", sp.unkId())
                    .put("tokenizer.ggml.add_bos_token", c.bosId() >= 0);
        } else if (tokenizerOrNull != null) {
            throw new IllegalArgumentException("writing a " + tokenizerOrNull.getClass().getSimpleName()
                    + " tokenizer into GGUF is not supported yet (SentencePiece is)");
        }
        g.tensor("token_embd.weight", dims(w.tokenEmbedding()), type, encode(w.tokenEmbedding(), type, 0, w.tokenEmbedding().rows(), 0));
        int q = c.qDim();
        int kv = c.kvDim();
        int h = c.hiddenDim();
        for (int l = 0; l < c.layers(); l++) {
            LayerWeights lw = w.layers()[l];
            String b = "blk." + l + ".";
            g.tensor(b + "attn_norm.weight", new long[]{c.dim()}, GgmlType.F32, f32(lw.attnNorm()));
            g.tensor(b + "attn_q.weight", new long[]{c.dim(), q}, type, encode(lw.wqkv(), type, 0, q, permute ? c.headDim() : 0));
            g.tensor(b + "attn_k.weight", new long[]{c.dim(), kv}, type, encode(lw.wqkv(), type, q, kv, permute ? c.headDim() : 0));
            g.tensor(b + "attn_v.weight", new long[]{c.dim(), kv}, type, encode(lw.wqkv(), type, q + kv, kv, 0));
            if (lw.bqkv() != null) {
                g.tensor(b + "attn_q.bias", new long[]{q}, GgmlType.F32, f32(java.util.Arrays.copyOfRange(lw.bqkv(), 0, q)));
                g.tensor(b + "attn_k.bias", new long[]{kv}, GgmlType.F32, f32(java.util.Arrays.copyOfRange(lw.bqkv(), q, q + kv)));
                g.tensor(b + "attn_v.bias", new long[]{kv}, GgmlType.F32, f32(java.util.Arrays.copyOfRange(lw.bqkv(), q + kv, q + 2 * kv)));
            }
            g.tensor(b + "attn_output.weight", dims(lw.wo()), type, encode(lw.wo(), type, 0, lw.wo().rows(), 0));
            g.tensor(b + "ffn_norm.weight", new long[]{c.dim()}, GgmlType.F32, f32(lw.mlpNorm()));
            g.tensor(b + "ffn_gate.weight", new long[]{c.dim(), h}, type, encode(lw.wUp(), type, 0, h, 0));
            g.tensor(b + "ffn_up.weight", new long[]{c.dim(), h}, type, encode(lw.wUp(), type, h, h, 0));
            g.tensor(b + "ffn_down.weight", dims(lw.wDown()), type, encode(lw.wDown(), type, 0, lw.wDown().rows(), 0));
        }
        g.tensor("output_norm.weight", new long[]{c.dim()}, GgmlType.F32, f32(w.finalNorm()));
        if (w.classifier() != w.tokenEmbedding()) {
            g.tensor("output.weight", dims(w.classifier()), type, encode(w.classifier(), type, 0, w.classifier().rows(), 0));
        }
        g.write(out);
    }

    private static long[] dims(Matrix m) {
        return new long[]{m.cols(), m.rows()};
    }

    private static byte[] f32(float[] v) {
        return GgmlMatrices.quantize(GgmlType.F32, v, 0, 1, v.length);
    }

    /**
     * Rows [first, first + n) of {@code m} in {@code type}; with {@code permuteHead} > 0, each head's rows
     * reordered from half-split (HF) to interleaved (Meta, llama.cpp) order: row 2i+j of a head is HF row j*hd/2+i.
     */
    private static byte[] encode(Matrix m, GgmlType type, int first, int n, int permuteHead) {
        int cols = m.cols();
        float[] rows = new float[Math.multiplyExact(n, cols)];
        for (int r = 0; r < n; r++) {
            int src = r;
            if (permuteHead > 0) {
                int head = r / permuteHead;
                int within = r % permuteHead;
                src = head * permuteHead + (within % 2) * (permuteHead / 2) + within / 2;
            }
            m.row(first + src, rows, r * cols);
        }
        return GgmlMatrices.quantize(GgmlMatrices.writtenType(type, cols), rows, 0, n, cols); // GgufWriter.tensor: same type
    }
}
