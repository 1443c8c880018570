package dev.earlyexit.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The tokenizer.json written from Llama-2's tokenizer.bin encodes as SentencePiece does. */
class TokenizerJsonWriterTest {
    private static final SentencePieceBpeTokenizer SP = SentencePieceBpeTokenizer.load(ReferenceTexts.llama2TokenizerBin());
    @TempDir
    static Path dir;
    private static Path json;
    private static HfTokenizer hf;

    @BeforeAll
    static void write() {
        json = dir.resolve("tokenizer.json");
        TokenizerJsonWriter.write(SP, json);
        hf = HfTokenizer.load(json);
    }

    @Test
    void specialIdsAndVocabulary() {
        assertThat(hf.vocabSize()).isEqualTo(32000);
        assertThat(hf.bosId()).isEqualTo(1);
        assertThat(hf.eosId()).isEqualTo(2);
        assertThat(Tokenizers.load(dir)).isInstanceOf(HfTokenizer.class);
    }

    @Test
    void sameIdsAsSentencePieceOnEveryReferenceLine() {
        HfTokenizer asText = hf.withSpecialTokensAsText(true);
        for (ReferenceTexts.Line line : ReferenceTexts.sentencePieceLines()) {
            assertThat(asText.encode(line.text())).as("ids of %s", line.text()).containsExactly(line.ids());
            assertThat(asText.decode(line.ids())).isEqualTo(line.text());
            assertThat(ReferenceTexts.streamed(asText, line.ids())).isEqualTo(line.text());
            if (!line.text().matches("(?s).*(<s>|</s>|<unk>).*")) {
                assertThat(hf.encode(line.text())).containsExactly(line.ids());
            }
        }
    }

    /** HF (and so HfTokenizer by default) reads "<s>" in text as the special token; SentencePiece does not. */
    @Test
    void specialTokenTextIsTheSpecialTokenByDefault() {
        int[] expected = java.util.stream.IntStream.concat(java.util.stream.IntStream.concat(
                java.util.stream.IntStream.of(1), java.util.stream.IntStream.of(SP.encode("Hi"))), java.util.stream.IntStream.of(2)).toArray();
        assertThat(hf.encode("<s>Hi</s>")).containsExactly(expected);
        assertThat(hf.encode("<s>Hi</s>")).containsExactly(TestTokenizersIds.reference(json, "<s>Hi</s>"));
    }

    @Test
    void sameIdsAsSentencePieceOnAllOfEmma() {
        List<String> passages = ReferenceTexts.emmaPassages(60);
        for (String passage : passages) {
            assertThat(hf.encode(passage)).containsExactly(SP.encode(passage));
        }
        String emma = ReferenceTexts.emma();
        for (String line : emma.split("\n")) {
            assertThat(hf.encode(line)).as("ids of %s", line).containsExactly(SP.encode(line));
        }
        int[] all = SP.encode(emma);
        assertThat(hf.encode(emma)).containsExactly(all);
        assertThat(hf.decode(all)).isEqualTo(emma);
    }

    @Test
    void theHuggingFaceLibraryReadsTheWrittenFileTheSameWay() throws Exception {
        try (HuggingFaceTokenizer reference = TestTokenizers.reference(json)) {
            for (ReferenceTexts.Line line : ReferenceTexts.sentencePieceLines()) {
                int[] ids = hf.encode(line.text());
                assertThat(TestTokenizers.referenceIds(reference, line.text())).as("HF ids of %s", line.text())
                        .containsExactly(ids);
                assertThat(TestTokenizers.referenceDecode(reference, ids)).isEqualTo(hf.decode(ids));
            }
            for (String passage : ReferenceTexts.emmaPassages(60)) {
                assertThat(TestTokenizers.referenceIds(reference, passage)).containsExactly(SP.encode(passage));
            }
        }
    }

    /** Ids from the HF library for a file, for one-off comparisons. */
    private static final class TestTokenizersIds {
        static int[] reference(Path file, String text) {
            try (HuggingFaceTokenizer reference = TestTokenizers.reference(file)) {
                return TestTokenizers.referenceIds(reference, text);
            }
        }
    }
}
