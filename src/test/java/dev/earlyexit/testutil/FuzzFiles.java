package dev.earlyexit.testutil;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Fuzz inputs as files: the readers take paths, so each input is written to one reused temp directory. */
public final class FuzzFiles {
    private static final Path DIR;

    static {
        try {
            DIR = Files.createTempDirectory("earlyexit-fuzz");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private FuzzFiles() {
    }

    /** {@code data} as {@code DIR/name}, replacing the previous input of that name. */
    public static Path write(String name, byte[] data) {
        try {
            Path p = DIR.resolve(name);
            Files.createDirectories(p.getParent());
            return Files.write(p, data);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static Path dir() {
        return DIR;
    }
}
