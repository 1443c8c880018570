package dev.earlyexit.server;

import dev.earlyexit.tokenizer.Tokenizer;

import java.util.List;

/**
 * Generated ids to response text, as generate prints them (a stream decoder that has seen the prompt,
 * so the continuation gets the right spacing), cut at the first stop string. While streaming, text
 * that could still turn out to be the start of a stop string is held back until it cannot.
 */
final class TextAssembler {
    private final Tokenizer.StreamDecoder decoder;
    private final List<String> stops;
    private final StringBuilder text = new StringBuilder();
    private int released;
    private boolean stopped;

    TextAssembler(Tokenizer tok, int[] promptIds, List<String> stops) {
        this.decoder = tok.streamDecoder();
        for (int id : promptIds) {
            decoder.push(id);
        }
        this.stops = stops;
    }

    /** Adds a token's text; returns that text (for logprobs' token field). */
    String push(int id) {
        String piece = decoder.push(id);
        append(piece);
        return piece;
    }

    /** The decoder's buffered bytes at the end of generation. */
    void flush() {
        append(decoder.flush());
    }

    private void append(String piece) {
        if (stopped || piece.isEmpty()) {
            return;
        }
        int from = Math.max(0, text.length() - longestStop() + 1);
        text.append(piece);
        int cut = -1;
        for (String s : stops) {
            int i = text.indexOf(s, from);
            if (i >= 0 && (cut < 0 || i < cut)) {
                cut = i;
            }
        }
        if (cut >= 0) {
            text.setLength(cut);
            stopped = true;
        }
    }

    /** Whether a stop string ended the text. */
    boolean stopped() {
        return stopped;
    }

    /** Text not handed out yet that can no longer become part of a stop string. */
    String release(boolean all) {
        int end = text.length();
        if (!all && !stopped) {
            end -= heldBack();
        }
        end = Math.max(end, released);
        String out = text.substring(released, end);
        released = end;
        return out;
    }

    String text() {
        return text.toString();
    }

    private int longestStop() {
        int m = 0;
        for (String s : stops) {
            m = Math.max(m, s.length());
        }
        return m;
    }

    /** Length of the longest suffix of the text that is a proper prefix of a stop string. */
    private int heldBack() {
        int best = 0;
        for (String s : stops) {
            for (int k = Math.min(s.length() - 1, text.length()); k > best; k--) {
                if (text.substring(text.length() - k).equals(s.substring(0, k))) {
                    best = k;
                    break;
                }
            }
        }
        return best;
    }
}
