package dev.earlyexit.format;

import dev.earlyexit.model.LayerWeights;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.ModelConfig.MlpKind;
import dev.earlyexit.model.ModelConfig.NormKind;
import dev.earlyexit.model.ModelConfig.ResidualKind;
import dev.earlyexit.model.ModelConfig.RopeStyle;
import dev.earlyexit.model.ModelWeights;
import dev.earlyexit.model.RopeScaling;
import dev.earlyexit.tensor.GgmlMatrices;
import dev.earlyexit.tensor.GgmlType;
import dev.earlyexit.tensor.Matrix;
import dev.earlyexit.tokenizer.GgufVocabulary;
import dev.earlyexit.tokenizer.Tokenizer;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;

/**
 * Writes a loaded model as a GGUF file llama.cpp loads, with the names, layouts and metadata keys of
 * llama.cpp's converter (what {@link GgufCheckpoint} reads):
 * <ul>
 * <li>{@code llama}: RMSNorm, SwiGLU, full rotary; q/k rows in the interleaved order llama.cpp's RoPE
 *     expects (permuted from a Hugging Face checkpoint's half-split order, as is from llama2.c's); Llama 3's
 *     RoPE scaling as the {@code rope_freqs} tensor, linear scaling as {@code rope.scaling.type}/{@code factor};</li>
 * <li>{@code qwen2} (q/k/v biases), {@code qwen3} (per-head q/k RMSNorm), {@code phi3} (fused
 *     {@code attn_qkv} and gate|up {@code ffn_up}; also any half-split partial rotary Llama-shaped model);</li>
 * <li>{@code gpt2} (learned positions), {@code phi2} (one LayerNorm for attention and MLP in parallel),
 *     {@code gptneox} (fused q|k|v, partial rotary, parallel residual).</li>
 * </ul>
 * 2-D weights are in the chosen type, norms, biases and the GPT-2 position table float32. The tokenizer
 * goes into the metadata ({@link GgufVocabulary}); a model without one gets a synthetic byte-level
 * vocabulary so that llama.cpp still loads it. Anything else is refused with a message naming it.
 */
public final class GgufExport {
    private GgufExport() {
    }

    /** What was written: the GGUF architecture, and whether the vocabulary is synthetic (the model had no tokenizer). */
    public record Written(String architecture, boolean syntheticVocabulary) {
    }

    /** Optional weights a layer or the model may carry. */
    enum Part { QKV_BIAS, O_BIAS, UP_BIAS, DOWN_BIAS, ATTN_NORM_BIAS, MLP_NORM_BIAS, FINAL_NORM_BIAS, CLASSIFIER_BIAS }

    /** Per architecture: the optional parts llama.cpp reads, and those it requires (written as zeros when absent). */
    private record Spec(Set<Part> optional, Set<Part> required, boolean fusedQkv, boolean fusedGateUp,
                        boolean outputRequired) {
    }

    private static final Set<Part> LAYER_NORM_PARTS = EnumSet.of(Part.QKV_BIAS, Part.O_BIAS, Part.UP_BIAS, Part.DOWN_BIAS,
            Part.ATTN_NORM_BIAS, Part.MLP_NORM_BIAS, Part.FINAL_NORM_BIAS);

    private static final Map<String, Spec> SPECS = Map.of(
            "llama", new Spec(EnumSet.of(Part.QKV_BIAS, Part.O_BIAS, Part.UP_BIAS, Part.DOWN_BIAS), EnumSet.noneOf(Part.class),
                    false, false, false),
            "qwen2", new Spec(EnumSet.of(Part.QKV_BIAS, Part.CLASSIFIER_BIAS), EnumSet.noneOf(Part.class), false, false, false),
            "qwen3", new Spec(EnumSet.of(Part.QKV_BIAS), EnumSet.noneOf(Part.class), false, false, false),
            "phi3", new Spec(EnumSet.of(Part.QKV_BIAS), EnumSet.noneOf(Part.class), true, true, false),
            "gpt2", new Spec(EnumSet.noneOf(Part.class), LAYER_NORM_PARTS, true, false, false),
            "gptneox", new Spec(EnumSet.noneOf(Part.class), LAYER_NORM_PARTS, true, false, true),
            "phi2", new Spec(EnumSet.noneOf(Part.class), EnumSet.of(Part.QKV_BIAS, Part.O_BIAS, Part.UP_BIAS, Part.DOWN_BIAS,
                    Part.ATTN_NORM_BIAS, Part.FINAL_NORM_BIAS, Part.CLASSIFIER_BIAS), false, false, true));

    public static Written write(ModelConfig c, ModelWeights w, Tokenizer tokenizerOrNull, GgmlType type, Path out)
            throws IOException {
        return write(c, w, tokenizerOrNull, null, type, out);
    }

    /**
     * Writes {@code out}. {@code tokenizerOrNull} null gives the synthetic vocabulary; {@code chatTemplateOrNull}
     * becomes {@code tokenizer.chat_template}. Throws IllegalArgumentException for a model or tokenizer
     * llama.cpp has no architecture for.
     */
    public static Written write(ModelConfig c, ModelWeights w, Tokenizer tokenizerOrNull, String chatTemplateOrNull,
                                GgmlType type, Path out) throws IOException {
        return write(c, w, tokenizerOrNull, chatTemplateOrNull, null, type, out);
    }

    /**
     * As above, {@code nameOrNull} as {@code general.name} (llama.cpp's converter writes the model
     * directory's name; default: the architecture as the source states it).
     */
    public static Written write(ModelConfig c, ModelWeights w, Tokenizer tokenizerOrNull, String chatTemplateOrNull,
                                String nameOrNull, GgmlType type, Path out) throws IOException {
        String arch = architecture(c, w);
        Spec spec = SPECS.get(arch);
        Set<Part> present = present(c, w);
        for (Part p : present) {
            if (!spec.optional().contains(p) && !spec.required().contains(p)) {
                throw new IllegalArgumentException("writing " + c.architecture() + " as GGUF " + arch
                        + " is not supported: llama.cpp's " + arch + " has no " + describe(p));
            }
        }
        GgufVocabulary vocab = tokenizerOrNull == null ? GgufVocabulary.synthetic(c.vocabSize(), c.bosId(), c.eosId())
                : GgufVocabulary.of(tokenizerOrNull, c.vocabSize(), c.bosId(), c.eosId(), chatTemplateOrNull);

        GgufWriter g = new GgufWriter();
        String p = arch + ".";
        int context = c.learnedPositions() ? w.positionEmbedding().length / c.dim() : c.maxSeqLen();
        g.put("general.architecture", arch).put("general.name", nameOrNull != null ? nameOrNull : c.architecture())
                .put(p + "context_length", context).put(p + "embedding_length", c.dim())
                .put(p + "feed_forward_length", c.hiddenDim()).put(p + "block_count", c.layers())
                .put(p + "attention.head_count", c.heads()).put(p + "attention.head_count_kv", c.kvHeads())
                .put(p + "attention.key_length", c.headDim()).put(p + "attention.value_length", c.headDim());
        if (c.rotaryDim() > 0) {
            g.put(p + "rope.dimension_count", c.rotaryDim()).put(p + "rope.freq_base", c.ropeTheta());
        }
        g.put(p + (c.norm() == NormKind.RMS ? "attention.layer_norm_rms_epsilon" : "attention.layer_norm_epsilon"), c.normEps());
        if (arch.equals("gptneox")) {
            g.put(p + "use_parallel_residual", c.residual() == ResidualKind.PARALLEL);
        }
        byte[] ropeFreqs = ropeScaling(c, arch, g);
        for (Map.Entry<String, Object> e : vocab.metadata().entrySet()) {
            g.put(e.getKey(), e.getValue());
        }

        boolean permute = arch.equals("llama") && c.ropeStyle() == RopeStyle.HALF;
        int qkvPermute = permute ? c.headDim() : 0;
        g.tensor("token_embd.weight", dims(w.tokenEmbedding()), type, encode(w.tokenEmbedding(), type, 0, w.tokenEmbedding().rows(), 0));
        if (c.learnedPositions()) {
            g.tensor("position_embd.weight", new long[]{c.dim(), context}, GgmlType.F32, f32(w.positionEmbedding()));
        }
        if (ropeFreqs != null) {
            g.tensor("rope_freqs.weight", new long[]{c.rotaryDim() / 2}, GgmlType.F32, ropeFreqs);
        }
        int dim = c.dim();
        int q = c.qDim();
        int kv = c.kvDim();
        int h = c.hiddenDim();
        boolean gated = c.mlp() == MlpKind.SWIGLU;
        for (int l = 0; l < c.layers(); l++) {
            LayerWeights lw = w.layers()[l];
            String b = "blk." + l + ".";
            g.tensor(b + "attn_norm.weight", new long[]{dim}, GgmlType.F32, f32(lw.attnNorm()));
            bias(g, b + "attn_norm.bias", lw.attnNormBias(), dim, spec.required().contains(Part.ATTN_NORM_BIAS), 0);
            boolean qkvBias = spec.required().contains(Part.QKV_BIAS);
            if (spec.fusedQkv()) {
                g.tensor(b + "attn_qkv.weight", new long[]{dim, q + 2 * kv}, type, encode(lw.wqkv(), type, 0, q + 2 * kv, 0));
                bias(g, b + "attn_qkv.bias", lw.bqkv(), q + 2 * kv, qkvBias, 0);
            } else {
                g.tensor(b + "attn_q.weight", new long[]{dim, q}, type, encode(lw.wqkv(), type, 0, q, qkvPermute));
                g.tensor(b + "attn_k.weight", new long[]{dim, kv}, type, encode(lw.wqkv(), type, q, kv, qkvPermute));
                g.tensor(b + "attn_v.weight", new long[]{dim, kv}, type, encode(lw.wqkv(), type, q + kv, kv, 0));
                float[] bq = slice(lw.bqkv(), 0, q);
                float[] bk = slice(lw.bqkv(), q, kv);
                float[] bv = slice(lw.bqkv(), q + kv, kv);
                bias(g, b + "attn_q.bias", bq, q, qkvBias, qkvPermute);
                bias(g, b + "attn_k.bias", bk, kv, qkvBias, qkvPermute);
                bias(g, b + "attn_v.bias", bv, kv, qkvBias, 0);
            }
            if (c.qkNorm()) {
                g.tensor(b + "attn_q_norm.weight", new long[]{c.headDim()}, GgmlType.F32, f32(lw.qNorm()));
                g.tensor(b + "attn_k_norm.weight", new long[]{c.headDim()}, GgmlType.F32, f32(lw.kNorm()));
            }
            g.tensor(b + "attn_output.weight", dims(lw.wo()), type, encode(lw.wo(), type, 0, lw.wo().rows(), 0));
            bias(g, b + "attn_output.bias", lw.bo(), dim, spec.required().contains(Part.O_BIAS), 0);
            if (c.residual() != ResidualKind.PARALLEL_SHARED_NORM) {
                g.tensor(b + "ffn_norm.weight", new long[]{dim}, GgmlType.F32, f32(lw.mlpNorm()));
                bias(g, b + "ffn_norm.bias", lw.mlpNormBias(), dim, spec.required().contains(Part.MLP_NORM_BIAS), 0);
            }
            boolean upBias = spec.required().contains(Part.UP_BIAS);
            if (!gated) {
                g.tensor(b + "ffn_up.weight", new long[]{dim, h}, type, encode(lw.wUp(), type, 0, h, 0));
                bias(g, b + "ffn_up.bias", lw.bUp(), h, upBias, 0);
            } else if (spec.fusedGateUp()) {
                g.tensor(b + "ffn_up.weight", new long[]{dim, 2 * h}, type, encode(lw.wUp(), type, 0, 2 * h, 0));
            } else {
                g.tensor(b + "ffn_gate.weight", new long[]{dim, h}, type, encode(lw.wUp(), type, 0, h, 0));
                g.tensor(b + "ffn_up.weight", new long[]{dim, h}, type, encode(lw.wUp(), type, h, h, 0));
                bias(g, b + "ffn_gate.bias", slice(lw.bUp(), 0, h), h, false, 0);
                bias(g, b + "ffn_up.bias", slice(lw.bUp(), h, h), h, false, 0);
            }
            g.tensor(b + "ffn_down.weight", dims(lw.wDown()), type, encode(lw.wDown(), type, 0, lw.wDown().rows(), 0));
            bias(g, b + "ffn_down.bias", lw.bDown(), dim, spec.required().contains(Part.DOWN_BIAS), 0);
        }
        g.tensor("output_norm.weight", new long[]{dim}, GgmlType.F32, f32(w.finalNorm()));
        bias(g, "output_norm.bias", w.finalNormBias(), dim, spec.required().contains(Part.FINAL_NORM_BIAS), 0);
        if (w.classifier() != w.tokenEmbedding() || spec.outputRequired()) {
            g.tensor("output.weight", dims(w.classifier()), type, encode(w.classifier(), type, 0, w.classifier().rows(), 0));
        }
        bias(g, "output.bias", w.classifierBias(), c.vocabSize(), spec.required().contains(Part.CLASSIFIER_BIAS), 0);
        g.write(out);
        return new Written(arch, vocab.synthetic());
    }

    /**
     * The llama.cpp architecture that computes what {@code c} describes, or IllegalArgumentException
     * naming the model and what has no counterpart.
     */
    static String architecture(ModelConfig c, ModelWeights w) {
        String why = null;
        String arch = null;
        boolean rope = c.rotaryDim() > 0;
        boolean half = c.ropeStyle() == RopeStyle.HALF;
        String name = c.architecture();
        if (c.learnedPositions()) {
            if (c.norm() == NormKind.LAYER && c.mlp() == MlpKind.GELU_TANH && c.residual() == ResidualKind.SEQUENTIAL
                    && !rope && !c.qkNorm()) {
                arch = "gpt2";
            } else {
                why = "learned positions are only llama.cpp's gpt2 (LayerNorm, tanh GELU, sequential residual, no RoPE)";
            }
        } else if (!rope) {
            why = "a model with neither RoPE nor learned positions has no llama.cpp architecture here";
        } else if (c.norm() == NormKind.LAYER) {
            if (!half || c.qkNorm()) {
                why = "LayerNorm models need half-split RoPE (llama.cpp's phi2, gptneox) and no q/k norm";
            } else if (c.residual() == ResidualKind.PARALLEL_SHARED_NORM && c.mlp() == MlpKind.GELU_TANH) {
                arch = "phi2";
            } else if (c.mlp() == MlpKind.GELU_EXACT && c.residual() != ResidualKind.PARALLEL_SHARED_NORM) {
                arch = "gptneox";
            } else {
                why = "LayerNorm with " + c.mlp() + " and " + c.residual() + " residual is neither phi2 nor gptneox";
            }
        } else if (c.mlp() != MlpKind.SWIGLU || c.residual() != ResidualKind.SEQUENTIAL) {
            why = "RMSNorm models need SwiGLU and a sequential residual (llama, qwen2, qwen3, phi3)";
        } else if (c.qkNorm()) {
            arch = half ? "qwen3" : null;
            why = "q/k norm with interleaved RoPE";
        } else if (name.equalsIgnoreCase("phi3") || name.startsWith("Phi3") || (half && c.rotaryDim() < c.headDim())) {
            arch = half ? "phi3" : null;
            why = "partial interleaved RoPE";
        } else if (w.layers()[0].bqkv() != null && w.layers()[0].bo() == null && half) {
            arch = "qwen2";
        } else if (c.rotaryDim() == c.headDim()) {
            arch = "llama";
        } else {
            why = "partial interleaved RoPE";
        }
        if (arch == null) {
            throw new IllegalArgumentException("writing " + name + " as GGUF is not supported: " + why
                    + " (convert writes llama, qwen2, qwen3, phi3, gpt2, phi2, gptneox)");
        }
        if (!Set.of("llama", "qwen3").contains(arch) && c.qDim() != c.dim()) {
            throw new IllegalArgumentException("writing " + name + " as GGUF " + arch + " is not supported: llama.cpp's "
                    + arch + " needs heads x head size (" + c.qDim() + ") to equal the hidden size (" + c.dim() + ")");
        }
        if (arch.equals("gpt2") && w.positionEmbedding().length % c.dim() != 0) {
            throw new IllegalArgumentException("writing " + name + " as GGUF gpt2: the position table is not [positions, dim]");
        }
        return arch;
    }

    /** Writes the RoPE scaling's metadata; returns rope_freqs.weight's bytes where llama.cpp wants that tensor. */
    private static byte[] ropeScaling(ModelConfig c, String arch, GgufWriter g) {
        RopeScaling s = c.ropeScaling();
        if (s instanceof RopeScaling.None) {
            return null;
        }
        if (s instanceof RopeScaling.Linear lin) {
            g.put(arch + ".rope.scaling.type", "linear").put(arch + ".rope.scaling.factor", (float) lin.factor());
            return null;
        }
        if (!arch.equals("llama")) {
            throw new IllegalArgumentException("writing " + c.architecture() + " as GGUF " + arch + " is not supported: "
                    + "llama.cpp reads per-frequency RoPE factors (rope_freqs) only for llama, this model has " + s);
        }
        // Llama 3's scaling (or factors read from a GGUF): one divisor per rotated pair, as llama.cpp's converter writes
        double[] plain = RopeScaling.NONE.inverseFrequencies(c.rotaryDim(), c.ropeTheta());
        double[] scaled = s.inverseFrequencies(c.rotaryDim(), c.ropeTheta());
        float[] divisors = new float[plain.length];
        for (int i = 0; i < plain.length; i++) {
            divisors[i] = (float) (plain[i] / scaled[i]);
        }
        return f32(divisors);
    }

    private static Set<Part> present(ModelConfig c, ModelWeights w) {
        Set<Part> s = EnumSet.noneOf(Part.class);
        for (LayerWeights l : w.layers()) {
            add(s, Part.QKV_BIAS, l.bqkv());
            add(s, Part.O_BIAS, l.bo());
            add(s, Part.UP_BIAS, l.bUp());
            add(s, Part.DOWN_BIAS, l.bDown());
            add(s, Part.ATTN_NORM_BIAS, l.attnNormBias());
            add(s, Part.MLP_NORM_BIAS, l.mlpNormBias());
        }
        add(s, Part.FINAL_NORM_BIAS, w.finalNormBias());
        add(s, Part.CLASSIFIER_BIAS, w.classifierBias());
        return s;
    }

    private static void add(Set<Part> s, Part p, float[] v) {
        if (v != null) {
            s.add(p);
        }
    }

    private static String describe(Part p) {
        return switch (p) {
            case QKV_BIAS -> "q/k/v bias";
            case O_BIAS -> "attention output bias";
            case UP_BIAS -> "MLP up bias";
            case DOWN_BIAS -> "MLP down bias";
            case ATTN_NORM_BIAS -> "attention norm bias";
            case MLP_NORM_BIAS -> "MLP norm bias";
            case FINAL_NORM_BIAS -> "final norm bias";
            case CLASSIFIER_BIAS -> "classifier bias";
        };
    }

    private static float[] slice(float[] v, int from, int n) {
        return v == null ? null : Arrays.copyOfRange(v, from, from + n);
    }

    /** A float32 bias; absent and {@code required}: zeros (what llama.cpp's tensor then adds); absent otherwise: none. */
    private static void bias(GgufWriter g, String name, float[] v, int n, boolean required, int permuteHead) {
        if (v == null && !required) {
            return;
        }
        float[] b = v == null ? new float[n] : v;
        if (b.length != n) {
            throw new IllegalArgumentException(name + ": " + b.length + " values, " + n + " expected");
        }
        if (permuteHead > 0) {
            float[] p = new float[n];
            for (int r = 0; r < n; r++) {
                p[r] = b[permutedRow(r, permuteHead)];
            }
            b = p;
        }
        g.tensor(name, new long[]{n}, GgmlType.F32, f32(b));
    }

    private static long[] dims(Matrix m) {
        return new long[]{m.cols(), m.rows()};
    }

    private static byte[] f32(float[] v) {
        return GgmlMatrices.quantize(GgmlType.F32, v, 0, 1, v.length);
    }

    /** Row r of a head in interleaved (Meta, llama.cpp) order is this half-split (HF) row: 2i+j comes from j*hd/2+i. */
    private static int permutedRow(int r, int headDim) {
        int head = r / headDim;
        int within = r % headDim;
        return head * headDim + (within % 2) * (headDim / 2) + within / 2;
    }

    /**
     * Rows [first, first + n) of {@code m} in {@code type}; with {@code permuteHead} > 0, each head's rows
     * reordered from half-split (HF) to interleaved (Meta, llama.cpp) order.
     */
    private static byte[] encode(Matrix m, GgmlType type, int first, int n, int permuteHead) {
        int cols = m.cols();
        float[] rows = new float[Math.multiplyExact(n, cols)];
        for (int r = 0; r < n; r++) {
            int src = permuteHead > 0 ? permutedRow(r, permuteHead) : r;
            m.row(first + src, rows, r * cols);
        }
        return GgmlMatrices.quantize(GgmlMatrices.writtenType(type, cols), rows, 0, n, cols); // GgufWriter.tensor: same type
    }
}
