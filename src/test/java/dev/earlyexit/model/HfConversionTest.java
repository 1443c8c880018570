package dev.earlyexit.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.earlyexit.format.HfCheckpoint;
import dev.earlyexit.format.HfCheckpointWriter;
import dev.earlyexit.format.Llama2cCheckpoint;
import dev.earlyexit.format.Safetensors;
import dev.earlyexit.tensor.BF16Matrix;
import dev.earlyexit.tensor.DType;
import dev.earlyexit.tensor.Kernels;
import dev.earlyexit.tensor.ThreadPool;
import dev.earlyexit.testutil.TestModels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * stories15M converted from llama2.c to a Hugging Face Llama directory must compute the same logits
 * through the rotate-half path; and bf16 / q8 storage of HF checkpoints must still pick mostly the
 * same top-1 tokens as float32.
 */
class HfConversionTest {
    private static ThreadPool pool;

    @BeforeAll
    static void startPool() {
        pool = new ThreadPool(2);
    }

    @AfterAll
    static void stopPool() {
        pool.close();
    }

    @Test
    void convertedStories15MMatchesLlama2cLogitsAndReferenceGreedyTokens(@TempDir Path dir) throws Exception {
        var original = Llama2cCheckpoint.load(TestModels.stories15M(), DType.F32);
        HfCheckpointWriter.writeLlama(original.config(), original.weights(), dir);

        JsonNode cfg = new ObjectMapper().readTree(dir.resolve("config.json").toFile());
        assertThat(cfg.get("architectures").get(0).asText()).isEqualTo("LlamaForCausalLM");
        assertThat(cfg.get("max_position_embeddings").asInt()).isEqualTo(original.config().maxSeqLen());
        assertThat(cfg.get("rms_norm_eps").asDouble()).isEqualTo(1e-5);
        assertThat(cfg.get("rope_theta").asDouble()).isEqualTo(10000.0);
        assertThat(cfg.get("bos_token_id").asInt()).isEqualTo(1);
        assertThat(cfg.get("eos_token_id").asInt()).isEqualTo(2);
        assertThat(cfg.get("vocab_size").asInt()).isEqualTo(32000);
        assertThat(cfg.get("torch_dtype").asText()).isEqualTo("float32");
        assertThat(cfg.get("tie_word_embeddings").asBoolean()).isTrue();
        try (Safetensors st = Safetensors.open(dir)) {
            assertThat(st.names()).contains("model.embed_tokens.weight", "model.layers.5.self_attn.q_proj.weight",
                    "model.layers.0.mlp.gate_proj.weight", "model.norm.weight").doesNotContain("lm_head.weight");
        }

        HfCheckpoint.Loaded hf = HfCheckpoint.load(dir, DType.F32);
        assertThat(hf.config().ropeStyle()).isEqualTo(ModelConfig.RopeStyle.HALF);
        assertThat(hf.weights().classifier()).isSameAs(hf.weights().tokenEmbedding());
        Transformer a = new Transformer(original.config(), original.weights(), pool);
        Transformer b = new Transformer(hf.config(), hf.weights(), pool);
        int vocab = hf.config().vocabSize();
        float worst = 0;
        for (JsonNode ref : ReferenceLogitsTest.references()) {
            int[] tokens = ReferenceLogitsTest.toInts(ref.get("tokens"));
            float[] hfLogits = HfReferenceLogitsTest.logits(b, tokens, true);
            worst = Math.max(worst, HfReferenceLogitsTest.maxDiff(hfLogits, HfReferenceLogitsTest.logits(a, tokens, true)));
            for (int p = ref.get("prompt_tokens").asInt() - 1; p < tokens.length - 1; p++) {
                assertThat(Kernels.argmax(hfLogits, p * vocab, vocab)).as("greedy token at %d", p + 1)
                        .isEqualTo(tokens[p + 1]);
            }
            // And directly against the independent C implementation's logits.
            float[] expected = ReferenceLogitsTest.referenceLogits(ref);
            int[] positions = ReferenceLogitsTest.toInts(ref.get("logit_positions"));
            for (int i = 0; i < positions.length; i++) {
                for (int v = 0; v < vocab; v++) {
                    assertThat(Math.abs(hfLogits[positions[i] * vocab + v] - expected[i * vocab + v]))
                            .as("HF path logit %d at position %d", v, positions[i]).isLessThan(1e-3f);
                }
            }
        }
        System.out.printf("stories15M HF vs llama2.c: max |logit diff| %.3g%n", worst);
        assertThat(worst).isLessThan(1e-4f);
    }

    @Test
    void convertedStories15MInReducedStorageAgreesWithF32(@TempDir Path dir) throws Exception {
        var original = Llama2cCheckpoint.load(TestModels.stories15M(), DType.F32);
        HfCheckpointWriter.writeLlama(original.config(), original.weights(), dir);
        List<int[]> inputs = ReferenceLogitsTest.references().stream()
                .map(r -> ReferenceLogitsTest.toInts(r.get("tokens"))).toList();
        int[] f32 = topTokens(HfCheckpoint.load(dir, DType.F32), inputs);
        for (DType d : new DType[]{DType.BF16, DType.Q8}) {
            double agreement = agreement(f32, topTokens(HfCheckpoint.load(dir, d), inputs));
            System.out.printf("stories15M HF %s: top-1 agreement with f32 %.4f over %d positions%n", d, agreement, f32.length);
            assertThat(agreement).as("%s top-1 agreement", d).isGreaterThan(0.95);
        }
    }

    @Test
    void bf16CheckpointIsTheF32CheckpointRoundedToNearestEven(@TempDir Path dir) throws Exception {
        var original = Llama2cCheckpoint.load(TestModels.stories15M(), DType.F32);
        Path f32Dir = dir.resolve("f32");
        Path bf16Dir = dir.resolve("bf16");
        HfCheckpointWriter.writeLlama(original.config(), original.weights(), f32Dir);
        HfCheckpointWriter.writeLlama(original.config(), original.weights(), bf16Dir, Safetensors.TensorType.BF16);
        JsonNode cfg = new ObjectMapper().readTree(bf16Dir.resolve("config.json").toFile());
        assertThat(cfg.get("torch_dtype").asText()).isEqualTo("bfloat16");
        try (Safetensors st = Safetensors.open(bf16Dir)) {
            assertThat(st.info("model.layers.0.self_attn.q_proj.weight").type()).isEqualTo(Safetensors.TensorType.BF16);
        }
        // Every value of the bf16 file is the f32 file's value rounded to nearest even.
        try (Safetensors f32 = Safetensors.open(f32Dir); Safetensors bf16 = Safetensors.open(bf16Dir)) {
            assertThat(bf16.names()).containsExactlyElementsOf(f32.names());
            for (String name : f32.names()) {
                float[] a = f32.read(name, f32.info(name).shape());
                float[] b = bf16.read(name, f32.info(name).shape());
                for (int i = 0; i < a.length; i++) {
                    if (b[i] != BF16Matrix.toFloat(BF16Matrix.toBf16(a[i]))) {
                        throw new AssertionError(name + "[" + i + "]: " + b[i] + " is not bf16(" + a[i] + ")");
                    }
                }
            }
        }
        List<int[]> inputs = ReferenceLogitsTest.references().stream()
                .map(r -> ReferenceLogitsTest.toInts(r.get("tokens"))).toList();
        double agreement = agreement(topTokens(HfCheckpoint.load(f32Dir, DType.F32), inputs),
                topTokens(HfCheckpoint.load(bf16Dir, DType.F32), inputs));
        System.out.printf("stories15M bf16 checkpoint: top-1 agreement with f32 %.4f%n", agreement);
        assertThat(agreement).isGreaterThan(0.95);
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt_neox", "phi", "gpt2", "qwen2", "llama_gqa"})
    void referenceArchitecturesInReducedStorageAgreeWithF32(String name) throws Exception {
        Path dir = TestModels.resource("reference/arch/" + name);
        JsonNode ref = new ObjectMapper().readTree(dir.resolve("reference.json").toFile());
        List<int[]> inputs = List.of(ReferenceLogitsTest.toInts(ref.get("input_ids")));
        int[] f32 = topTokens(HfCheckpoint.load(dir, DType.F32), inputs);
        for (DType d : new DType[]{DType.BF16, DType.Q8}) {
            HfCheckpoint.Loaded m = HfCheckpoint.load(dir, d);
            assertThat(m.weights().layers()[0].wqkv().dtype()).isEqualTo(d);
            double agreement = agreement(f32, topTokens(m, inputs));
            System.out.printf("%s %s: top-1 agreement with f32 %.4f over %d positions%n", name, d, agreement, f32.length);
            // Tiny random models have near-ties (phi's closest greedy gap is 0.002), so allow a few flips.
            assertThat(agreement).as("%s top-1 agreement", d).isGreaterThanOrEqualTo(0.75);
        }
    }

    /** Argmax at every position of every input, by block prefill. */
    private static int[] topTokens(HfCheckpoint.Loaded m, List<int[]> inputs) {
        Transformer tf = new Transformer(m.config(), m.weights(), pool);
        int vocab = m.config().vocabSize();
        int total = inputs.stream().mapToInt(a -> a.length).sum();
        int[] out = new int[total];
        int k = 0;
        for (int[] ids : inputs) {
            float[] logits = HfReferenceLogitsTest.logits(tf, ids, true);
            for (int p = 0; p < ids.length; p++) {
                out[k++] = Kernels.argmax(logits, p * vocab, vocab);
            }
        }
        return out;
    }

    private static double agreement(int[] a, int[] b) {
        int same = 0;
        for (int i = 0; i < a.length; i++) {
            same += a[i] == b[i] ? 1 : 0;
        }
        return (double) same / a.length;
    }
}
