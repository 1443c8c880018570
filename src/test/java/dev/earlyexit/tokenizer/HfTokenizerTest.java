package dev.earlyexit.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.earlyexit.format.ModelFormatException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** HfTokenizer on small hand-built tokenizer.json files, compared with the Hugging Face library. */
class HfTokenizerTest {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    @TempDir
    Path dir;

    /** Byte-level BPE: the 256 alphabet characters, then one token per merge. */
    private static ObjectNode byteLevel(String... merges) {
        ObjectNode root = MAPPER.createObjectNode();
        ObjectNode model = root.putObject("model").put("type", "BPE");
        ObjectNode vocab = model.putObject("vocab");
        int id = 0;
        for (int b = 0; b < 256; b++) {
            vocab.put(alphabetOfByte(b), id++);
        }
        ArrayNode mergeNode = model.putArray("merges");
        for (String m : merges) {
            String[] p = m.split(" ");
            mergeNode.addArray().add(p[0]).add(p[1]);
            if (!vocab.has(p[0] + p[1])) {
                vocab.put(p[0] + p[1], id++);
            }
        }
        ObjectNode pre = root.putObject("pre_tokenizer").put("type", "ByteLevel");
        pre.put("add_prefix_space", false).put("use_regex", true).put("trim_offsets", false);
        root.putObject("decoder").put("type", "ByteLevel").put("add_prefix_space", false).put("use_regex", true)
                .put("trim_offsets", false);
        return root;
    }

    private static String alphabetOfByte(int b) {
        // the byte-level alphabet's character for b (decode is the inverse of the alphabet)
        for (char c = 0; c < 0x200; c++) {
            byte[] bytes = ByteLevelAlphabet.decode(String.valueOf(c));
            if (bytes != null && (bytes[0] & 0xFF) == b) {
                return String.valueOf(c);
            }
        }
        throw new AssertionError(b);
    }

    private static void addToken(ObjectNode root, int id, String content, boolean special, boolean normalized,
                                 boolean lstrip, boolean rstrip, boolean singleWord) {
        ArrayNode added = root.has("added_tokens") ? (ArrayNode) root.get("added_tokens") : root.putArray("added_tokens");
        added.addObject().put("id", id).put("content", content).put("special", special).put("normalized", normalized)
                .put("lstrip", lstrip).put("rstrip", rstrip).put("single_word", singleWord);
    }

    private Path write(String name, ObjectNode root) throws IOException {
        Path p = dir.resolve(name);
        MAPPER.writeValue(p.toFile(), root);
        return p;
    }

    /** Our ids equal the HF library's for every text, and decode/stream agree with it. */
    private static void assertSameAsReference(Path file, List<String> texts) {
        HfTokenizer tokenizer = HfTokenizer.load(file);
        try (HuggingFaceTokenizer reference = TestTokenizers.reference(file)) {
            for (String text : texts) {
                int[] ids = tokenizer.encode(text);
                assertThat(ids).as("ids of %s", text).containsExactly(TestTokenizers.referenceIds(reference, text));
                assertThat(tokenizer.decode(ids)).as("decode of %s", text).isEqualTo(TestTokenizers.referenceDecode(reference, ids));
                assertThat(ReferenceTexts.streamed(tokenizer, ids)).isEqualTo(tokenizer.decode(ids));
            }
        }
    }

    @Test
    void addedTokensInTheMiddleOfTextAsTheReferenceDoes() throws IOException {
        ObjectNode root = byteLevel("h e", "l l", "he ll", "hell o", "Ġ hello", "w o", "wo r");
        int n = root.get("model").get("vocab").size();
        addToken(root, n, "<|sep|>", true, false, false, false, false);
        addToken(root, n + 1, "[MASK]", true, false, true, true, false);
        addToken(root, n + 2, "world", false, true, false, false, true);
        addToken(root, n + 3, "<|sep|>x", true, false, false, false, false);
        root.putObject("normalizer").put("type", "NFC");
        Path file = write("added.json", root);
        assertSameAsReference(file, List.of("hello<|sep|>hello", "<|sep|>", "a <|sep|> b", "<|sep|>xy <|sep|>",
                "x  [MASK]  y", "[MASK]", "world worlds aworld world!", "hello world", "e\u0301 cafe\u0301",
                "<|sep", "😀<|sep|>😀", "",
                // lstrip/rstrip strip White_Space as Rust does: no-break spaces yes, U+001C-U+001F no
                "x\u00a0[MASK]\u2007y", "x\u001c[MASK]\u001fy", "x\u3000\u0085[MASK]\u200bz"));
    }

    @Test
    void stripNormalizerAndUnicode16LettersAsTheReferenceDoes() throws IOException {
        ObjectNode root = byteLevel("h e", "l l");
        root.putObject("normalizer").put("type", "Strip").put("strip_left", true).put("strip_right", true);
        // letters, digits and marks new in Unicode 14-16 (U+0870 Arabic, U+1C89 Cyrillic, U+1E4F0 Nag Mundari digit)
        root.putObject("pre_tokenizer").put("type", "Split").put("behavior", "Isolated").put("invert", false)
                .putObject("pattern").put("Regex", "\\p{L}+|\\p{N}|\\P{L}|\\w");
        ArrayNode pre = MAPPER.createArrayNode();
        pre.add(root.get("pre_tokenizer"));
        pre.addObject().put("type", "ByteLevel").put("add_prefix_space", false).put("use_regex", false).put("trim_offsets", false);
        root.putObject("pre_tokenizer").put("type", "Sequence").set("pretokenizers", pre);
        Path file = write("strip.json", root);
        assertSameAsReference(file, List.of("\u00a0 hello \u2007", "\u001chello\u001f", "\u0870's \u1c89x\ua7cb",
                "\ud839\udcf0\ud839\udcf1 12", "\u0378\u0870\u0898a", " \u3000"));
    }

    @Test
    void streamingHoldsBackSplitCharacters() throws IOException {
        HfTokenizer tokenizer = HfTokenizer.load(write("bytes.json", byteLevel()));
        int[] ids = tokenizer.encode("é😀");
        assertThat(ids).hasSize(6);
        Tokenizer.StreamDecoder d = tokenizer.streamDecoder();
        List<String> parts = new ArrayList<>();
        for (int id : ids) {
            parts.add(d.push(id));
        }
        assertThat(parts).containsExactly("", "é", "", "", "", "😀");
        assertThat(d.flush()).isEmpty();
        // a dangling lead byte comes out as U+FFFD at the end
        d = tokenizer.streamDecoder();
        assertThat(d.push(ids[2])).isEmpty();
        assertThat(d.flush()).isEqualTo("\uFFFD");
    }

    /** A Llama-style vocabulary: Metaspace pre-tokenizer and decoder, byte fallback, unk. */
    @Test
    void metaspaceAndByteFallbackAsTheReferenceDoes() throws IOException {
        ObjectNode root = MAPPER.createObjectNode();
        ObjectNode model = root.putObject("model").put("type", "BPE").put("byte_fallback", true)
                .put("unk_token", "<unk>").put("fuse_unk", true);
        ObjectNode vocab = model.putObject("vocab");
        int id = 0;
        for (String t : new String[]{"<unk>", "<s>", "</s>"}) {
            vocab.put(t, id++);
        }
        for (int b = 0; b < 256; b++) {
            vocab.put(String.format("<0x%02X>", b), id++);
        }
        for (String t : new String[]{"▁", "a", "b", "c", "é", "▁a", "ab", "▁ab", "▁▁"}) {
            vocab.put(t, id++);
        }
        model.putArray("merges").add("▁ a").add("a b").add("▁a b").add("▁ ▁");
        addToken(root, 1, "<s>", true, false, false, false, false);
        addToken(root, 2, "</s>", true, false, false, false, false);
        root.putObject("pre_tokenizer").put("type", "Metaspace").put("replacement", "▁")
                .put("prepend_scheme", "first").put("split", false);
        root.putObject("decoder").put("type", "Metaspace").put("replacement", "▁")
                .put("prepend_scheme", "first").put("split", false);
        Path file = write("metaspace.json", root);
        assertSameAsReference(file, List.of("ab", "ab ab", " ab", "  ab", "<s>ab</s> ab", "abc é 日本 😀", "x", ""));
    }

    @Test
    void nonJsonAndTruncatedJsonAreClearErrors() throws IOException {
        Path garbage = dir.resolve("garbage.json");
        Files.writeString(garbage, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0");
        assertThatThrownBy(() -> HfTokenizer.load(garbage)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining(garbage.toString()).hasMessageContaining("malformed tokenizer.json");
        Path array = dir.resolve("array.json");
        Files.writeString(array, "[1, 2]");
        assertThatThrownBy(() -> HfTokenizer.load(array)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("not a JSON object");
        Path noModel = dir.resolve("nomodel.json");
        Files.writeString(noModel, "{\"version\": \"1.0\"}");
        assertThatThrownBy(() -> HfTokenizer.load(noModel)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("\"model\"");
    }

    @Test
    void unsupportedTypesAreNamed() throws IOException {
        ObjectNode wordPiece = byteLevel();
        ((ObjectNode) wordPiece.get("model")).put("type", "WordPiece");
        assertError(wordPiece, "unsupported model type \"WordPiece\"");
        ObjectNode unigram = byteLevel();
        ((ObjectNode) unigram.get("model")).put("type", "Unigram");
        assertError(unigram, "unsupported model type \"Unigram\"");
        ObjectNode pre = byteLevel();
        pre.putObject("pre_tokenizer").put("type", "Punctuation");
        assertError(pre, "unsupported pre_tokenizer type \"Punctuation\"");
        ObjectNode norm = byteLevel();
        norm.putObject("normalizer").put("type", "BertNormalizer");
        assertError(norm, "unsupported normalizer type \"BertNormalizer\"");
        ObjectNode dec = byteLevel();
        dec.putObject("decoder").put("type", "WordPiece");
        assertError(dec, "unsupported decoder type \"WordPiece\"");
        ObjectNode badMerge = byteLevel();
        ((ArrayNode) badMerge.get("model").get("merges")).add("zzz q");
        assertError(badMerge, "not in the vocab");
        ObjectNode badRegex = byteLevel();
        badRegex.putObject("pre_tokenizer").put("type", "Split").put("behavior", "Isolated")
                .putObject("pattern").put("Regex", "(unclosed");
        assertError(badRegex, "regex");
    }

    private void assertError(ObjectNode root, String message) throws IOException {
        Path p = write("bad.json", root);
        assertThatThrownBy(() -> HfTokenizer.load(p)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining(p.toString()).hasMessageContaining(message);
    }

    @Test
    void specialIdsFromAddedTokensAndOverride() throws IOException {
        ObjectNode root = byteLevel();
        addToken(root, 256, "<|begin_of_text|>", true, false, false, false, false);
        addToken(root, 257, "<|end_of_text|>", true, false, false, false, false);
        HfTokenizer t = HfTokenizer.load(write("special.json", root));
        assertThat(t.bosId()).isEqualTo(256);
        assertThat(t.eosId()).isEqualTo(257);
        assertThat(t.vocabSize()).isEqualTo(258);
        HfTokenizer o = t.withSpecialIds(-1, 5);
        assertThat(o.bosId()).isEqualTo(-1);
        assertThat(o.eosId()).isEqualTo(5);
        assertThat(HfTokenizer.load(write("plain.json", byteLevel())).bosId()).isEqualTo(-1);
    }

    @Test
    void tokenizersLoadDetectsTheFormat() throws IOException {
        Path json = write("tokenizer.json", byteLevel());
        assertThat(Tokenizers.load(json)).isInstanceOf(HfTokenizer.class);
        assertThat(Tokenizers.load(dir)).isInstanceOf(HfTokenizer.class);
        Path bin = dir.resolve("sub");
        Files.createDirectories(bin);
        Files.copy(ReferenceTexts.llama2TokenizerBin(), bin.resolve("tokenizer.bin"));
        assertThat(Tokenizers.load(bin)).isInstanceOf(SentencePieceBpeTokenizer.class);
        Path renamed = dir.resolve("vocab.dat");
        Files.copy(ReferenceTexts.llama2TokenizerBin(), renamed);
        assertThat(Tokenizers.load(renamed)).isInstanceOf(SentencePieceBpeTokenizer.class);
        Path empty = dir.resolve("empty");
        Files.createDirectories(empty);
        assertThatThrownBy(() -> Tokenizers.load(empty)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("neither tokenizer.json nor tokenizer.bin");
    }
}
