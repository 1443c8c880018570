package dev.earlyexit.tokenizer;

import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Writes {@link UnicodeCategories#RESOURCE} from the running JDK's Character.getType, which must be at
 * Unicode 16.0 (Java 25):
 * {@code /usr/lib/jvm/temurin-25-jdk-amd64/bin/java src/test/java/dev/earlyexit/tokenizer/UnicodeCategoriesWriter.java src/main/resources/dev/earlyexit/tokenizer/unicode-16.0-general-category.bin}
 */
public final class UnicodeCategoriesWriter {
    private UnicodeCategoriesWriter() {
    }

    /** True when this JDK's character data is Unicode 16.0: U+1C89 (16.0) assigned, U+1C8B (17.0) not. */
    static boolean jdkIsAtUnicode16() {
        return Character.getType(0x1C89) == Character.UPPERCASE_LETTER && Character.getType(0x1C8B) == Character.UNASSIGNED
                && Runtime.version().feature() == 25;
    }

    public static void main(String[] args) throws IOException {
        if (args.length != 1 || !jdkIsAtUnicode16()) {
            throw new IllegalStateException("usage: on Java 25 (Unicode 16.0), UnicodeCategoriesWriter OUT.bin");
        }
        int runs = 0;
        for (int cp = 0; cp <= Character.MAX_CODE_POINT; cp++) {
            if (cp == 0 || Character.getType(cp) != Character.getType(cp - 1)) {
                runs++;
            }
        }
        try (DataOutputStream out = new DataOutputStream(Files.newOutputStream(Path.of(args[0])))) {
            out.writeInt(runs);
            for (int cp = 0; cp <= Character.MAX_CODE_POINT; cp++) {
                if (cp == 0 || Character.getType(cp) != Character.getType(cp - 1)) {
                    out.writeInt(cp);
                    out.writeByte(Character.getType(cp));
                }
            }
        }
    }
}
