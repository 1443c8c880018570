package dev.earlyexit.tokenizer;

/**
 * Streaming decoder for tokenizers whose tokens stand for byte strings: bytes are decoded as soon as
 * they end on a character boundary; an incomplete trailing UTF-8 sequence waits for the next token.
 * Both tokenizers' {@code decode} run through this class, so streaming and whole decoding agree by
 * construction. Optionally strips up to {@code stripCount} leading {@code stripChar} characters of the
 * whole output (the Hugging Face Strip decoder).
 */
abstract class ByteStreamDecoder implements Tokenizer.StreamDecoder {
    private final boolean perByteReplacement;
    private final char stripChar;
    private int stripRemaining;
    private byte[] pending = new byte[16];
    private int pendingLength;
    private boolean emittedAny;

    ByteStreamDecoder(boolean perByteReplacement, char stripChar, int stripCount) {
        this.perByteReplacement = perByteReplacement;
        this.stripChar = stripChar;
        this.stripRemaining = stripCount;
    }

    /** The bytes token {@code id} stands for; {@code atStart} is true while no byte has been produced. */
    protected abstract byte[] tokenBytes(int id, boolean atStart);

    @Override
    public String push(int id) {
        byte[] bytes = tokenBytes(id, !emittedAny);
        if (bytes.length == 0) {
            return "";
        }
        emittedAny = true;
        if (pendingLength + bytes.length > pending.length) {
            pending = java.util.Arrays.copyOf(pending, Math.max(pending.length * 2, pendingLength + bytes.length));
        }
        System.arraycopy(bytes, 0, pending, pendingLength, bytes.length);
        pendingLength += bytes.length;
        return drain(Utf8.incompleteTail(pending, pendingLength));
    }

    @Override
    public String flush() {
        return drain(pendingLength);
    }

    private String drain(int end) {
        if (end == 0) {
            return "";
        }
        StringBuilder sb = new StringBuilder();
        Utf8.decode(pending, end, perByteReplacement, sb);
        System.arraycopy(pending, end, pending, 0, pendingLength - end);
        pendingLength -= end;
        int cut = 0;
        while (stripRemaining > 0 && cut < sb.length() && sb.charAt(cut) == stripChar) {
            cut++;
            stripRemaining--;
        }
        if (cut < sb.length()) {
            stripRemaining = 0; // only characters at the very start of the output are stripped
        }
        return sb.substring(cut);
    }

    /** The whole text of {@code ids}. */
    String decodeAll(int[] ids) {
        StringBuilder sb = new StringBuilder();
        for (int id : ids) {
            sb.append(push(id));
        }
        return sb.append(flush()).toString();
    }
}
