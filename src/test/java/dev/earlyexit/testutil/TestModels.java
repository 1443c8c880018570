package dev.earlyexit.testutil;

import org.junit.jupiter.api.Assumptions;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

/** Where tests find the large files that are not in the test resources. */
public final class TestModels {
    private TestModels() {
    }

    /** The real stories15M checkpoint: the model cache, else ../shared; skips the test when neither has it. */
    public static Path stories15M() {
        String cache = System.getenv("EARLYEXIT_CACHE");
        Path[] candidates = {
                cache == null ? null : Paths.get(cache, "models", "stories15M", "model.bin"),
                Paths.get(System.getProperty("user.home"), ".cache", "earlyexit", "models", "stories15M", "model.bin"),
                Paths.get("..", "shared", "models", "stories15M", "model.bin"),
        };
        for (Path p : candidates) {
            if (p != null && Files.isRegularFile(p)) {
                return p;
            }
        }
        Assumptions.assumeTrue(false,
                "skipped: needs the stories15M model (../shared/models/stories15M/model.bin or the model cache; "
                        + "run ./earlyexit fetch stories15M)");
        return null;
    }

    /**
     * stories15M seen from {@code dir} (links to the model and its tokenizer), with nothing beside it: no
     * heads or calibration a developer trained into the model cache change what "--heads auto" finds.
     */
    public static Path isolatedStories15M(Path dir) throws java.io.IOException {
        Path model = stories15M().toAbsolutePath();
        Path link = dir.resolve("model.bin");
        if (!Files.exists(link)) {
            Files.createSymbolicLink(link, model);
            Files.createSymbolicLink(dir.resolve("tokenizer.bin"), model.resolveSibling("tokenizer.bin"));
        }
        return link;
    }

    /** A file of the test resources. */
    public static Path resource(String relative) {
        Path p = Paths.get("src", "test", "resources").resolve(relative);
        if (!Files.exists(p)) {
            throw new IllegalStateException("missing test resource " + p.toAbsolutePath());
        }
        return p;
    }
}
