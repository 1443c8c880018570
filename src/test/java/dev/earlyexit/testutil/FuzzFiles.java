package dev.earlyexit.testutil;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Fuzz inputs as files: the readers take paths, so each input is written to one reused temp directory, in memory
 * ({@code /dev/shm}) where the machine has it: on a disk, writing and mapping each input took most of the time.
 */
public final class FuzzFiles {
    private static final Path DIR;

    static {
        try {
            Path shm = Path.of("/dev/shm");
            DIR = Files.isDirectory(shm) && Files.isWritable(shm)
                    ? Files.createTempDirectory(shm, "earlyexit-fuzz")
                    : Files.createTempDirectory("earlyexit-fuzz");
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
