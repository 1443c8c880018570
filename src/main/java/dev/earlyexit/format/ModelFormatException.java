package dev.earlyexit.format;

/** A model, tokenizer or heads file that cannot be read: the message names the file and the problem. */
public class ModelFormatException extends RuntimeException {
    public ModelFormatException(String message) {
        super(message);
    }

    public ModelFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
