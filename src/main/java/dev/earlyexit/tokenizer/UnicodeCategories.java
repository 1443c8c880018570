package dev.earlyexit.tokenizer;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Arrays;

/**
 * Unicode general categories at the version the Hugging Face tokenizers library matches its
 * pre-tokenizer regexes with (16.0, measured: its \p{L} and \p{N} equal Java 25's code point for code
 * point), whichever JDK runs us. Java 17 knows Unicode 13 and Java 21 Unicode 15: without this table a
 * letter added since (U+0870, Arabic, 14.0) is no letter to the regex and the text splits elsewhere.
 *
 * <p>The table is {@value #RESOURCE}: a run count, then per run its first code point (int) and category
 * ({@link Character#getType} constants, byte); {@code UnicodeCategoriesWriter} (tests) writes it on a
 * JDK with Unicode 16.
 */
final class UnicodeCategories {
    static final String VERSION = "16.0";
    static final String RESOURCE = "unicode-16.0-general-category.bin";

    private static final int[] RUN_STARTS;
    private static final byte[] RUN_TYPES;

    static {
        try (InputStream raw = UnicodeCategories.class.getResourceAsStream(RESOURCE)) {
            if (raw == null) {
                throw new IllegalStateException("missing resource " + RESOURCE);
            }
            DataInputStream in = new DataInputStream(raw);
            int runs = in.readInt();
            RUN_STARTS = new int[runs];
            RUN_TYPES = new byte[runs];
            for (int i = 0; i < runs; i++) {
                RUN_STARTS[i] = in.readInt();
                RUN_TYPES[i] = in.readByte();
            }
            if (runs == 0 || RUN_STARTS[0] != 0 || in.read() != -1) {
                throw new IllegalStateException("malformed resource " + RESOURCE);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read resource " + RESOURCE, e);
        }
    }

    private UnicodeCategories() {
    }

    /** The general category of {@code codePoint} at Unicode 16.0, as a {@link Character#getType} constant. */
    static int type(int codePoint) {
        if (codePoint < 0 || codePoint > Character.MAX_CODE_POINT) {
            return Character.UNASSIGNED;
        }
        int i = Arrays.binarySearch(RUN_STARTS, codePoint);
        return RUN_TYPES[i >= 0 ? i : -i - 2];
    }

    /**
     * The code points whose category the running JDK reports differently from Unicode 16.0, ascending:
     * about 10 000 on Java 17 (nearly all unassigned there), none on Java 25. Computed once.
     */
    static int[] differingFromTheJdk() {
        return Differences.CODE_POINTS;
    }

    /** White_Space, the property Rust's {@code char::is_whitespace} tests (Character.isWhitespace is not it: no U+00A0, but U+001C-U+001F). */
    static boolean isWhiteSpace(int cp) {
        switch (cp) {
            case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20: case 0x85: case 0xA0: case 0x1680:
            case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
                return true;
            default:
                return cp >= 0x2000 && cp <= 0x200A;
        }
    }

    private static final class Differences {
        static final int[] CODE_POINTS = scan();

        private static int[] scan() {
            IntList out = new IntList(16_384);
            for (int run = 0; run < RUN_STARTS.length; run++) {
                int end = run + 1 < RUN_STARTS.length ? RUN_STARTS[run + 1] : Character.MAX_CODE_POINT + 1;
                for (int cp = RUN_STARTS[run]; cp < end; cp++) {
                    if (Character.getType(cp) != RUN_TYPES[run]) {
                        out.add(cp);
                    }
                }
            }
            return out.toArray();
        }
    }
}
