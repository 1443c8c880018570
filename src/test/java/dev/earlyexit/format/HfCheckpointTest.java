package dev.earlyexit.format;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.earlyexit.model.KVCache;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.RopeScaling;
import dev.earlyexit.model.Transformer;
import dev.earlyexit.tensor.DType;
import dev.earlyexit.tensor.ThreadPool;
import dev.earlyexit.testutil.TestModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** config.json handling of the Hugging Face loader: variants, and every rejection naming its cause. */
class HfCheckpointTest {
    private static final ObjectMapper OM = new ObjectMapper();

    @TempDir
    Path tmp;

    /** A copy of a reference checkpoint with an edited config.json. */
    private Path variant(String name, Consumer<ObjectNode> edit) throws IOException {
        Path src = TestModels.resource("reference/arch/" + name);
        Path dst = Files.createTempDirectory(tmp, name);
        Files.copy(src.resolve("model.safetensors"), dst.resolve("model.safetensors"));
        ObjectNode cfg = (ObjectNode) OM.readTree(src.resolve("config.json").toFile());
        edit.accept(cfg);
        OM.writeValue(dst.resolve("config.json").toFile(), cfg);
        return dst;
    }

    private static void assertRejected(Path dir, String... fragments) {
        var t = assertThatThrownBy(() -> HfCheckpoint.load(dir, DType.F32)).isInstanceOf(ModelFormatException.class);
        for (String f : fragments) {
            t.hasMessageContaining(f);
        }
    }

    @Test
    void rejectsUnsupportedArchitectures() throws IOException {
        Path dir = variant("llama_gqa", c -> c.putArray("architectures").add("FalconForCausalLM"));
        assertRejected(dir, "config.json", "unsupported architecture FalconForCausalLM",
                "supported: LlamaForCausalLM", "GPT2LMHeadModel");
    }

    @Test
    void rejectsRopeScalingTypesNotModelled() throws IOException {
        for (String type : new String[]{"dynamic", "yarn", "longrope"}) {
            Path dir = variant("llama_gqa", c -> c.putObject("rope_scaling").put("rope_type", type).put("factor", 8.0));
            assertRejected(dir, "rope_scaling type '" + type + "'", "not supported");
        }
        Path legacyKey = variant("llama_gqa", c -> c.putObject("rope_scaling").put("type", "yarn").put("factor", 2.0));
        assertRejected(legacyKey, "rope_scaling type 'yarn'");
        Path phi3 = variant("phi3", c -> c.putObject("rope_scaling").put("type", "longrope"));
        assertRejected(phi3, "Phi3ForCausalLM with rope_scaling type 'longrope'");
    }

    @Test
    void readsLinearAndLlama3RopeScaling() throws IOException {
        Path linear = variant("llama_gqa", c -> c.putObject("rope_scaling").put("type", "linear").put("factor", 2.0));
        assertThat(HfCheckpoint.config(linear).ropeScaling()).isEqualTo(RopeScaling.linear(2.0));
        assertThat(HfCheckpoint.config(TestModels.resource("reference/arch/llama31")).ropeScaling())
                .isEqualTo(RopeScaling.llama3(4.0, 1.0, 4.0, 64));
        assertRejected(variant("llama31", c -> ((ObjectNode) c.get("rope_scaling")).remove("low_freq_factor")),
                "\"rope_scaling\" needs a number \"low_freq_factor\"");
    }

    @Test
    void rejectsPhi3SlidingWindowShorterThanTheContext() throws IOException {
        assertRejected(variant("phi3", c -> c.put("sliding_window", 64)),
                "Phi3ForCausalLM with sliding-window attention (window 64 < context 128)");
    }

    @Test
    void acceptsDefaultRopeScaling() throws IOException {
        Path dir = variant("llama_gqa", c -> c.putObject("rope_scaling").put("rope_type", "default"));
        assertThat(HfCheckpoint.config(dir).ropeTheta()).isEqualTo(10000f);
    }

    @Test
    void rejectsSlidingWindowAttention() throws IOException {
        Path dir = variant("qwen2", c -> c.put("use_sliding_window", true).put("sliding_window", 16));
        assertRejected(dir, "Qwen2ForCausalLM", "sliding-window attention (window 16 < context 128)");
    }

    @Test
    void acceptsMistralOnlyWithoutAnEffectiveSlidingWindow() throws IOException {
        Path full = variant("llama_gqa", c -> {
            c.putArray("architectures").add("MistralForCausalLM");
            c.putNull("sliding_window");
        });
        assertThat(HfCheckpoint.load(full, DType.F32).config().architecture()).isEqualTo("MistralForCausalLM");
        Path covering = variant("llama_gqa", c -> {
            c.putArray("architectures").add("MistralForCausalLM");
            c.put("sliding_window", 128);
        });
        assertThat(HfCheckpoint.config(covering).maxSeqLen()).isEqualTo(128);
        Path windowed = variant("llama_gqa", c -> {
            c.putArray("architectures").add("MistralForCausalLM");
            c.put("sliding_window", 32);
        });
        assertRejected(windowed, "MistralForCausalLM", "sliding-window attention (window 32 < context 128)");
    }

    @Test
    void rejectsPhiQkLayerNorm() throws IOException {
        assertRejected(variant("phi", c -> c.put("qk_layernorm", true)), "PhiForCausalLM with qk_layernorm true");
    }

    @Test
    void rejectsUnsupportedActivations() throws IOException {
        assertRejected(variant("gpt_neox", c -> c.put("hidden_act", "relu")), "hidden_act \"relu\"");
        assertRejected(variant("llama_gqa", c -> c.put("hidden_act", "gelu")), "hidden_act \"gelu\"");
    }

    @Test
    void reportsMissingTensorsAndWrongShapes() throws IOException {
        // Untying qwen2 asks for an lm_head the checkpoint does not have.
        assertRejected(variant("qwen2", c -> c.put("tie_word_embeddings", false)),
                "model.safetensors", "missing tensor 'lm_head.weight'");
        assertRejected(variant("llama_gqa", c -> c.put("intermediate_size", 161)),
                "model.safetensors", "'model.layers.0.mlp.gate_proj.weight' has shape [160, 64], expected [161, 64]");
        Path noConfig = tmp.resolve("empty");
        Files.createDirectories(noConfig);
        assertThat(HfCheckpoint.isHfDirectory(noConfig)).isFalse();
        assertRejected(noConfig, "config.json", "missing");
        Path binOnly = variant("gpt2", c -> { });
        assertThat(HfCheckpoint.isHfDirectory(binOnly)).isTrue();
        Files.move(binOnly.resolve("model.safetensors"), binOnly.resolve("pytorch_model.bin"));
        assertRejected(binOnly, "no model.safetensors", "PyTorch .bin weights are not read");
        assertRejected(variant("gpt2", c -> c.remove("n_embd")), "missing \"n_embd\"");
    }

    @Test
    void readsGptNeoXSequentialResidualAndTokenIdLists() throws IOException {
        Path dir = variant("gpt_neox", c -> {
            c.put("use_parallel_residual", false);
            c.putArray("eos_token_id").add(5).add(7);
        });
        HfCheckpoint.Loaded m = HfCheckpoint.load(dir, DType.F32);
        assertThat(m.config().residual()).isEqualTo(ModelConfig.ResidualKind.SEQUENTIAL);
        assertThat(m.config().eosId()).isEqualTo(5);
        assertThat(m.config().rotaryDim()).isEqualTo(4);
        // Same weights through the other residual wiring: runs, and gives different logits.
        float[] seq = lastLogits(m);
        float[] par = lastLogits(HfCheckpoint.load(TestModels.resource("reference/arch/gpt_neox"), DType.F32));
        assertThat(seq).doesNotContain(Float.NaN);
        assertThat(seq).isNotEqualTo(par);
    }

    @Test
    void readsArchitectureDetails() throws IOException {
        ModelConfig gpt2 = HfCheckpoint.config(TestModels.resource("reference/arch/gpt2"));
        assertThat(gpt2.hiddenDim()).isEqualTo(256); // n_inner null -> 4 * n_embd
        assertThat(gpt2.learnedPositions()).isTrue();
        assertThat(gpt2.rotaryDim()).isZero();
        assertThat(gpt2.mlp()).isEqualTo(ModelConfig.MlpKind.GELU_TANH);
        ModelConfig phi = HfCheckpoint.config(TestModels.resource("reference/arch/phi"));
        assertThat(phi.residual()).isEqualTo(ModelConfig.ResidualKind.PARALLEL_SHARED_NORM);
        assertThat(phi.rotaryDim()).isEqualTo(8); // 0.4 of 20
        ModelConfig neox = HfCheckpoint.config(TestModels.resource("reference/arch/gpt_neox"));
        assertThat(neox.mlp()).isEqualTo(ModelConfig.MlpKind.GELU_EXACT);
        assertThat(neox.residual()).isEqualTo(ModelConfig.ResidualKind.PARALLEL);
        ModelConfig qwen = HfCheckpoint.config(TestModels.resource("reference/arch/qwen2"));
        assertThat(qwen.kvHeads()).isEqualTo(2);
        assertThat(qwen.ropeTheta()).isEqualTo(1e6f);
        var qwenWeights = HfCheckpoint.load(TestModels.resource("reference/arch/qwen2"), DType.F32).weights();
        assertThat(qwenWeights.classifier()).isSameAs(qwenWeights.tokenEmbedding()); // tied
    }

    /**
     * llama_gqa split into two shards behind an index, with zero attention and MLP biases added
     * (attention_bias / mlp_bias true): same logits as the reference.
     */
    @Test
    void loadsShardedLlamaWithBiases() throws Exception {
        Path src = TestModels.resource("reference/arch/llama_gqa");
        Path dir = tmp.resolve("sharded");
        Files.createDirectories(dir);
        ObjectNode cfg = (ObjectNode) OM.readTree(src.resolve("config.json").toFile());
        cfg.put("attention_bias", true).put("mlp_bias", true);
        OM.writeValue(dir.resolve("config.json").toFile(), cfg);
        SafetensorsWriter first = new SafetensorsWriter().metadata("format", "pt");
        SafetensorsWriter second = new SafetensorsWriter().metadata("format", "pt");
        ObjectNode weightMap = OM.createObjectNode();
        List<String> biases = new ArrayList<>();
        try (Safetensors st = Safetensors.open(src)) {
            for (String name : st.names()) {
                boolean early = name.startsWith("model.embed") || name.startsWith("model.layers.0.");
                (early ? first : second).add(name, st.read(name, st.info(name).shape()), st.info(name).shape());
                weightMap.put(name, early ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors");
                if (name.endsWith("_proj.weight")) {
                    biases.add(name.replace(".weight", ".bias"));
                    long rows = st.info(name).shape()[0];
                    second.add(biases.get(biases.size() - 1), new float[(int) rows], rows);
                    weightMap.put(biases.get(biases.size() - 1), "model-00002-of-00002.safetensors");
                }
            }
        }
        first.write(dir.resolve("model-00001-of-00002.safetensors"));
        second.write(dir.resolve("model-00002-of-00002.safetensors"));
        ObjectNode index = OM.createObjectNode();
        index.set("weight_map", weightMap);
        OM.writeValue(dir.resolve(Safetensors.INDEX_FILE).toFile(), index);

        HfCheckpoint.Loaded m = HfCheckpoint.load(dir, DType.F32);
        assertThat(biases).hasSize(21);
        assertThat(m.weights().layers()[2].bUp()).hasSize(2 * 160);
        assertThat(m.weights().layers()[2].bo()).hasSize(64);
        JsonNode ref = OM.readTree(src.resolve("reference.json").toFile());
        byte[] bytes = Files.readAllBytes(src.resolve("logits.f32"));
        float[] expected = new float[bytes.length / 4];
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(expected);
        int vocab = m.config().vocabSize();
        int[] ids = new int[ref.get("input_ids").size()];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = ref.get("input_ids").get(i).asInt();
        }
        try (ThreadPool pool = new ThreadPool(2)) {
            Transformer tf = new Transformer(m.config(), m.weights(), pool);
            float[] x = new float[ids.length * m.config().dim()];
            float[] logits = new float[ids.length * vocab];
            tf.embed(ids, 0, ids.length, 0, x);
            tf.forward(x, ids.length, 0, m.config().layers(), new KVCache(m.config()));
            tf.logitsBlock(x, ids.length, logits);
            for (int i = 0; i < logits.length; i++) {
                assertThat(Math.abs(logits[i] - expected[i])).isLessThan(1e-3f);
            }
        }
    }

    /**
     * Bias placement in the fused matrices, checked through exact equivalences on llama_gqa:
     * a v_proj bias b equals an o_proj bias W_o·b (attention weights sum to one), and a gate_proj
     * bias of -100 silences the MLP (silu(-100) ~ 0) like zeroed down_proj weights do. Either bias
     * in the wrong slot of q|k|v or gate|up breaks the equality.
     */
    @Test
    void placesAttentionAndMlpBiasesInTheirFusedSlots() throws Exception {
        Path src = TestModels.resource("reference/arch/llama_gqa");
        int dim = 64;
        int kvDim = 32;
        float[] bv = new float[kvDim];
        for (int i = 0; i < kvDim; i++) {
            bv[i] = (float) Math.sin(i + 1.0);
        }
        float[][] wo = new float[3][];
        try (Safetensors st = Safetensors.open(src)) {
            for (int l = 0; l < 3; l++) {
                wo[l] = st.read("model.layers." + l + ".self_attn.o_proj.weight", dim, dim);
            }
        }
        // Each query head h reads kv head h / 2, so head h's slice of the attention output carries bv's slice h / 2.
        float[] attnBias = new float[dim];
        for (int h = 0; h < 4; h++) {
            System.arraycopy(bv, (h / 2) * 16, attnBias, h * 16, 16);
        }
        Path vBias = withBiases(src, "vbias", (name, rows) -> name.endsWith("v_proj.bias") ? bv : new float[rows], null);
        Path oBias = withBiases(src, "obias", (name, rows) -> {
            if (!name.endsWith("o_proj.bias")) {
                return new float[rows];
            }
            float[] w = wo[Integer.parseInt(name.split("\\.")[2])];
            float[] b = new float[rows];
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < dim; c++) {
                    b[r] += w[r * dim + c] * attnBias[c];
                }
            }
            return b;
        }, null);
        assertThat(maxDiff(lastLogits(HfCheckpoint.load(vBias, DType.F32)), lastLogits(HfCheckpoint.load(oBias, DType.F32))))
                .isLessThan(1e-4f);

        Path gateOff = withBiases(src, "gateoff", (name, rows) -> {
            float[] b = new float[rows];
            if (name.endsWith("gate_proj.bias")) {
                java.util.Arrays.fill(b, -100f);
            }
            return b;
        }, null);
        Path downZero = withBiases(src, "downzero", (name, rows) -> new float[rows], "down_proj.weight");
        assertThat(maxDiff(lastLogits(HfCheckpoint.load(gateOff, DType.F32)), lastLogits(HfCheckpoint.load(downZero, DType.F32))))
                .isLessThan(1e-4f);
        // Neither pair is trivially equal: both differ from the unbiased model.
        float[] plain = lastLogits(HfCheckpoint.load(src, DType.F32));
        assertThat(maxDiff(plain, lastLogits(HfCheckpoint.load(vBias, DType.F32)))).isGreaterThan(1e-2f);
        assertThat(maxDiff(plain, lastLogits(HfCheckpoint.load(gateOff, DType.F32)))).isGreaterThan(1e-2f);
    }

    private interface BiasSource {
        float[] bias(String name, int rows);
    }

    /** llama_gqa with attention_bias and mlp_bias on, biases from {@code biases}, and tensors ending in {@code zeroed} set to 0. */
    private Path withBiases(Path src, String name, BiasSource biases, String zeroed) throws IOException {
        Path dir = Files.createTempDirectory(tmp, name);
        ObjectNode cfg = (ObjectNode) OM.readTree(src.resolve("config.json").toFile());
        cfg.put("attention_bias", true).put("mlp_bias", true);
        OM.writeValue(dir.resolve("config.json").toFile(), cfg);
        SafetensorsWriter out = new SafetensorsWriter();
        try (Safetensors st = Safetensors.open(src)) {
            for (String t : st.names()) {
                long[] shape = st.info(t).shape();
                float[] data = st.read(t, shape);
                if (zeroed != null && t.endsWith(zeroed)) {
                    data = new float[data.length];
                }
                out.add(t, data, shape);
                if (t.endsWith("_proj.weight")) {
                    String b = t.replace(".weight", ".bias");
                    out.add(b, biases.bias(b, (int) shape[0]), shape[0]);
                }
            }
        }
        out.write(dir.resolve(Safetensors.SINGLE_FILE));
        return dir;
    }

    private static float maxDiff(float[] a, float[] b) {
        float d = 0;
        for (int i = 0; i < a.length; i++) {
            d = Math.max(d, Math.abs(a[i] - b[i]));
        }
        return d;
    }

    private static float[] lastLogits(HfCheckpoint.Loaded m) {
        try (ThreadPool pool = new ThreadPool(1)) {
            Transformer tf = new Transformer(m.config(), m.weights(), pool);
            int[] ids = {3, 1, 4, 1, 5};
            float[] x = new float[ids.length * m.config().dim()];
            tf.embed(ids, 0, ids.length, 0, x);
            tf.forward(x, ids.length, 0, m.config().layers(), new KVCache(m.config()));
            float[] out = new float[m.config().vocabSize()];
            tf.logits(x, ids.length - 1, out);
            return out;
        }
    }
}
