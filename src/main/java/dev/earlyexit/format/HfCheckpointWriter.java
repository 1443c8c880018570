package dev.earlyexit.format;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.earlyexit.format.Safetensors.TensorType;
import dev.earlyexit.model.LayerWeights;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.ModelWeights;
import dev.earlyexit.model.RopeScaling;
import dev.earlyexit.tensor.F32Matrix;
import dev.earlyexit.tensor.Matrix;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Writes a Llama-family model (e.g. a llama2.c checkpoint) as a Hugging Face LlamaForCausalLM
 * directory: config.json and model.safetensors with HF tensor names, stored as F32 or BF16.
 *
 * <p>llama2.c rotates interleaved pairs (x[2i], x[2i+1]) while HF Llama rotates halves (x[i],
 * x[i+d/2]). As HF's convert_llama_weights_to_hf.py does, the rows of wq and wk are permuted within
 * each head so that the rotate-half model computes exactly the same attention scores.
 */
public final class HfCheckpointWriter {
    private HfCheckpointWriter() {
    }

    public static void writeLlama(ModelConfig c, ModelWeights w, Path dir) throws IOException {
        writeLlama(c, w, dir, TensorType.F32);
    }

    /** Writes config.json and model.safetensors into {@code dir} (created if needed). */
    public static void writeLlama(ModelConfig c, ModelWeights w, Path dir, TensorType storage) throws IOException {
        checkLlamaShaped(c, w);
        int dim = c.dim();
        int hidden = c.hiddenDim();
        int qRows = c.qDim();
        int kvRows = c.kvDim();
        boolean tied = w.classifier() == w.tokenEmbedding();
        SafetensorsWriter out = new SafetensorsWriter().metadata("format", "pt");
        out.add("model.embed_tokens.weight", storage, floats(w.tokenEmbedding()), c.vocabSize(), dim);
        for (int l = 0; l < c.layers(); l++) {
            LayerWeights lw = w.layers()[l];
            String p = "model.layers." + l + ".";
            float[] qkv = floats(lw.wqkv());
            float[] q = Arrays.copyOfRange(qkv, 0, qRows * dim);
            float[] k = Arrays.copyOfRange(qkv, qRows * dim, (qRows + kvRows) * dim);
            float[] v = Arrays.copyOfRange(qkv, (qRows + kvRows) * dim, (qRows + 2 * kvRows) * dim);
            if (c.ropeStyle() == ModelConfig.RopeStyle.INTERLEAVED) {
                q = interleavedToHalf(q, c.heads(), c.headDim(), dim);
                k = interleavedToHalf(k, c.kvHeads(), c.headDim(), dim);
            }
            float[] gateUp = floats(lw.wUp());
            out.add(p + "input_layernorm.weight", storage, lw.attnNorm(), dim)
                    .add(p + "self_attn.q_proj.weight", storage, q, qRows, dim)
                    .add(p + "self_attn.k_proj.weight", storage, k, kvRows, dim)
                    .add(p + "self_attn.v_proj.weight", storage, v, kvRows, dim)
                    .add(p + "self_attn.o_proj.weight", storage, floats(lw.wo()), dim, qRows)
                    .add(p + "post_attention_layernorm.weight", storage, lw.mlpNorm(), dim)
                    .add(p + "mlp.gate_proj.weight", storage, Arrays.copyOfRange(gateUp, 0, hidden * dim), hidden, dim)
                    .add(p + "mlp.up_proj.weight", storage, Arrays.copyOfRange(gateUp, hidden * dim, 2 * hidden * dim),
                            hidden, dim)
                    .add(p + "mlp.down_proj.weight", storage, floats(lw.wDown()), dim, hidden);
        }
        out.add("model.norm.weight", storage, w.finalNorm(), dim);
        if (!tied) {
            out.add("lm_head.weight", storage, floats(w.classifier()), c.vocabSize(), dim);
        }

        Files.createDirectories(dir);
        out.write(dir.resolve(Safetensors.SINGLE_FILE));
        ObjectMapper om = new ObjectMapper();
        ObjectNode cfg = om.createObjectNode();
        cfg.putArray("architectures").add("LlamaForCausalLM");
        cfg.put("model_type", "llama");
        cfg.put("hidden_size", dim);
        cfg.put("intermediate_size", hidden);
        cfg.put("num_hidden_layers", c.layers());
        cfg.put("num_attention_heads", c.heads());
        cfg.put("num_key_value_heads", c.kvHeads());
        if (c.headDim() * c.heads() != dim) {
            cfg.put("head_dim", c.headDim());
        }
        cfg.put("vocab_size", c.vocabSize());
        cfg.put("max_position_embeddings", c.maxSeqLen());
        cfg.put("hidden_act", "silu");
        cfg.put("rms_norm_eps", decimal(c.normEps()));
        cfg.put("rope_theta", decimal(c.ropeTheta()));
        cfg.putNull("rope_scaling");
        cfg.put("attention_bias", false);
        cfg.put("mlp_bias", false);
        cfg.put("tie_word_embeddings", tied);
        putId(cfg, "bos_token_id", c.bosId());
        putId(cfg, "eos_token_id", c.eosId());
        cfg.put("torch_dtype", storage == TensorType.BF16 ? "bfloat16" : "float32");
        om.writerWithDefaultPrettyPrinter().writeValue(dir.resolve(HfCheckpoint.CONFIG_FILE).toFile(), cfg);
    }

    /** The float's shortest decimal (1e-5f as 1.0E-5, not 9.99999974e-6), as configs state it. */
    private static double decimal(float f) {
        return Double.parseDouble(Float.toString(f));
    }

    private static void putId(ObjectNode cfg, String key, int id) {
        if (id >= 0) {
            cfg.put(key, id);
        } else {
            cfg.putNull(key);
        }
    }

    /** Only what a LlamaForCausalLM config can express is written; anything else would load as a different model. */
    private static void checkLlamaShaped(ModelConfig c, ModelWeights w) {
        StringBuilder why = new StringBuilder();
        if (c.norm() != ModelConfig.NormKind.RMS) {
            why.append(" LayerNorm;");
        }
        if (c.mlp() != ModelConfig.MlpKind.SWIGLU) {
            why.append(" non-SwiGLU MLP;");
        }
        if (c.residual() != ModelConfig.ResidualKind.SEQUENTIAL) {
            why.append(" parallel residual;");
        }
        if (c.learnedPositions() || w.positionEmbedding() != null) {
            why.append(" learned positions;");
        }
        if (c.rotaryDim() != c.headDim()) {
            why.append(" partial rotary;");
        }
        if (!c.ropeScaling().equals(RopeScaling.NONE)) {
            why.append(" RoPE scaling;");
        }
        if (c.qkNorm()) {
            why.append(" q/k norms;");
        }
        if (w.classifierBias() != null || w.finalNormBias() != null) {
            why.append(" classifier or final-norm bias;");
        }
        for (LayerWeights lw : w.layers()) {
            if (lw.bqkv() != null || lw.bo() != null || lw.bUp() != null || lw.bDown() != null
                    || lw.attnNormBias() != null || lw.mlpNormBias() != null) {
                why.append(" biases;");
                break;
            }
        }
        if (why.length() > 0) {
            throw new IllegalArgumentException("cannot write " + c.architecture() + " as LlamaForCausalLM:" + why);
        }
    }

    /** The matrix as row-major float32 (the F32 array itself, or a widened copy). */
    private static float[] floats(Matrix m) {
        if (m instanceof F32Matrix f) {
            return f.toArray();
        }
        float[] out = new float[m.rows() * m.cols()];
        for (int r = 0; r < m.rows(); r++) {
            m.row(r, out, r * m.cols());
        }
        return out;
    }

    /**
     * HF's permute(w, n_heads): view(n_heads, headDim/2, 2, cols).transpose(1, 2). Row 2i+j of a head
     * (pair i, element j) moves to row j*headDim/2 + i, so pair i becomes (x[i], x[i + headDim/2]).
     */
    static float[] interleavedToHalf(float[] w, int heads, int headDim, int cols) {
        float[] out = new float[w.length];
        int half = headDim / 2;
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < half; i++) {
                for (int j = 0; j < 2; j++) {
                    int src = h * headDim + 2 * i + j;
                    int dst = h * headDim + j * half + i;
                    System.arraycopy(w, src * cols, out, dst * cols, cols);
                }
            }
        }
        return out;
    }
}
