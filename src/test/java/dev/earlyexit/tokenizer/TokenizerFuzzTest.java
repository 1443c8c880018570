package dev.earlyexit.tokenizer;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.earlyexit.format.ModelFormatException;
import dev.earlyexit.testutil.FuzzFiles;
import java.nio.file.Path;

/**
 * Hostile tokenizer files (issue 17): a file either loads and then encodes and decodes text, or fails with a
 * {@link ModelFormatException}. tokenizer.json carries regexes, so encoding is part of the target.
 */
class TokenizerFuzzTest {
    private static final String TEXT = "Once upon a time, Lily's cat ate 123 fish!\n\t  Ünïcödé 日本 <s></s> ";

    @FuzzTest(maxDuration = "10m")
    void tokenizerBin(byte[] data) {
        Path f = FuzzFiles.write("tok/tokenizer.bin", data);
        try {
            Tokenizer t = SentencePieceBpeTokenizer.load(f);
            t.decode(t.encode(TEXT));
        } catch (ModelFormatException expected) {
            // the one allowed failure
        }
    }

    /** The first bytes pick a text to encode (so regexes meet varied input); the rest is tokenizer.json. */
    @FuzzTest(maxDuration = "10m")
    void tokenizerJson(FuzzedDataProvider in) {
        String text = in.consumeBoolean() ? in.consumeString(64) : TEXT;
        Path f = FuzzFiles.write("tok/tokenizer.json", in.consumeRemainingAsBytes());
        try {
            Tokenizer t = HfTokenizer.load(f);
            t.decode(t.encode(text));
        } catch (ModelFormatException expected) {
            // the one allowed failure
        }
    }
}
