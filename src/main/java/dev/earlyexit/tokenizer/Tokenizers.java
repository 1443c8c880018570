package dev.earlyexit.tokenizer;

import dev.earlyexit.format.ModelFormatException;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;

/** Loads whichever tokenizer a path holds. */
public final class Tokenizers {
    private Tokenizers() {
    }

    /**
     * A tokenizer.json (Hugging Face) or a tokenizer.bin (llama2.c), or a directory holding one of them
     * (tokenizer.json preferred). Files are told apart by content: JSON starts with '{'.
     */
    public static Tokenizer load(Path path) {
        if (Files.isDirectory(path)) {
            for (String name : new String[]{"tokenizer.json", "tokenizer.bin"}) {
                Path p = path.resolve(name);
                if (Files.isRegularFile(p)) {
                    return load(p);
                }
            }
            throw new ModelFormatException(path + ": directory has neither tokenizer.json nor tokenizer.bin");
        }
        if (!Files.isRegularFile(path)) {
            throw new ModelFormatException(path + ": no such tokenizer file");
        }
        return startsWithJsonObject(path) ? HfTokenizer.load(path) : SentencePieceBpeTokenizer.load(path);
    }

    private static int skipWhitespace(InputStream in, int c) throws IOException {
        while (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            c = in.read();
        }
        return c;
    }

    private static boolean startsWithJsonObject(Path path) {
        try (InputStream in = Files.newInputStream(path)) {
            int c = in.read();
            if (c == 0xEF) { // UTF-8 byte order mark
                in.skip(2);
                c = in.read();
            }
            c = skipWhitespace(in, c);
            // A tokenizer.bin whose max token length is 123 also starts with '{': JSON continues with '"' or '}'.
            if (c != '{') {
                return false;
            }
            int next = skipWhitespace(in, in.read());
            return next == '"' || next == '}';
        } catch (IOException e) {
            throw new ModelFormatException(path + ": cannot read tokenizer: " + e.getMessage(), e);
        }
    }
}
