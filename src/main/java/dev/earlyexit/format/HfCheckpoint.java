package dev.earlyexit.format;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.earlyexit.model.LayerWeights;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.ModelConfig.MlpKind;
import dev.earlyexit.model.ModelConfig.NormKind;
import dev.earlyexit.model.ModelConfig.ResidualKind;
import dev.earlyexit.model.ModelConfig.RopeStyle;
import dev.earlyexit.model.ModelWeights;
import dev.earlyexit.model.RopeScaling;
import dev.earlyexit.tensor.DType;
import dev.earlyexit.tensor.Matrix;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Loads a Hugging Face model directory (config.json plus model.safetensors or a sharded
 * model.safetensors.index.json) into the engine's {@link ModelConfig} and {@link ModelWeights}.
 *
 * <p>Each supported architecture maps its tensors onto the generic block: q, k and v are fused into
 * one matrix (GPT-NeoX's per-head interleaved q|k|v is regrouped, GPT-2's Conv1D [in, out] weights
 * are transposed), gate and up into one. HF rotary embeddings rotate halves of each head
 * ({@link RopeStyle#HALF}); Qwen3's per-head q/k RMSNorm and Llama 3's and linear RoPE scaling are
 * modelled. Anything that would change the maths but is not modelled (dynamic, YaRN and LongRoPE
 * scaling, sliding windows shorter than the context, Phi's q/k LayerNorm, GPT-2's per-layer attention
 * scaling) is rejected by name rather than silently ignored.
 *
 * <p>BOS and EOS come from config.json unless tokenizer_config.json states them ({@link SpecialTokens}).
 */
public final class HfCheckpoint {
    public static final String CONFIG_FILE = "config.json";
    public static final String TOKENIZER_CONFIG_FILE = "tokenizer_config.json";
    public static final List<String> SUPPORTED = List.of("LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM",
            "Qwen3ForCausalLM", "Phi3ForCausalLM", "GPTNeoXForCausalLM", "PhiForCausalLM", "GPT2LMHeadModel");

    private HfCheckpoint() {
    }

    public record Loaded(ModelConfig config, ModelWeights weights) {
    }

    /** Whether {@code dir} looks like a Hugging Face model directory (has a config.json). */
    public static boolean isHfDirectory(Path dir) {
        return Files.isDirectory(dir) && Files.isRegularFile(dir.resolve(CONFIG_FILE));
    }

    /** Reads only config.json (and tokenizer_config.json, for BOS and EOS, when present). */
    public static ModelConfig config(Path dir) throws IOException {
        return SpecialTokens.read(dir).apply(new Cfg(dir.resolve(CONFIG_FILE), readJson(dir.resolve(CONFIG_FILE))).toModelConfig());
    }

    /** Loads config and weights, storing matrices as {@code dtype} (norms and biases stay float32). */
    public static Loaded load(Path dir, DType dtype) throws IOException {
        Path cfgFile = dir.resolve(CONFIG_FILE);
        Cfg cfg = new Cfg(cfgFile, readJson(cfgFile));
        ModelConfig c = SpecialTokens.read(dir).apply(cfg.toModelConfig());
        try (Safetensors st = Safetensors.open(dir)) {
            ModelWeights w = switch (cfg.arch) {
                case "LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM" ->
                        llamaWeights(cfg, c, st, dtype);
                case "Phi3ForCausalLM" -> phi3Weights(cfg, c, st, dtype);
                case "GPTNeoXForCausalLM" -> neoxWeights(cfg, c, st, dtype);
                case "PhiForCausalLM" -> phiWeights(cfg, c, st, dtype);
                case "GPT2LMHeadModel" -> gpt2Weights(cfg, c, st, dtype);
                default -> throw new IllegalStateException("architecture passed the config check: " + cfg.arch);
            };
            return new Loaded(c, w);
        }
    }

    static JsonNode readJson(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new ModelFormatException(file + ": missing (not a Hugging Face model directory)");
        }
        try {
            JsonNode n = new ObjectMapper().readTree(file.toFile());
            if (n == null || !n.isObject()) {
                throw new ModelFormatException(file + ": malformed JSON: not an object");
            }
            return n;
        } catch (JsonProcessingException e) {
            throw new ModelFormatException(file + ": malformed JSON: " + e.getOriginalMessage(), e);
        } catch (java.io.CharConversionException e) {
            // Jackson guesses UTF-16/32 from the first bytes; bytes invalid in that encoding are not an I/O failure
            throw new ModelFormatException(file + ": malformed JSON: " + e.getMessage(), e);
        }
    }

    /** config.json with typed, validated accessors whose errors name the file and key. */
    private static final class Cfg {
        final Path file;
        final JsonNode json;
        final String arch;

        Cfg(Path file, JsonNode json) {
            this.file = file;
            this.json = json;
            JsonNode a = json.get("architectures");
            if (a == null || !a.isArray() || a.isEmpty() || !a.get(0).isTextual()) {
                throw new ModelFormatException(file + ": no \"architectures\" list");
            }
            this.arch = a.get(0).asText();
            if (!SUPPORTED.contains(arch)) {
                throw new ModelFormatException(file + ": unsupported architecture " + arch + " (supported: "
                        + String.join(", ", SUPPORTED) + ")");
            }
        }

        JsonNode get(String key) {
            JsonNode n = json.get(key);
            return n == null || n.isNull() ? null : n;
        }

        int integer(String key) {
            JsonNode n = get(key);
            if (n == null) {
                throw new ModelFormatException(file + ": missing \"" + key + "\"");
            }
            if (!n.isIntegralNumber() || !n.canConvertToInt()) {
                throw new ModelFormatException(file + ": \"" + key + "\" is not an integer: " + n);
            }
            return n.asInt();
        }

        int integer(String key, int dflt) {
            return get(key) == null ? dflt : integer(key);
        }

        double number(String key, double dflt) {
            JsonNode n = get(key);
            if (n == null) {
                return dflt;
            }
            if (!n.isNumber()) {
                throw new ModelFormatException(file + ": \"" + key + "\" is not a number: " + n);
            }
            return n.asDouble();
        }

        boolean bool(String key, boolean dflt) {
            JsonNode n = get(key);
            if (n == null) {
                return dflt;
            }
            if (!n.isBoolean()) {
                throw new ModelFormatException(file + ": \"" + key + "\" is not a boolean: " + n);
            }
            return n.asBoolean();
        }

        String text(String key, String dflt) {
            JsonNode n = get(key);
            return n == null ? dflt : n.asText();
        }

        /** A token id that may be given as an int or a list of ints (first wins); -1 when absent. */
        int tokenId(String key) {
            JsonNode n = get(key);
            if (n != null && n.isArray()) {
                n = n.isEmpty() ? null : n.get(0);
            }
            if (n == null) {
                return -1;
            }
            if (!n.isIntegralNumber()) {
                throw new ModelFormatException(file + ": \"" + key + "\" is not a token id: " + n);
            }
            return n.asInt();
        }

        boolean tied(boolean dflt) {
            return bool("tie_word_embeddings", dflt);
        }

        ModelFormatException unsupported(String what) {
            return new ModelFormatException(file + ": " + arch + " with " + what + " is not supported");
        }

        MlpKind gelu(String key, String dflt) {
            String act = text(key, dflt);
            return switch (act) {
                case "gelu" -> MlpKind.GELU_EXACT;
                case "gelu_new", "gelu_pytorch_tanh", "gelu_fast" -> MlpKind.GELU_TANH;
                default -> throw unsupported(key + " \"" + act + "\"");
            };
        }

        /** rope_theta (transformers 5 moves it into rope_parameters). */
        double ropeTheta(double dflt) {
            JsonNode params = get("rope_parameters");
            if (params != null && params.has("rope_theta")) {
                return params.get("rope_theta").asDouble();
            }
            return number("rope_theta", dflt);
        }

        /**
         * The rescaling of the rotary frequencies, from rope_scaling (or transformers 5's rope_parameters),
         * keyed by rope_type or the older type. Types not modelled are refused by name.
         */
        RopeScaling ropeScaling() {
            RopeScaling found = RopeScaling.NONE;
            for (String key : new String[]{"rope_scaling", "rope_parameters"}) {
                JsonNode scaling = get(key);
                if (scaling == null) {
                    continue;
                }
                if (!scaling.isObject()) {
                    throw new ModelFormatException(file + ": \"" + key + "\" is not an object: " + scaling);
                }
                JsonNode type = scaling.has("rope_type") ? scaling.get("rope_type") : scaling.get("type");
                String t = type == null || type.isNull() ? "default" : type.asText();
                RopeScaling s = switch (t) {
                    case "default" -> RopeScaling.NONE;
                    case "linear" -> RopeScaling.linear(scalingNumber(scaling, key, "factor"));
                    case "llama3" -> RopeScaling.llama3(scalingNumber(scaling, key, "factor"),
                            scalingNumber(scaling, key, "low_freq_factor"), scalingNumber(scaling, key, "high_freq_factor"),
                            scalingInteger(scaling, key, "original_max_position_embeddings"));
                    default -> throw unsupported("rope_scaling type '" + t + "'");
                };
                if (!found.equals(RopeScaling.NONE) && !s.equals(RopeScaling.NONE) && !found.equals(s)) {
                    throw new ModelFormatException(file + ": rope_scaling and rope_parameters disagree");
                }
                if (!s.equals(RopeScaling.NONE)) {
                    found = s;
                }
            }
            return found;
        }

        private double scalingNumber(JsonNode scaling, String key, String field) {
            JsonNode n = scaling.get(field);
            if (n == null || !n.isNumber()) {
                throw new ModelFormatException(file + ": \"" + key + "\" needs a number \"" + field + "\""
                        + (n == null ? "" : ", got " + n));
            }
            return n.asDouble();
        }

        private int scalingInteger(JsonNode scaling, String key, String field) {
            JsonNode n = scaling.get(field);
            if (n == null || !n.isIntegralNumber() || !n.canConvertToInt()) {
                throw new ModelFormatException(file + ": \"" + key + "\" needs an integer \"" + field + "\""
                        + (n == null ? "" : ", got " + n));
            }
            return n.asInt();
        }

        /** Sliding-window attention is only equivalent to full attention when the window covers the context. */
        void checkSlidingWindow(int maxSeqLen) {
            // Qwen configs carry a sliding_window that only use_sliding_window switches on.
            boolean declared = arch.startsWith("Qwen") ? bool("use_sliding_window", false) : get("sliding_window") != null;
            if (declared) {
                int window = integer("sliding_window");
                if (window < maxSeqLen) {
                    throw unsupported("sliding-window attention (window " + window + " < context " + maxSeqLen + ")");
                }
            }
        }

        ModelConfig toModelConfig() {
            try {
                return switch (arch) {
                    case "LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM" -> llama(1e-6, false);
                    case "Phi3ForCausalLM" -> llama(1e-5, true);
                    case "GPTNeoXForCausalLM" -> neox();
                    case "PhiForCausalLM" -> phi();
                    case "GPT2LMHeadModel" -> gpt2();
                    default -> throw new IllegalStateException(arch);
                };
            } catch (IllegalArgumentException e) {
                throw new ModelFormatException(file + ": " + e.getMessage(), e);
            }
        }

        private int headDim(int dim, int heads) {
            if (heads <= 0 || dim % heads != 0) {
                throw new ModelFormatException(file + ": hidden size " + dim + " is not a multiple of " + heads + " heads");
            }
            return dim / heads;
        }

        /**
         * Llama's block (RMSNorm, rotate-half RoPE, SwiGLU), which Mistral, Qwen2, Qwen3 (plus q/k norms) and
         * Phi-3, Phi-3.5 and Phi-4-mini (fused projections, optionally partial rotary) share.
         */
        private ModelConfig llama(double defaultNormEps, boolean partialRotary) {
            int dim = integer("hidden_size");
            int heads = integer("num_attention_heads");
            int headDim = get("head_dim") != null ? integer("head_dim") : headDim(dim, heads);
            int maxSeq = integer("max_position_embeddings");
            String act = text("hidden_act", "silu");
            if (!act.equals("silu")) {
                throw unsupported("hidden_act \"" + act + "\"");
            }
            checkSlidingWindow(maxSeq);
            int rotary = partialRotary ? (int) (headDim * number("partial_rotary_factor", 1.0)) : headDim;
            return new ModelConfig(arch, dim, integer("intermediate_size"), integer("num_hidden_layers"), heads,
                    integer("num_key_value_heads", heads), headDim, integer("vocab_size"), maxSeq,
                    NormKind.RMS, (float) number("rms_norm_eps", defaultNormEps), (float) ropeTheta(10000), rotary,
                    RopeStyle.HALF, MlpKind.SWIGLU, ResidualKind.SEQUENTIAL, false,
                    tokenId("bos_token_id"), tokenId("eos_token_id"), ropeScaling(), arch.equals("Qwen3ForCausalLM"));
        }

        private ModelConfig neox() {
            int dim = integer("hidden_size");
            int heads = integer("num_attention_heads");
            int headDim = headDim(dim, heads);
            // HF: rotary_ndims = int(head_size * rotary_pct); older configs name the base rotary_emb_base.
            int rotary = (int) (headDim * number("rotary_pct", 0.25));
            double base = number("rotary_emb_base", 10000);
            return new ModelConfig(arch, dim, integer("intermediate_size"), integer("num_hidden_layers"), heads, heads,
                    headDim, integer("vocab_size"), integer("max_position_embeddings"),
                    NormKind.LAYER, (float) number("layer_norm_eps", 1e-5), (float) ropeTheta(base), rotary,
                    RopeStyle.HALF, gelu("hidden_act", "gelu"),
                    bool("use_parallel_residual", true) ? ResidualKind.PARALLEL : ResidualKind.SEQUENTIAL, false,
                    tokenId("bos_token_id"), tokenId("eos_token_id"), ropeScaling(), false);
        }

        private ModelConfig phi() {
            if (bool("qk_layernorm", false)) {
                throw unsupported("qk_layernorm true");
            }
            int dim = integer("hidden_size");
            int heads = integer("num_attention_heads");
            int headDim = headDim(dim, heads);
            int rotary = (int) (headDim * number("partial_rotary_factor", 0.5));
            return new ModelConfig(arch, dim, integer("intermediate_size"), integer("num_hidden_layers"), heads,
                    integer("num_key_value_heads", heads), headDim, integer("vocab_size"),
                    integer("max_position_embeddings"), NormKind.LAYER, (float) number("layer_norm_eps", 1e-5),
                    (float) ropeTheta(10000), rotary, RopeStyle.HALF, gelu("hidden_act", "gelu_new"),
                    ResidualKind.PARALLEL_SHARED_NORM, false, tokenId("bos_token_id"), tokenId("eos_token_id"),
                    ropeScaling(), false);
        }

        private ModelConfig gpt2() {
            if (bool("scale_attn_by_inverse_layer_idx", false)) {
                throw unsupported("scale_attn_by_inverse_layer_idx true");
            }
            if (!bool("scale_attn_weights", true)) {
                throw unsupported("scale_attn_weights false");
            }
            int dim = integer("n_embd");
            int heads = integer("n_head");
            int positions = get("n_positions") != null ? integer("n_positions") : integer("n_ctx");
            return new ModelConfig(arch, dim, integer("n_inner", 4 * dim), integer("n_layer"), heads, heads,
                    headDim(dim, heads), integer("vocab_size"), positions,
                    NormKind.LAYER, (float) number("layer_norm_epsilon", 1e-5), 10000f, 0, RopeStyle.HALF,
                    gelu("activation_function", "gelu_new"), ResidualKind.SEQUENTIAL, true,
                    tokenId("bos_token_id"), tokenId("eos_token_id"), RopeScaling.NONE, false);
        }
    }

    // ---- weights ----

    private static ModelWeights llamaWeights(Cfg cfg, ModelConfig c, Safetensors st, DType dtype) throws IOException {
        int dim = c.dim();
        int hidden = c.hiddenDim();
        boolean qkvBias = cfg.arch.equals("Qwen2ForCausalLM") || cfg.bool("attention_bias", false);
        boolean oBias = !cfg.arch.equals("Qwen2ForCausalLM") && cfg.bool("attention_bias", false);
        boolean mlpBias = cfg.bool("mlp_bias", false);
        Matrix embedding = matrix(st, "model.embed_tokens.weight", c.vocabSize(), dim, dtype);
        LayerWeights[] layers = new LayerWeights[c.layers()];
        for (int l = 0; l < c.layers(); l++) {
            String p = "model.layers." + l + ".";
            String a = p + "self_attn.";
            String m = p + "mlp.";
            float[] qkv = new float[c.qkvDim() * dim];
            readInto(st, a + "q_proj.weight", qkv, 0, c.qDim(), dim);
            readInto(st, a + "k_proj.weight", qkv, c.qDim() * dim, c.kvDim(), dim);
            readInto(st, a + "v_proj.weight", qkv, (c.qDim() + c.kvDim()) * dim, c.kvDim(), dim);
            float[] bqkv = null;
            if (qkvBias) {
                bqkv = new float[c.qkvDim()];
                readInto(st, a + "q_proj.bias", bqkv, 0, c.qDim());
                readInto(st, a + "k_proj.bias", bqkv, c.qDim(), c.kvDim());
                readInto(st, a + "v_proj.bias", bqkv, c.qDim() + c.kvDim(), c.kvDim());
            }
            float[] gateUp = new float[2 * hidden * dim];
            readInto(st, m + "gate_proj.weight", gateUp, 0, hidden, dim);
            readInto(st, m + "up_proj.weight", gateUp, hidden * dim, hidden, dim);
            float[] qNorm = c.qkNorm() ? st.read(a + "q_norm.weight", c.headDim()) : null;
            float[] kNorm = c.qkNorm() ? st.read(a + "k_norm.weight", c.headDim()) : null;
            float[] bGateUp = null;
            if (mlpBias) {
                bGateUp = new float[2 * hidden];
                readInto(st, m + "gate_proj.bias", bGateUp, 0, hidden);
                readInto(st, m + "up_proj.bias", bGateUp, hidden, hidden);
            }
            layers[l] = new LayerWeights(
                    st.read(p + "input_layernorm.weight", dim), null,
                    Matrix.of(dtype, qkv, c.qkvDim(), dim), bqkv,
                    matrix(st, a + "o_proj.weight", dim, c.qDim(), dtype), oBias ? st.read(a + "o_proj.bias", dim) : null,
                    st.read(p + "post_attention_layernorm.weight", dim), null,
                    Matrix.of(dtype, gateUp, 2 * hidden, dim), bGateUp,
                    matrix(st, m + "down_proj.weight", dim, hidden, dtype), mlpBias ? st.read(m + "down_proj.bias", dim) : null,
                    qNorm, kNorm);
        }
        Matrix classifier = cfg.tied(false) ? embedding : matrix(st, "lm_head.weight", c.vocabSize(), dim, dtype);
        return new ModelWeights(embedding, null, layers, st.read("model.norm.weight", dim), null, classifier, null);
    }

    /** Phi-3's qkv_proj (q rows, k rows, v rows) and gate_up_proj (gate rows, up rows) are already our fused layout. */
    private static ModelWeights phi3Weights(Cfg cfg, ModelConfig c, Safetensors st, DType dtype) throws IOException {
        int dim = c.dim();
        int hidden = c.hiddenDim();
        Matrix embedding = matrix(st, "model.embed_tokens.weight", c.vocabSize(), dim, dtype);
        LayerWeights[] layers = new LayerWeights[c.layers()];
        for (int l = 0; l < c.layers(); l++) {
            String p = "model.layers." + l + ".";
            layers[l] = new LayerWeights(
                    st.read(p + "input_layernorm.weight", dim), null,
                    matrix(st, p + "self_attn.qkv_proj.weight", c.qkvDim(), dim, dtype), null,
                    matrix(st, p + "self_attn.o_proj.weight", dim, c.qDim(), dtype), null,
                    st.read(p + "post_attention_layernorm.weight", dim), null,
                    matrix(st, p + "mlp.gate_up_proj.weight", 2 * hidden, dim, dtype), null,
                    matrix(st, p + "mlp.down_proj.weight", dim, hidden, dtype), null,
                    null, null);
        }
        Matrix classifier = cfg.tied(false) ? embedding : matrix(st, "lm_head.weight", c.vocabSize(), dim, dtype);
        return new ModelWeights(embedding, null, layers, st.read("model.norm.weight", dim), null, classifier, null);
    }

    private static ModelWeights neoxWeights(Cfg cfg, ModelConfig c, Safetensors st, DType dtype) throws IOException {
        int dim = c.dim();
        int hidden = c.hiddenDim();
        int hd = c.headDim();
        boolean bias = cfg.bool("attention_bias", true);
        Matrix embedding = matrix(st, "gpt_neox.embed_in.weight", c.vocabSize(), dim, dtype);
        LayerWeights[] layers = new LayerWeights[c.layers()];
        for (int l = 0; l < c.layers(); l++) {
            String p = "gpt_neox.layers." + l + ".";
            // query_key_value rows are grouped per head as [q_h | k_h | v_h]; ours are all q, then all k, then all v.
            String qkvName = p + "attention.query_key_value.weight";
            st.info(qkvName, 3L * dim, dim);
            float[] qkv = new float[3 * dim * dim];
            float[] bqkv = null;
            if (bias) {
                st.info(p + "attention.query_key_value.bias", 3L * dim);
                bqkv = new float[3 * dim];
            }
            for (int h = 0; h < c.heads(); h++) {
                for (int j = 0; j < 3; j++) {
                    int src = (h * 3 + j) * hd;
                    int dst = j * dim + h * hd;
                    st.read(qkvName, (long) src * dim, qkv, dst * dim, hd * dim);
                    if (bias) {
                        st.read(p + "attention.query_key_value.bias", src, bqkv, dst, hd);
                    }
                }
            }
            layers[l] = new LayerWeights(
                    st.read(p + "input_layernorm.weight", dim), st.read(p + "input_layernorm.bias", dim),
                    Matrix.of(dtype, qkv, 3 * dim, dim), bqkv,
                    matrix(st, p + "attention.dense.weight", dim, dim, dtype),
                    bias ? st.read(p + "attention.dense.bias", dim) : null,
                    st.read(p + "post_attention_layernorm.weight", dim), st.read(p + "post_attention_layernorm.bias", dim),
                    matrix(st, p + "mlp.dense_h_to_4h.weight", hidden, dim, dtype), st.read(p + "mlp.dense_h_to_4h.bias", hidden),
                    matrix(st, p + "mlp.dense_4h_to_h.weight", dim, hidden, dtype), st.read(p + "mlp.dense_4h_to_h.bias", dim), null, null);
        }
        Matrix classifier = cfg.tied(false) ? embedding : matrix(st, "embed_out.weight", c.vocabSize(), dim, dtype);
        return new ModelWeights(embedding, null, layers, st.read("gpt_neox.final_layer_norm.weight", dim),
                st.read("gpt_neox.final_layer_norm.bias", dim), classifier, null);
    }

    private static ModelWeights phiWeights(Cfg cfg, ModelConfig c, Safetensors st, DType dtype) throws IOException {
        int dim = c.dim();
        int hidden = c.hiddenDim();
        Matrix embedding = matrix(st, "model.embed_tokens.weight", c.vocabSize(), dim, dtype);
        LayerWeights[] layers = new LayerWeights[c.layers()];
        for (int l = 0; l < c.layers(); l++) {
            String p = "model.layers." + l + ".";
            String a = p + "self_attn.";
            float[] qkv = new float[c.qkvDim() * dim];
            readInto(st, a + "q_proj.weight", qkv, 0, c.qDim(), dim);
            readInto(st, a + "k_proj.weight", qkv, c.qDim() * dim, c.kvDim(), dim);
            readInto(st, a + "v_proj.weight", qkv, (c.qDim() + c.kvDim()) * dim, c.kvDim(), dim);
            float[] bqkv = new float[c.qkvDim()];
            readInto(st, a + "q_proj.bias", bqkv, 0, c.qDim());
            readInto(st, a + "k_proj.bias", bqkv, c.qDim(), c.kvDim());
            readInto(st, a + "v_proj.bias", bqkv, c.qDim() + c.kvDim(), c.kvDim());
            // One LayerNorm feeds attention and MLP (PARALLEL_SHARED_NORM): no second norm.
            layers[l] = new LayerWeights(
                    st.read(p + "input_layernorm.weight", dim), st.read(p + "input_layernorm.bias", dim),
                    Matrix.of(dtype, qkv, c.qkvDim(), dim), bqkv,
                    matrix(st, a + "dense.weight", dim, c.qDim(), dtype), st.read(a + "dense.bias", dim),
                    null, null,
                    matrix(st, p + "mlp.fc1.weight", hidden, dim, dtype), st.read(p + "mlp.fc1.bias", hidden),
                    matrix(st, p + "mlp.fc2.weight", dim, hidden, dtype), st.read(p + "mlp.fc2.bias", dim), null, null);
        }
        boolean tied = cfg.tied(false);
        Matrix classifier = tied ? embedding : matrix(st, "lm_head.weight", c.vocabSize(), dim, dtype);
        float[] classifierBias = st.has("lm_head.bias") ? st.read("lm_head.bias", c.vocabSize()) : null;
        return new ModelWeights(embedding, null, layers, st.read("model.final_layernorm.weight", dim),
                st.read("model.final_layernorm.bias", dim), classifier, classifierBias);
    }

    private static ModelWeights gpt2Weights(Cfg cfg, ModelConfig c, Safetensors st, DType dtype) throws IOException {
        int dim = c.dim();
        int hidden = c.hiddenDim();
        // Hub checkpoints name tensors "h.0...", those saved from GPT2LMHeadModel "transformer.h.0...".
        String t = st.has("transformer.wte.weight") ? "transformer." : "";
        Matrix embedding = matrix(st, t + "wte.weight", c.vocabSize(), dim, dtype);
        float[] positions = st.read(t + "wpe.weight", c.maxSeqLen(), dim);
        LayerWeights[] layers = new LayerWeights[c.layers()];
        for (int l = 0; l < c.layers(); l++) {
            String p = t + "h." + l + ".";
            layers[l] = new LayerWeights(
                    st.read(p + "ln_1.weight", dim), st.read(p + "ln_1.bias", dim),
                    conv1d(st, p + "attn.c_attn.weight", dim, 3 * dim, dtype), st.read(p + "attn.c_attn.bias", 3L * dim),
                    conv1d(st, p + "attn.c_proj.weight", dim, dim, dtype), st.read(p + "attn.c_proj.bias", dim),
                    st.read(p + "ln_2.weight", dim), st.read(p + "ln_2.bias", dim),
                    conv1d(st, p + "mlp.c_fc.weight", dim, hidden, dtype), st.read(p + "mlp.c_fc.bias", hidden),
                    conv1d(st, p + "mlp.c_proj.weight", hidden, dim, dtype), st.read(p + "mlp.c_proj.bias", dim), null, null);
        }
        Matrix classifier = cfg.tied(true) ? embedding : matrix(st, "lm_head.weight", c.vocabSize(), dim, dtype);
        return new ModelWeights(embedding, positions, layers, st.read(t + "ln_f.weight", dim),
                st.read(t + "ln_f.bias", dim), classifier, null);
    }

    private static Matrix matrix(Safetensors st, String name, int rows, int cols, DType dtype) throws IOException {
        st.info(name, rows, cols); // shape check before reading slices
        return Matrix.load(dtype, rows, cols, (first, count, dst, off) ->
                st.read(name, (long) first * cols, dst, off, count * cols));
    }

    /** GPT-2's Conv1D stores [in, out]; the engine wants [out, in]. */
    private static Matrix conv1d(Safetensors st, String name, int in, int out, DType dtype) throws IOException {
        float[] w = st.read(name, in, out);
        float[] tr = new float[w.length];
        for (int i = 0; i < in; i++) {
            for (int o = 0; o < out; o++) {
                tr[o * in + i] = w[i * out + o];
            }
        }
        return Matrix.of(dtype, tr, out, in);
    }

    /** A [rows, cols] tensor, shape-checked, into dst[off ...] (one part of a fused matrix). */
    private static void readInto(Safetensors st, String name, float[] dst, int off, int rows, int cols) throws IOException {
        st.info(name, rows, cols);
        st.read(name, 0, dst, off, rows * cols);
    }

    private static void readInto(Safetensors st, String name, float[] dst, int off, int n) throws IOException {
        st.info(name, n);
        st.read(name, 0, dst, off, n);
    }
}
