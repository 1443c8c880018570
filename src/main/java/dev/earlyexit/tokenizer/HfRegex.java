package dev.earlyexit.tokenizer;

import dev.earlyexit.format.ModelFormatException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Hugging Face's pre-tokenizer regexes (Oniguruma syntax) as java.util.regex patterns. The constructs
 * the published tokenizers use ({@code \p{L}}, {@code \p{N}}, {@code \s}, {@code (?i:...)}, lookahead)
 * mean the same in both once Java's classes and case folding are made Unicode-aware, as Oniguruma's
 * are for UTF-8 text, and once the general-category classes follow the reference's Unicode version
 * rather than the JDK's ({@link #atReferenceUnicode}).
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
            return Pattern.compile(atReferenceUnicode(regex), Pattern.UNICODE_CHARACTER_CLASS | Pattern.UNICODE_CASE);
        } catch (PatternSyntaxException e) {
            throw json.error("regex not supported by java.util.regex: " + regex + " (" + e.getDescription() + ")");
        } catch (StackOverflowError e) {
            throw json.error("regex nested too deeply: " + abbreviated(regex));
        } catch (IllegalArgumentException e) {
            // java.util.regex also rejects some inputs (e.g. unknown character properties) this way
            throw json.error("regex not supported by java.util.regex: " + regex + " (" + e.getMessage() + ")");
        }
    }

    /**
     * {@code regex} with each general-category class ({@code \p{L}}, {@code \pN}, {@code \p{Lu}}, ...,
     * their negations, {@code \d} and {@code \w}) made to match as at Unicode {@value UnicodeCategories#VERSION}:
     * the JDK's own class, plus the code points the JDK does not know in it, minus those it knows there and
     * Unicode 16 does not. The additions sit behind {@code \p{Cn}} (nearly all are unassigned in the JDK),
     * so that assigned text pays one table lookup, not a scan of the ranges. On a JDK at 16.0 only
     * Oniguruma's {@code \p{^L}} changes (to {@code \P{L}}).
     */
    static String atReferenceUnicode(String regex) {
        StringBuilder out = new StringBuilder(regex.length());
        int i = 0;
        while (i < regex.length()) {
            char c = regex.charAt(i);
            if (c != '\\' || i + 1 == regex.length()) {
                out.append(c);
                i++;
                continue;
            }
            char escape = regex.charAt(i + 1);
            int next = i + 2;
            if (escape == 'Q') { // quoted literal text up to \E
                int end = regex.indexOf("\\E", next);
                next = end < 0 ? regex.length() : end + 2;
                out.append(regex, i, next);
                i = next;
                continue;
            }
            String category = null;
            boolean negated = false;
            if ((escape == 'p' || escape == 'P') && next < regex.length()) {
                String name;
                if (regex.charAt(next) == '{') {
                    int close = regex.indexOf('}', next);
                    name = close < 0 ? "" : regex.substring(next + 1, close);
                    next = close < 0 ? regex.length() : close + 1;
                } else {
                    name = String.valueOf(regex.charAt(next));
                    next++;
                }
                negated = escape == 'P';
                if (name.startsWith("^")) { // Oniguruma's \p{^L}, which Java does not have
                    negated = !negated;
                    name = name.substring(1);
                }
                for (String prefix : new String[]{"Is", "gc=", "general_category=", "General_Category="}) {
                    if (name.startsWith(prefix) && CategoryClass.TYPES.containsKey(name.substring(prefix.length()))) {
                        name = name.substring(prefix.length());
                    }
                }
                category = CategoryClass.TYPES.containsKey(name) ? name : null;
            } else if (escape == 'd' || escape == 'D') {
                category = "Nd";
                negated = escape == 'D';
            } else if (escape == 'w' || escape == 'W') {
                category = CategoryClass.WORD;
                negated = escape == 'W';
            }
            out.append(category == null ? regex.substring(i, next) : CategoryClass.pinned(category, negated));
            i = next;
        }
        return out.toString();
    }

    /** The Unicode-16 form of one general-category class, built once per category. */
    private static final class CategoryClass {
        /** java.util.regex's \w (letters, marks, Nd, Nl, Pc, ...); its Unicode-16 additions are taken by category. */
        static final String WORD = "word";
        static final java.util.Map<String, Long> TYPES = types();
        private static final long WORD_TYPES = TYPES.get("L") | TYPES.get("M") | TYPES.get("Nd") | TYPES.get("Nl") | TYPES.get("Pc");
        private static final java.util.Map<String, String> PINNED = new java.util.concurrent.ConcurrentHashMap<>();

        static String pinned(String category, boolean negated) {
            String pinned = PINNED.computeIfAbsent(category, CategoryClass::build);
            return negated ? "[^" + pinned + "]" : pinned;
        }

        private static String build(String category) {
            long members = category.equals(WORD) ? WORD_TYPES : TYPES.get(category);
            IntList unassignedAdded = new IntList(64);
            IntList assignedAdded = new IntList(8);
            IntList removed = new IntList(8);
            for (int cp : UnicodeCategories.differingFromTheJdk()) {
                int jdkType = Character.getType(cp);
                boolean inJdk = (members >>> jdkType & 1) != 0;
                boolean inUnicode16 = (members >>> UnicodeCategories.type(cp) & 1) != 0;
                if (inUnicode16 && !inJdk) {
                    (jdkType == Character.UNASSIGNED ? unassignedAdded : assignedAdded).add(cp);
                } else if (inJdk && !inUnicode16) {
                    removed.add(cp);
                }
            }
            String jdkClass = category.equals(WORD) ? "\\w" : "\\p{" + category + "}";
            if (unassignedAdded.size() + assignedAdded.size() + removed.size() == 0) {
                return jdkClass;
            }
            StringBuilder s = new StringBuilder("[").append(jdkClass);
            if (unassignedAdded.size() > 0) {
                s.append("[\\p{Cn}&&[").append(ranges(unassignedAdded.toArray())).append("]]");
            }
            if (assignedAdded.size() > 0) {
                s.append('[').append(ranges(assignedAdded.toArray())).append(']');
            }
            if (removed.size() > 0) {
                s.append("&&[^").append(ranges(removed.toArray())).append(']');
            }
            return s.append(']').toString();
        }

        /** Ascending code points as class ranges, \x{870}-\x{88e}\x{890}... */
        private static String ranges(int[] cps) {
            StringBuilder s = new StringBuilder();
            for (int i = 0; i < cps.length; ) {
                int j = i;
                while (j + 1 < cps.length && cps[j + 1] == cps[j] + 1) {
                    j++;
                }
                s.append("\\x{").append(Integer.toHexString(cps[i])).append('}');
                if (j > i) {
                    s.append("-\\x{").append(Integer.toHexString(cps[j])).append('}');
                }
                i = j + 1;
            }
            return s.toString();
        }

        /** General category names (as java.util.regex and Oniguruma spell them) to sets of Character.getType values. */
        private static java.util.Map<String, Long> types() {
            java.util.Map<String, Long> t = new java.util.HashMap<>();
            category(t, "Lu", Character.UPPERCASE_LETTER);
            category(t, "Ll", Character.LOWERCASE_LETTER);
            category(t, "Lt", Character.TITLECASE_LETTER);
            category(t, "Lm", Character.MODIFIER_LETTER);
            category(t, "Lo", Character.OTHER_LETTER);
            category(t, "Mn", Character.NON_SPACING_MARK);
            category(t, "Me", Character.ENCLOSING_MARK);
            category(t, "Mc", Character.COMBINING_SPACING_MARK);
            category(t, "Nd", Character.DECIMAL_DIGIT_NUMBER);
            category(t, "Nl", Character.LETTER_NUMBER);
            category(t, "No", Character.OTHER_NUMBER);
            category(t, "Zs", Character.SPACE_SEPARATOR);
            category(t, "Zl", Character.LINE_SEPARATOR);
            category(t, "Zp", Character.PARAGRAPH_SEPARATOR);
            category(t, "Cc", Character.CONTROL);
            category(t, "Cf", Character.FORMAT);
            category(t, "Co", Character.PRIVATE_USE);
            category(t, "Cs", Character.SURROGATE);
            category(t, "Cn", Character.UNASSIGNED);
            category(t, "Pd", Character.DASH_PUNCTUATION);
            category(t, "Ps", Character.START_PUNCTUATION);
            category(t, "Pe", Character.END_PUNCTUATION);
            category(t, "Pc", Character.CONNECTOR_PUNCTUATION);
            category(t, "Po", Character.OTHER_PUNCTUATION);
            category(t, "Pi", Character.INITIAL_QUOTE_PUNCTUATION);
            category(t, "Pf", Character.FINAL_QUOTE_PUNCTUATION);
            category(t, "Sm", Character.MATH_SYMBOL);
            category(t, "Sc", Character.CURRENCY_SYMBOL);
            category(t, "Sk", Character.MODIFIER_SYMBOL);
            category(t, "So", Character.OTHER_SYMBOL);
            t.put("LC", t.get("Lu") | t.get("Ll") | t.get("Lt"));
            return java.util.Map.copyOf(t);
        }

        /** The category under its two-letter name and in its one-letter group (L, M, N, Z, C, P, S). */
        private static void category(java.util.Map<String, Long> t, String name, byte type) {
            long bit = 1L << type;
            t.put(name, bit);
            t.merge(name.substring(0, 1), bit, (x, y) -> x | y);
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
