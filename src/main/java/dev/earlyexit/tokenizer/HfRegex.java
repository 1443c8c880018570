package dev.earlyexit.tokenizer;

import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Hugging Face's pre-tokenizer regexes (Oniguruma syntax) as java.util.regex patterns. The constructs
 * the published tokenizers use ({@code \p{L}}, {@code \p{N}}, {@code \s}, {@code (?i:...)}, lookahead)
 * mean the same in both once Java's classes and case folding are made Unicode-aware, as Oniguruma's
 * are for UTF-8 text.
 */
final class HfRegex {
    /** GPT-2's pattern, which the ByteLevel pre-tokenizer applies when use_regex is set. */
    static final String GPT2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

    private HfRegex() {
    }

    static Pattern compile(String regex, HfJson json) {
        try {
            return Pattern.compile(regex, Pattern.UNICODE_CHARACTER_CLASS | Pattern.UNICODE_CASE);
        } catch (PatternSyntaxException e) {
            throw json.error("regex not supported by java.util.regex: " + regex + " (" + e.getDescription() + ")");
        }
    }
}
