package dev.earlyexit.tokenizer;

import dev.earlyexit.format.ModelFormatException;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SentencePieceBpeTokenizerTest {
    private static final SentencePieceBpeTokenizer TOKENIZER =
            SentencePieceBpeTokenizer.load(ReferenceTexts.llama2TokenizerBin());

    @Test
    void vocabularyAndSpecialIds() {
        assertThat(TOKENIZER.vocabSize()).isEqualTo(32000);
        assertThat(TOKENIZER.bosId()).isEqualTo(1);
        assertThat(TOKENIZER.eosId()).isEqualTo(2);
        assertThat(TOKENIZER.hasByteFallback()).isTrue();
        assertThat(TOKENIZER.piece(3)).isEqualTo("<0x00>");
        assertThat(TOKENIZER.piece(258)).isEqualTo("<0xFF>");
        assertThat(TOKENIZER.piece(29871)).isEqualTo("\u2581");
        assertThat(TOKENIZER.piece(1)).isEqualTo("<s>");
    }

    @Test
    void idsEqualSentencePieceOnEveryReferenceLine() {
        List<ReferenceTexts.Line> lines = ReferenceTexts.sentencePieceLines();
        assertThat(lines).hasSizeGreaterThan(150);
        for (ReferenceTexts.Line line : lines) {
            assertThat(TOKENIZER.encode(line.text())).as("ids of %s", line.text()).containsExactly(line.ids());
        }
    }

    @Test
    void decodeInvertsEncodeOnEveryReferenceLine() {
        for (ReferenceTexts.Line line : ReferenceTexts.sentencePieceLines()) {
            assertThat(TOKENIZER.decode(line.ids())).isEqualTo(line.text());
            assertThat(ReferenceTexts.streamed(TOKENIZER, line.ids())).isEqualTo(line.text());
        }
    }

    @Test
    void encodesAllOfEmmaQuicklyAndRoundTrips() {
        String emma = ReferenceTexts.emma();
        long t0 = System.nanoTime();
        int[] ids = TOKENIZER.encode(emma);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertThat(ids.length).isGreaterThan(100_000);
        assertThat(ms).as("encoding %d chars took %d ms", emma.length(), ms).isLessThan(20_000);
        assertThat(TOKENIZER.decode(ids)).isEqualTo(emma);
    }

    /**
     * The property that holds: decode(encode(s)) == s for every well-formed string without U+2581
     * ('▁' is SentencePiece's space symbol, so it decodes as a space). Leading spaces, whitespace runs,
     * control characters and characters outside the vocabulary (byte fallback) all round trip.
     */
    @Property(tries = 300)
    void decodeInvertsEncode(@ForAll("unicodeText") String s) {
        int[] ids = TOKENIZER.encode(s);
        assertThat(TOKENIZER.decode(ids)).isEqualTo(s);
        assertThat(ReferenceTexts.streamed(TOKENIZER, ids)).isEqualTo(s);
    }

    @Test
    void spaceSymbolInTheTextDecodesAsSpace() {
        assertThat(TOKENIZER.encode("a\u2581b")).containsExactly(TOKENIZER.encode("a b"));
        assertThat(TOKENIZER.decode(TOKENIZER.encode("a\u2581b"))).isEqualTo("a b");
    }

    @Provide
    Arbitrary<String> unicodeText() {
        Arbitrary<String> ascii = Arbitraries.strings().withCharRange(' ', '~').ofMaxLength(20);
        Arbitrary<String> spaces = Arbitraries.of(" ", "  ", "\n", "\r\n", "\t", "   ");
        Arbitrary<String> any = Arbitraries.strings().all().ofMaxLength(6)
                .map(t -> t.codePoints().filter(cp -> cp != 0x2581 && (cp < 0xD800 || cp > 0xDFFF)) // no lone surrogates
                        .collect(StringBuilder::new, StringBuilder::appendCodePoint, StringBuilder::append).toString());
        Arbitrary<String> emoji = Arbitraries.integers().between(0x1F300, 0x1FAFF).map(Character::toString);
        Arbitrary<String> supplementary = Arbitraries.integers().between(0x10000, 0x10FFFF).map(Character::toString);
        Arbitrary<String> control = Arbitraries.integers().between(0, 0x1F).map(Character::toString);
        return Arbitraries.oneOf(ascii, spaces, any, emoji, supplementary, control, Arbitraries.of("é", "日本", "ß"))
                .list().ofMaxSize(12).map(parts -> String.join("", parts));
    }

    @Test
    void streamingHoldsBackSplitCharacters() {
        int[] ids = TOKENIZER.encode("😀!"); // '▁', four byte tokens, '!'
        Tokenizer.StreamDecoder d = TOKENIZER.streamDecoder();
        StringBuilder seen = new StringBuilder();
        for (int id : ids) {
            String part = d.push(id);
            assertThat(part).doesNotContain("\uFFFD");
            seen.append(part);
        }
        assertThat(seen.append(d.flush()).toString()).isEqualTo("😀!");
    }

    @Test
    void invalidBytesBecomeReplacementCharacters() {
        // <0xE6><0x97> is an incomplete 3-byte sequence; SentencePiece replaces each invalid byte.
        int e6 = 3 + 0xE6;
        int x97 = 3 + 0x97;
        int a = TOKENIZER.encode("a")[0]; // "▁a": its space stays since text precedes it
        assertThat(TOKENIZER.decode(new int[]{e6, x97, a})).isEqualTo("\uFFFD\uFFFD a");
        assertThat(ReferenceTexts.streamed(TOKENIZER, new int[]{e6, x97, a})).isEqualTo("\uFFFD\uFFFD a");
        assertThat(ReferenceTexts.streamed(TOKENIZER, new int[]{a, e6})).isEqualTo("a\uFFFD");
    }

    @Test
    void controlTokensDecodeAsSentencePieceDoes() {
        int[] hello = TOKENIZER.encode("Hello");
        int[] ids = new int[hello.length + 2];
        ids[0] = 1;
        System.arraycopy(hello, 0, ids, 1, hello.length);
        ids[ids.length - 1] = 2;
        assertThat(TOKENIZER.decode(ids)).isEqualTo("Hello");
        assertThat(TOKENIZER.decode(new int[]{0})).isEqualTo(" \u2047 ");
        assertThatThrownBy(() -> TOKENIZER.decode(new int[]{32000})).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void truncatedFileIsAClearError(@TempDir Path dir) throws IOException {
        byte[] good = Files.readAllBytes(ReferenceTexts.llama2TokenizerBin());
        for (int cut : new int[]{0, 2, 4, 10, 17, good.length - 1, good.length / 2 + 3}) {
            Path p = dir.resolve("cut" + cut + ".bin");
            Files.write(p, Arrays.copyOf(good, cut));
            assertThatThrownBy(() -> SentencePieceBpeTokenizer.load(p))
                    .isInstanceOf(ModelFormatException.class)
                    .hasMessageContaining(p.toString())
                    .hasMessageContaining("tokenizer.bin");
        }
    }

    @Test
    void garbageLengthsAreAClearError(@TempDir Path dir) throws IOException {
        byte[] good = Files.readAllBytes(ReferenceTexts.llama2TokenizerBin());
        byte[] bad = good.clone();
        ByteBuffer.wrap(bad).order(ByteOrder.LITTLE_ENDIAN).putInt(4 + 4, Integer.MAX_VALUE); // token 0's length
        Path p = dir.resolve("bad-length.bin");
        Files.write(p, bad);
        assertThatThrownBy(() -> SentencePieceBpeTokenizer.load(p))
                .isInstanceOf(ModelFormatException.class).hasMessageContaining("token 0").hasMessageContaining("length");

        byte[] negative = good.clone();
        ByteBuffer.wrap(negative).order(ByteOrder.LITTLE_ENDIAN).putInt(0, -5);
        Path q = dir.resolve("bad-header.bin");
        Files.write(q, negative);
        assertThatThrownBy(() -> SentencePieceBpeTokenizer.load(q))
                .isInstanceOf(ModelFormatException.class).hasMessageContaining("max token length -5");

        Path missing = dir.resolve("missing.bin");
        assertThatThrownBy(() -> SentencePieceBpeTokenizer.load(missing))
                .isInstanceOf(ModelFormatException.class).hasMessageContaining(missing.toString());
    }
}
