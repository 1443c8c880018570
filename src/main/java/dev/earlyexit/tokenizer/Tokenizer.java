package dev.earlyexit.tokenizer;

/**
 * Text to ids and back, as the model's reference tokenizer library does it. {@link #encode} adds
 * no BOS/EOS; the caller decides (generation prepends {@link #bosId()} when the model uses one).
 */
public interface Tokenizer {

    /** Ids for text, no BOS/EOS; normalization and the SentencePiece dummy prefix as the reference does. */
    int[] encode(String text);

    /** Text for ids, the inverse of {@link #encode}: decode(encode(s)) equals s. */
    String decode(int[] ids);

    /** A decoder for streaming: feed ids one at a time, get the text they complete (bytes of a split UTF-8 character wait). */
    StreamDecoder streamDecoder();

    int vocabSize();

    /** Beginning-of-sequence id, or -1 when the tokenizer defines none. */
    int bosId();

    /** End-of-sequence id, or -1 when the tokenizer defines none. */
    int eosId();

    /** Incremental decoding for printing tokens as they are generated. */
    interface StreamDecoder {
        /** The text that token {@code id} adds (may be empty while a UTF-8 sequence is incomplete). */
        String push(int id);

        /** Whatever is still buffered (incomplete bytes become U+FFFD). */
        String flush();
    }
}
