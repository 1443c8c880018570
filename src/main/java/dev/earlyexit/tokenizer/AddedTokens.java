package dev.earlyexit.tokenizer;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * tokenizer.json's added_tokens as Hugging Face extracts them from text before pre-tokenization:
 * leftmost-longest matches, honouring single_word, lstrip and rstrip.
 */
final class AddedTokens {
    record Token(int id, String content, boolean special, boolean singleWord, boolean lstrip, boolean rstrip,
                 boolean normalized) {
    }

    /** A piece of text: either a matched added token (id >= 0) or text between matches (id -1). */
    record Segment(String text, int id, int start) {
    }

    private final Map<Character, List<Token>> byFirstChar = new HashMap<>();

    AddedTokens(List<Token> tokens) {
        for (Token t : tokens) {
            if (!t.content().isEmpty()) {
                byFirstChar.computeIfAbsent(t.content().charAt(0), c -> new ArrayList<>()).add(t);
            }
        }
        byFirstChar.values().forEach(l -> l.sort(Comparator.comparingInt((Token t) -> t.content().length()).reversed()));
    }

    /**
     * Splits text into added tokens and the text between them; {@code offset} is text's offset in the
     * input; {@code withSpecial} false leaves special tokens as text (HF's encode_special_tokens).
     */
    List<Segment> split(String text, int offset, boolean withSpecial) {
        List<Segment> out = new ArrayList<>();
        int textStart = 0; // start of the pending non-token text
        int i = 0;
        while (i < text.length()) {
            Token match = matchAt(text, i, withSpecial);
            if (match == null) {
                i++;
                continue;
            }
            int start = i;
            int end = i + match.content().length();
            if (match.lstrip()) {
                while (start > textStart && UnicodeCategories.isWhiteSpace(text.charAt(start - 1))) {
                    start--;
                }
            }
            if (match.rstrip()) {
                while (end < text.length() && UnicodeCategories.isWhiteSpace(text.charAt(end))) {
                    end++;
                }
            }
            if (start > textStart) {
                out.add(new Segment(text.substring(textStart, start), -1, offset + textStart));
            }
            out.add(new Segment(text.substring(start, end), match.id(), offset + start));
            textStart = end;
            i = end;
        }
        if (textStart < text.length()) {
            out.add(new Segment(text.substring(textStart), -1, offset + textStart));
        }
        return out;
    }

    private Token matchAt(String text, int i, boolean withSpecial) {
        List<Token> candidates = byFirstChar.get(text.charAt(i));
        if (candidates == null) {
            return null;
        }
        for (Token t : candidates) { // longest first
            if ((withSpecial || !t.special()) && text.startsWith(t.content(), i)
                    && (!t.singleWord() || isWordBoundary(text, i, i + t.content().length()))) {
                return t;
            }
        }
        return null;
    }

    private static boolean isWordBoundary(String text, int start, int end) {
        boolean before = start == 0 || !isWordChar(text.codePointBefore(start));
        boolean after = end == text.length() || !isWordChar(text.codePointAt(end));
        return before && after;
    }

    private static boolean isWordChar(int cp) {
        return Character.isLetterOrDigit(cp) || cp == '_';
    }
}
