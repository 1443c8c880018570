package dev.earlyexit.eval;

import java.util.ArrayList;
import java.util.List;

/**
 * A list of strings written as text, as it lands in a CSV export of a list column: JSON ["a", "b"],
 * Python's repr ['a', "b's"] or numpy's ['a' 'b'] (pandas writes numpy arrays without commas, and may
 * break them over lines). Items are quoted strings with backslash escapes.
 */
final class ListLiteral {
    private ListLiteral() {
    }

    static List<String> parse(String text) {
        String s = PythonStrings.strip(text);
        if (!s.startsWith("[") || !s.endsWith("]")) {
            throw new IllegalArgumentException("expected [ ... ]");
        }
        List<String> out = new ArrayList<>();
        int i = 1;
        int end = s.length() - 1;
        while (true) {
            while (i < end && (PythonStrings.isSpace(s.charAt(i)) || s.charAt(i) == ',')) {
                i++;
            }
            if (i >= end) {
                return out;
            }
            char q = s.charAt(i);
            if (q != '\'' && q != '"') {
                throw new IllegalArgumentException("expected a quoted item at character " + (i + 1));
            }
            StringBuilder item = new StringBuilder();
            i++;
            while (true) {
                if (i >= end) {
                    throw new IllegalArgumentException("unterminated quoted item");
                }
                char ch = s.charAt(i);
                if (ch == q) {
                    i++;
                    break;
                }
                if (ch == '\\' && i + 1 < end) {
                    char e = s.charAt(i + 1);
                    i += 2;
                    switch (e) {
                        case 'n' -> item.append('\n');
                        case 't' -> item.append('\t');
                        case 'r' -> item.append('\r');
                        case 'u' -> {
                            if (i + 4 > end) {
                                throw new IllegalArgumentException("bad \\u escape");
                            }
                            item.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
                            i += 4;
                        }
                        default -> item.append(e); // \\, \', \" and anything else stand for themselves
                    }
                    continue;
                }
                item.append(ch);
                i++;
            }
            out.add(item.toString());
            if (i < end && !(PythonStrings.isSpace(s.charAt(i)) || s.charAt(i) == ',')) {
                throw new IllegalArgumentException("expected , after item " + out.size());
            }
        }
    }
}
