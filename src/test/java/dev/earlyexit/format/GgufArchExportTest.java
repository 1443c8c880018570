package dev.earlyexit.format;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.ModelWeights;
import dev.earlyexit.model.RopeScaling;
import dev.earlyexit.model.Transformer;
import dev.earlyexit.tensor.DType;
import dev.earlyexit.tensor.GgmlType;
import dev.earlyexit.tensor.ThreadPool;
import dev.earlyexit.testutil.TestModels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The tiny Hugging Face checkpoints of src/test/resources/reference/arch written as GGUF by
 * {@link GgufExport} and read back by {@link GgufCheckpoint} give the logits of their Hugging Face form
 * and of the float64 reference; and llama.cpp's log-probabilities on the same files (fixtures in
 * src/test/resources/gguf/arch, made by scripts/llamacpp-arch-logprobs.sh) match the reference's, which
 * shows that the names, layouts and metadata written are llama.cpp's.
 *
 * <p>{@code -Dgguf.arch.out=DIR} also keeps each written file there as NAME-TYPE.gguf (for the script).
 */
class GgufArchExportTest {
    /** The GGUF architecture each checkpoint is written as. */
    static final Map<String, String> ARCH = Map.of("gpt2", "gpt2", "gpt_neox", "gptneox", "llama31", "llama",
            "llama_gqa", "llama", "phi", "phi2", "phi3", "phi3", "qwen2", "qwen2", "qwen3", "qwen3");

    private static ThreadPool pool;

    @TempDir
    Path dir;

    @BeforeAll
    static void startPool() {
        pool = new ThreadPool(2);
    }

    @AfterAll
    static void stopPool() {
        pool.close();
    }

    record Reference(int[] ids, float[] logits, double maxAbsLogit, String weightsDtype) {
        static Reference of(String name) throws Exception {
            Path d = TestModels.resource("reference/arch/" + name);
            JsonNode ref = new ObjectMapper().readTree(d.resolve("reference.json").toFile());
            int[] ids = new int[ref.get("input_ids").size()];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = ref.get("input_ids").get(i).asInt();
            }
            return new Reference(ids, floats(d.resolve(ref.get("logits_file").asText())),
                    ref.get("max_abs_logit").asDouble(), ref.get("weights_dtype").asText());
        }
    }

    static float[] floats(Path file) throws Exception {
        byte[] bytes = Files.readAllBytes(file);
        float[] f = new float[bytes.length / 4];
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(f);
        return f;
    }

    static float maxDiff(float[] a, float[] b) {
        assertThat(a).hasSameSizeAs(b);
        float d = 0;
        for (int i = 0; i < a.length; i++) {
            d = Math.max(d, Math.abs(a[i] - b[i]));
        }
        return d;
    }

    /** Each row of [positions, vocab] logits as log-probabilities (log-softmax, in double). */
    static float[] logSoftmax(float[] logits, int vocab) {
        float[] out = new float[logits.length];
        for (int r = 0; r < logits.length / vocab; r++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int v = 0; v < vocab; v++) {
                max = Math.max(max, logits[r * vocab + v]);
            }
            double sum = 0;
            for (int v = 0; v < vocab; v++) {
                sum += Math.exp(logits[r * vocab + v] - max);
            }
            double lse = max + Math.log(sum);
            for (int v = 0; v < vocab; v++) {
                out[r * vocab + v] = (float) (logits[r * vocab + v] - lse);
            }
        }
        return out;
    }

    private static GgmlType type(String t) {
        return switch (t) {
            case "f32" -> GgmlType.F32;
            case "f16" -> GgmlType.F16;
            case "bf16" -> GgmlType.BF16;
            default -> throw new IllegalArgumentException(t);
        };
    }

    /** The checkpoint written as GGUF {@code type} (kept under -Dgguf.arch.out when set). */
    private Path export(String name, HfCheckpoint.Loaded h, String type) throws Exception {
        Path f = dir.resolve(name + "-" + type + ".gguf");
        GgufExport.Written w = GgufExport.write(h.config(), h.weights(), null, type(type), f);
        assertThat(w.architecture()).isEqualTo(ARCH.get(name));
        assertThat(w.syntheticVocabulary()).isTrue();
        String keep = System.getProperty("gguf.arch.out");
        if (keep != null) {
            Files.createDirectories(Path.of(keep));
            Files.copy(f, Path.of(keep).resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
        }
        return f;
    }

    /**
     * f32 (and a 16-bit type that holds the checkpoint's weights exactly) must agree with the Hugging Face
     * form to float32 rounding; a 16-bit type that rounds the weights (f16 or bf16 of float32 weights)
     * only within the weights' rounding.
     */
    @ParameterizedTest
    @CsvSource({"gpt2,f32", "gpt2,f16", "gpt2,bf16", "gpt_neox,f32", "gpt_neox,f16", "gpt_neox,bf16",
            "llama31,f32", "llama31,f16", "llama31,bf16", "llama_gqa,f32", "llama_gqa,f16", "llama_gqa,bf16",
            "phi,f32", "phi,f16", "phi,bf16", "phi3,f32", "phi3,f16", "phi3,bf16",
            "qwen2,f32", "qwen2,f16", "qwen2,bf16", "qwen3,f32", "qwen3,f16", "qwen3,bf16"})
    void writtenAndReadBackGivesTheHuggingFaceLogits(String name, String type) throws Exception {
        Reference ref = Reference.of(name);
        HfCheckpoint.Loaded h = HfCheckpoint.load(TestModels.resource("reference/arch/" + name), DType.F32);
        GgufCheckpoint.Loaded g = GgufCheckpoint.load(export(name, h, type));
        ModelConfig hc = h.config();
        ModelConfig gc = g.config();
        assertThat(gc.architecture()).isEqualTo(ARCH.get(name));
        assertThat(new int[]{gc.dim(), gc.hiddenDim(), gc.layers(), gc.heads(), gc.kvHeads(), gc.headDim(), gc.vocabSize(),
                gc.rotaryDim(), gc.bosId(), gc.eosId()}).containsExactly(hc.dim(), hc.hiddenDim(), hc.layers(), hc.heads(),
                hc.kvHeads(), hc.headDim(), hc.vocabSize(), hc.rotaryDim(), hc.bosId(), hc.eosId());
        assertThat(gc.norm()).isEqualTo(hc.norm());
        assertThat(gc.mlp()).isEqualTo(hc.mlp());
        assertThat(gc.residual()).isEqualTo(hc.residual());
        assertThat(gc.normEps()).isEqualTo(hc.normEps());
        assertThat(g.tokenizerOrNull()).as("the synthetic vocabulary reads back").isNotNull();

        float[] ours = GgufCheckpointTest.logits(new Transformer(hc, h.weights(), pool), ref.ids());
        float[] back = GgufCheckpointTest.logits(new Transformer(gc, g.weights(), pool), ref.ids());
        float vsHf = maxDiff(back, ours);
        float vsRef = maxDiff(back, ref.logits());
        boolean exact = type.equals("f32") || type.equalsIgnoreCase(ref.weightsDtype());
        double tolerance = (exact ? 1e-4 : 3e-2) * ref.maxAbsLogit();
        System.out.printf("%s %s (%s): max |logit diff| vs HF %.3g, vs float64 reference %.3g (max |logit| %.3g, tolerance %.3g)%n",
                name, type, gc.architecture(), vsHf, vsRef, ref.maxAbsLogit(), tolerance);
        assertThat((double) vsHf).isLessThan(tolerance);
        assertThat((double) vsRef).isLessThan(tolerance);
    }

    /**
     * llama.cpp's log-probabilities on the f32 files (fixtures) against the float64 reference's, and so
     * against ours. Tolerance: 1e-4 of the largest logit, as for our own engine (llama.cpp ran with a
     * float32 KV cache and without flash attention, which rounds to f16 on the CPU); 1e-3 for the GELU
     * architectures, as ggml's CPU GELU reads an f16 table (GGML_GELU_FP16). A wrong name or layout (q/k
     * order, fused q|k|v, gate|up) shows as errors of the size of the logits themselves.
     */
    @ParameterizedTest
    @ValueSource(strings = {"gpt2", "gpt_neox", "llama31", "llama_gqa", "phi", "phi3", "qwen2", "qwen3"})
    void llamaCppLogProbabilitiesMatchTheReference(String name) throws Exception {
        Reference ref = Reference.of(name);
        HfCheckpoint.Loaded h = HfCheckpoint.load(TestModels.resource("reference/arch/" + name), DType.F32);
        int vocab = h.config().vocabSize();
        float[] llamaCpp = floats(TestModels.resource("gguf/arch/" + name + "-f32.logprobs.f32"));
        float[] reference = logSoftmax(ref.logits(), vocab);
        GgufCheckpoint.Loaded g = GgufCheckpoint.load(export(name, h, "f32"));
        float[] ours = logSoftmax(GgufCheckpointTest.logits(new Transformer(g.config(), g.weights(), pool), ref.ids()), vocab);
        float vsRef = maxDiff(llamaCpp, reference);
        float vsOurs = maxDiff(llamaCpp, ours);
        boolean gelu = h.config().mlp() != ModelConfig.MlpKind.SWIGLU;
        double tolerance = (gelu ? 1e-3 : 1e-4) * ref.maxAbsLogit();
        System.out.printf("%s: llama.cpp max |log-prob diff| vs float64 reference %.3g, vs ours %.3g (tolerance %.3g)%n",
                name, vsRef, vsOurs, tolerance);
        assertThat((double) vsRef).isLessThan(tolerance);
        assertThat((double) vsOurs).isLessThan(tolerance);
    }

    /** Linear RoPE scaling (no arch checkpoint has it): rope.scaling.type/factor, read back as the same scaling. */
    @org.junit.jupiter.api.Test
    void linearRopeScalingIsWrittenAsScalingTypeAndFactor() throws Exception {
        Reference ref = Reference.of("llama_gqa");
        HfCheckpoint.Loaded h = HfCheckpoint.load(TestModels.resource("reference/arch/llama_gqa"), DType.F32);
        ModelConfig c = h.config().withRopeScaling(RopeScaling.linear(2));
        Path f = dir.resolve("linear.gguf");
        GgufExport.write(c, h.weights(), null, GgmlType.F32, f);
        GgufFile file = GgufFile.open(f);
        try {
            assertThat(file.string("llama.rope.scaling.type")).contains("linear");
            assertThat(file.number("llama.rope.scaling.factor", 0)).isEqualTo(2.0);
            assertThat(file.tensor("rope_freqs.weight")).isEmpty();
        } finally {
            file.close();
        }
        GgufCheckpoint.Loaded g = GgufCheckpoint.load(f);
        assertThat(g.config().ropeScaling()).isEqualTo(RopeScaling.linear(2));
        float[] a = GgufCheckpointTest.logits(new Transformer(c, h.weights(), pool), ref.ids());
        float[] b = GgufCheckpointTest.logits(new Transformer(g.config(), g.weights(), pool), ref.ids());
        assertThat((double) maxDiff(a, b)).isLessThan(1e-4 * ref.maxAbsLogit());
    }

    /** What llama.cpp has no architecture or tensor for is refused, naming the model and the reason. */
    @org.junit.jupiter.api.Test
    void modelsLlamaCppCannotRunAreRefusedNamingWhy() throws Exception {
        HfCheckpoint.Loaded neox = HfCheckpoint.load(TestModels.resource("reference/arch/gpt_neox"), DType.F32);
        ModelWeights w = neox.weights();
        ModelWeights withBias = new ModelWeights(w.tokenEmbedding(), w.positionEmbedding(), w.layers(), w.finalNorm(),
                w.finalNormBias(), w.classifier(), new float[neox.config().vocabSize()]);
        assertThatThrownBy(() -> GgufExport.write(neox.config(), withBias, null, GgmlType.F32, dir.resolve("a.gguf")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("writing GPTNeoXForCausalLM as GGUF gptneox is not supported: llama.cpp's gptneox has no classifier bias");
        HfCheckpoint.Loaded qwen3 = HfCheckpoint.load(TestModels.resource("reference/arch/qwen3"), DType.F32);
        ModelConfig scaled = qwen3.config().withRopeScaling(RopeScaling.llama3(8, 1, 4, 64));
        assertThatThrownBy(() -> GgufExport.write(scaled, qwen3.weights(), null, GgmlType.F32, dir.resolve("b.gguf")))
                .hasMessageStartingWith("writing Qwen3ForCausalLM as GGUF qwen3 is not supported: llama.cpp reads "
                        + "per-frequency RoPE factors (rope_freqs) only for llama");
        ModelConfig c = qwen3.config();
        ModelConfig layerNormSwiglu = new ModelConfig("OddForCausalLM", c.dim(), c.hiddenDim(), c.layers(), c.heads(),
                c.kvHeads(), c.headDim(), c.vocabSize(), c.maxSeqLen(), ModelConfig.NormKind.LAYER, c.normEps(), c.ropeTheta(),
                c.rotaryDim(), c.ropeStyle(), c.mlp(), c.residual(), false, c.bosId(), c.eosId(), RopeScaling.NONE, false);
        assertThatThrownBy(() -> GgufExport.write(layerNormSwiglu, qwen3.weights(), null, GgmlType.F32, dir.resolve("c.gguf")))
                .hasMessage("writing OddForCausalLM as GGUF is not supported: LayerNorm with SWIGLU and SEQUENTIAL residual is "
                        + "neither phi2 nor gptneox (convert writes llama, qwen2, qwen3, phi3, gpt2, phi2, gptneox)");
    }
}
