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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Tokenizers written into GGUF metadata ({@link GgufVocabulary}) and read back by {@link GgufTokenizers}. */
class GgufVocabularyTest {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    @TempDir
    Path dir;

    /** A one-layer random Llama of {@code vocab} rows (dim 8): just enough to carry a vocabulary. */
    static Path tinyModel(Path file, int vocab, Tokenizer tok, int bos, int eos) throws Exception {
        int dim = 8;
        ModelConfig c = new ModelConfig("LlamaForCausalLM", dim, 16, 1, 2, 2, 4, vocab, 64, ModelConfig.NormKind.RMS, 1e-5f,
                10000f, 4, ModelConfig.RopeStyle.HALF, ModelConfig.MlpKind.SWIGLU, ModelConfig.ResidualKind.SEQUENTIAL, false,
                bos, eos, RopeScaling.NONE, false);
        float[] norm = new float[dim];
        Arrays.fill(norm, 1);
        LayerWeights l = new LayerWeights(norm, null, m(c.qkvDim(), dim), null, m(dim, dim), null, norm, null, m(32, dim), null,
                m(dim, 16), null, null, null);
        Matrix emb = m(vocab, dim);
        GgufExport.write(c, new ModelWeights(emb, null, new LayerWeights[]{l}, norm, null, emb, null), tok, GgmlType.F32, file);
        return file;
    }

    private static Matrix m(int rows, int cols) {
        float[] a = new float[rows * cols];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) Math.sin(i * 0.37) * 0.1f;
        }
        return Matrix.of(DType.F32, a, rows, cols);
    }

    /**
     * A SentencePiece-style tokenizer.json (stories15M's vocabulary as TokenizerJsonWriter writes it, as HF
     * Llama 2 checkpoints ship theirs) becomes a {@code llama} vocabulary whose scores come from the merge
     * ranks: read back, it tokenizes as the original SentencePiece tokenizer, and so as llama.cpp did on
     * stories15M-f16.gguf (fixture).
     */
    @Test
    void sentencePieceStyleTokenizerJsonTokenizesAsTheSentencePieceVocabulary() throws Exception {
        Path model = TestModels.stories15M();
        SentencePieceBpeTokenizer sp = SentencePieceBpeTokenizer.load(model.resolveSibling("tokenizer.bin"));
        Path json = dir.resolve("tokenizer.json");
        TokenizerJsonWriter.write(sp, json);
        HfTokenizer hf = HfTokenizer.load(json);
        Path f = tinyModel(dir.resolve("sp.gguf"), sp.vocabSize(), hf, 1, 2);
        GgufCheckpoint.Loaded g = GgufCheckpoint.load(f);
        assertThat(g.tokenizerOrNull()).isInstanceOf(SentencePieceBpeTokenizer.class);
        Tokenizer back = g.tokenizerOrNull();
        JsonNode fx = MAPPER.readTree(TestModels.resource("gguf/llamacpp-sp-unicode.json").toFile());
        List<String> texts = GgufTokenizerLlamaCppTest.lines(TestModels.resource("gguf/unicode-samples.txt"));
        for (int i = 0; i < texts.size(); i++) {
            int[] llamaCpp = new int[fx.get("ids").get(i).size()];
            for (int j = 0; j < llamaCpp.length; j++) {
                llamaCpp[j] = fx.get("ids").get(i).get(j).asInt();
            }
            assertThat(back.encode(texts.get(i))).as(texts.get(i)).containsExactly(sp.encode(texts.get(i)))
                    .containsExactly(llamaCpp);
        }
        GgufFile file = GgufFile.open(f);
        try {
            assertThat(file.string("tokenizer.ggml.model")).contains("llama");
            assertThat(file.bool("tokenizer.ggml.add_bos_token", false)).isTrue();
        } finally {
            file.close();
        }
    }

    @Test
    void preTokenizersAreNamedAsLlamaCppNamesThem() throws Exception {
        String byteLevelNoRegex = "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,\"use_regex\":false}";
        assertThat(kind(split(HfTokenizer.LLAMA3_REGEX) + byteLevelNoRegex + "]}").ggufPre()).isEqualTo("llama-bpe");
        assertThat(kind(split(HfTokenizer.QWEN2_REGEX) + byteLevelNoRegex + "]}").ggufPre()).isEqualTo("qwen2");
        assertThat(kind("{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":true}").ggufPre()).isEqualTo("gpt-2");
        HfTokenizer.PreTokenizerKind other = kind(split("\\p{N}{1,2}|\\s+") + byteLevelNoRegex + "]}");
        assertThat(other.byteLevel()).isTrue();
        assertThat(other.ggufPre()).isNull();
        assertThat(other.description()).contains("\\p{N}{1,2}");
        assertThat(kind("{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"use_regex\":true}").ggufPre())
                .as("a prefix space is not GPT-2's").isNull();
        assertThat(kind("{\"type\":\"Metaspace\",\"replacement\":\"\u2581\"}").byteLevel()).isFalse();
        assertThat(HfTokenizer.preTokenizerKind(null).byteLevel()).isFalse();
    }

    /** A Sequence pre-tokenizer's opening with a Split on {@code regex} (the regex's own text). */
    private static String split(String regex) {
        return "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":\""
                + regex.replace("\\", "\\\\") + "\"},\"behavior\":\"Isolated\","
                + "\"invert\":false},";
    }

    private static HfTokenizer.PreTokenizerKind kind(String json) throws Exception {
        return HfTokenizer.preTokenizerKind(MAPPER.readTree(json));
    }

    /**
     * The synthetic vocabulary of a tokenizer-less model: the model's BOS/EOS ids as control tokens, every
     * byte one token, the names llama.cpp looks up for Phi-3, [PAD] tokens to the row count; read back it
     * encodes text as its bytes.
     */
    @Test
    void syntheticVocabularyHasEveryByteAndTheModelsSpecialIds() throws Exception {
        GgufVocabulary v = GgufVocabulary.synthetic(300, 0, 0);
        Map<String, Object> m = v.metadata();
        String[] tokens = (String[]) m.get("tokenizer.ggml.tokens");
        int[] types = (int[]) m.get("tokenizer.ggml.token_type");
        assertThat(v.synthetic()).isTrue();
        assertThat(tokens).hasSize(300).doesNotHaveDuplicates().contains("<unk>", "<s>", "</s>", "<|endoftext|>", "[PAD299]");
        assertThat(tokens[0]).isEqualTo("<|endoftext|>");
        assertThat(types[0]).isEqualTo(GgufVocabulary.TYPE_CONTROL);
        assertThat(tokens[1]).isEqualTo("\u0100"); // byte 0 in GPT-2's alphabet
        assertThat(m).containsEntry("tokenizer.ggml.model", "gpt2").containsEntry("tokenizer.ggml.pre", "gpt-2")
                .containsEntry("tokenizer.ggml.bos_token_id", 0).containsEntry("tokenizer.ggml.add_bos_token", true);
        assertThat((String[]) m.get("tokenizer.ggml.merges")).isEmpty();

        Path f = tinyModel(dir.resolve("synthetic.gguf"), 300, null, 1, 2);
        GgufCheckpoint.Loaded g = GgufCheckpoint.load(f);
        Tokenizer tok = g.tokenizerOrNull();
        assertThat(g.config().bosId()).isEqualTo(1);
        assertThat(g.config().eosId()).isEqualTo(2);
        String text = "Aé 猫";
        byte[] utf8 = text.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        assertThat(tok.encode(text)).hasSize(utf8.length);
        assertThat(tok.decode(tok.encode(text))).isEqualTo(text);
    }

    @Test
    void aByteLevelTokenizerWithAnUnknownSplitIsRefusedNamingIt() throws Exception {
        String json = "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},\"merges\":[\"a b\"]},"
                + "\"pre_tokenizer\":" + split("\\p{N}{1,2}|\\s+")
                + "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":false}]},\"decoder\":{\"type\":\"ByteLevel\"}}";
        HfTokenizer hf = HfTokenizer.fromJson(MAPPER.readTree(json), "t.json");
        assertThatThrownBy(() -> GgufVocabulary.of(hf, 3, -1, -1, null))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("\\p{N}{1,2}").hasMessageContaining("llama-bpe");
        assertThatThrownBy(() -> GgufVocabulary.of(hf, 2, -1, -1, null))
                .hasMessageContaining("3 tokens but the model only 2 rows");
    }
}
