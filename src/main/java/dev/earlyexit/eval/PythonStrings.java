package dev.earlyexit.eval;

import java.util.Locale;

/**
 * The few Python str methods the harness's prompt code calls, with Python's meaning: what counts as
 * whitespace ({@code str.isspace}, which includes U+00A0 where Java's {@code strip} does not) and
 * {@code capitalize} lowering the rest of the string.
 */
final class PythonStrings {
    private PythonStrings() {
    }

    static boolean isSpace(int cp) {
        return Character.isWhitespace(cp) || Character.isSpaceChar(cp) || (cp >= 0x1c && cp <= 0x1f) || cp == 0x85;
    }

    /** str.strip() */
    static String strip(String s) {
        return lstrip(rstrip(s));
    }

    /** str.rstrip() */
    static String rstrip(String s) {
        int end = s.length();
        while (end > 0) {
            int cp = s.codePointBefore(end);
            if (!isSpace(cp)) {
                break;
            }
            end -= Character.charCount(cp);
        }
        return s.substring(0, end);
    }

    static String lstrip(String s) {
        int start = 0;
        while (start < s.length()) {
            int cp = s.codePointAt(start);
            if (!isSpace(cp)) {
                break;
            }
            start += Character.charCount(cp);
        }
        return s.substring(start);
    }

    /** str.capitalize() (Python 3.8+): the first character in title case, the rest lower case. */
    static String capitalize(String s) {
        if (s.isEmpty()) {
            return s;
        }
        int first = s.codePointAt(0);
        int n = Character.charCount(first);
        return new String(Character.toChars(Character.toTitleCase(first))) + s.substring(n).toLowerCase(Locale.ROOT);
    }

    /** len(s): code points, not UTF-16 units. */
    static int length(String s) {
        return s.codePointCount(0, s.length());
    }
}
