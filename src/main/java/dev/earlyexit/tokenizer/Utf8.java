package dev.earlyexit.tokenizer;

/**
 * UTF-8 decoding of token bytes, with the two replacement policies the reference libraries use for
 * invalid input: SentencePiece replaces every invalid byte with U+FFFD; Rust's from_utf8_lossy (the
 * Hugging Face decoders) replaces each maximal invalid subpart with one U+FFFD.
 */
final class Utf8 {
    static final char REPLACEMENT = '\uFFFD';

    private Utf8() {
    }

    /** Length of the sequence that lead byte {@code b} starts, or 0 when it cannot start one. */
    private static int sequenceLength(int b) {
        if (b < 0x80) {
            return 1;
        } else if (b >= 0xC2 && b <= 0xDF) {
            return 2;
        } else if (b >= 0xE0 && b <= 0xEF) {
            return 3;
        } else if (b >= 0xF0 && b <= 0xF4) {
            return 4;
        }
        return 0;
    }

    /** Whether {@code b} may be the second byte after {@code lead}: the ranges that exclude overlongs, surrogates and values past U+10FFFF. */
    private static boolean validSecond(int lead, int b) {
        switch (lead) {
            case 0xE0: return b >= 0xA0 && b <= 0xBF;
            case 0xED: return b >= 0x80 && b <= 0x9F;
            case 0xF0: return b >= 0x90 && b <= 0xBF;
            case 0xF4: return b >= 0x80 && b <= 0x8F;
            default: return (b & 0xC0) == 0x80;
        }
    }

    /** How many bytes from {@code i} (before {@code end}) are a valid, possibly incomplete, prefix of one sequence. */
    private static int validPrefix(byte[] buf, int i, int end) {
        int lead = buf[i] & 0xFF;
        int n = sequenceLength(lead);
        if (n == 0) {
            return 0;
        }
        int k = 1;
        while (k < n && i + k < end) {
            int b = buf[i + k] & 0xFF;
            if (k == 1 ? !validSecond(lead, b) : (b & 0xC0) != 0x80) {
                break;
            }
            k++;
        }
        return k;
    }

    /**
     * Where the incomplete sequence that ends {@code buf[0, end)} starts (it may be completed by later bytes),
     * or {@code end} when the bytes end on a character boundary or with bytes that can never become valid.
     */
    static int incompleteTail(byte[] buf, int end) {
        for (int i = Math.max(0, end - 3); i < end; i++) {
            int n = sequenceLength(buf[i] & 0xFF);
            if (n > 1 && i + n > end && validPrefix(buf, i, end) == end - i) {
                return i;
            }
        }
        return end;
    }

    /** Appends the text of {@code buf[0, end)} to {@code out}; {@code perByte} selects SentencePiece's replacement policy. */
    static void decode(byte[] buf, int end, boolean perByte, StringBuilder out) {
        int i = 0;
        while (i < end) {
            int lead = buf[i] & 0xFF;
            if (lead < 0x80) {
                out.append((char) lead);
                i++;
                continue;
            }
            int n = sequenceLength(lead);
            int valid = validPrefix(buf, i, end);
            if (n == 0 || valid < n) {
                out.append(REPLACEMENT);
                i += perByte ? 1 : Math.max(1, valid);
                continue;
            }
            int cp = lead & (0xFF >> (n + 1));
            for (int k = 1; k < n; k++) {
                cp = (cp << 6) | (buf[i + k] & 0x3F);
            }
            out.appendCodePoint(cp);
            i += n;
        }
    }
}
