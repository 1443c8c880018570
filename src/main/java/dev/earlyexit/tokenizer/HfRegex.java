package dev.earlyexit.tokenizer;

import dev.earlyexit.format.ModelFormatException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Hugging Face's pre-tokenizer regexes (Oniguruma syntax) as java.util.regex patterns. The constructs
 * the published tokenizers use ({@code \p{L}}, {@code \p{N}}, {@code \s}, {@code (?i:...)}, lookahead)
 * mean the same in both once Java's classes and case folding are made Unicode-aware, as Oniguruma's
 * are for UTF-8 text.
 *
 * <p>The regexes come from the tokenizer.json, that is from whoever published the file, and
 * java.util.regex backtracks: a pattern like {@code (a+)+$} takes exponential time, and a repeated
 * alternation recurses once per character. So patterns are matched through {@link #matcher}, whose text
 * counts the characters the engine reads and stops it past a budget linear in the text's length, and
 * {@link #guard} turns a stack overflow into the same clear error.
 */
final class HfRegex {
    /** GPT-2's pattern, which the ByteLevel pre-tokenizer applies when use_regex is set. */
    static final String GPT2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
    /** Published pre-tokenizer regexes are a few hundred characters. */
    static final int MAX_REGEX_CHARS = 4096;
    /**
     * Character reads allowed per character of text (plus a fixed allowance for short texts). The
     * published patterns read each character a few dozen times at most; exponential backtracking
     * passes this within milliseconds.
     */
    static final long READS_PER_CHAR = 2_000;
    static final long READS_BASE = 200_000;

    private HfRegex() {
    }

    static Pattern compile(String regex, HfJson json) {
        if (regex.length() > MAX_REGEX_CHARS) {
            throw json.error("regex of " + regex.length() + " characters (at most " + MAX_REGEX_CHARS + " accepted)");
        }
        try {
            return Pattern.compile(regex, Pattern.UNICODE_CHARACTER_CLASS | Pattern.UNICODE_CASE);
        } catch (PatternSyntaxException e) {
            throw json.error("regex not supported by java.util.regex: " + regex + " (" + e.getDescription() + ")");
        } catch (StackOverflowError e) {
            throw json.error("regex nested too deeply: " + abbreviated(regex));
        } catch (IllegalArgumentException e) {
            // java.util.regex also rejects some inputs (e.g. unknown character properties) this way
            throw json.error("regex not supported by java.util.regex: " + regex + " (" + e.getMessage() + ")");
        }
    }

    /** A matcher over {@code text} that stops with a {@link ModelFormatException} once past its read budget. */
    static Matcher matcher(Pattern pattern, String text) {
        return pattern.matcher(new BudgetedText(text, pattern));
    }

    /** Runs a matching step, turning the engine's recursion running out of stack into a clear error. */
    static <T> T guard(Pattern pattern, java.util.function.Supplier<T> step) {
        try {
            return step.get();
        } catch (StackOverflowError e) {
            throw new ModelFormatException("tokenizer regex " + abbreviated(pattern.pattern())
                    + " recursed too deeply matching the text (a repeated alternation over a long text?)");
        }
    }

    private static String abbreviated(String regex) {
        return regex.length() <= 200 ? regex : regex.substring(0, 200) + "...";
    }

    /** The text as the regex engine sees it: every charAt counts against the budget. */
    private static final class BudgetedText implements CharSequence {
        private final String text;
        private final Pattern pattern;
        private long left;

        BudgetedText(String text, Pattern pattern) {
            this.text = text;
            this.pattern = pattern;
            this.left = READS_BASE + READS_PER_CHAR * text.length();
        }

        @Override
        public char charAt(int index) {
            if (--left < 0) {
                throw new ModelFormatException("tokenizer regex " + abbreviated(pattern.pattern())
                        + " exceeded its step budget on a text of " + text.length()
                        + " characters (catastrophic backtracking); this tokenizer.json cannot be used");
            }
            return text.charAt(index);
        }

        @Override
        public int length() {
            return text.length();
        }

        @Override
        public CharSequence subSequence(int start, int end) {
            return text.subSequence(start, end);
        }

        @Override
        public String toString() {
            return text;
        }
    }
}
