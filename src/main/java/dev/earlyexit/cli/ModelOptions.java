package dev.earlyexit.cli;

import dev.earlyexit.store.KnownModel;
import dev.earlyexit.store.LoadedModel;
import dev.earlyexit.store.ModelCache;
import dev.earlyexit.store.ModelResolver;
import dev.earlyexit.tensor.DType;
import dev.earlyexit.tensor.ThreadPool;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;

/** Options shared by every command that runs a model. */
final class ModelOptions {
    @Option(names = "--model", defaultValue = "stories15M", paramLabel = "M",
            description = "Model alias (fetched on first use), llama2.c .bin file or Hugging Face directory "
                    + "(default: ${DEFAULT-VALUE}).")
    String model;

    @Option(names = "--tokenizer", paramLabel = "PATH",
            description = "tokenizer.bin or tokenizer.json (default: the one beside the model).")
    Path tokenizer;

    @Option(names = "--dtype", defaultValue = "f32", converter = DTypeConverter.class, paramLabel = "D",
            description = "Weight storage in memory: f32, bf16, q8 (ggml Q8_0: 8-bit, a scale per 32), q4_0 or q4_k (ggml 4-bit types, our quantizers) (default: ${DEFAULT-VALUE}).")
    DType dtype;

    @Option(names = "--threads", paramLabel = "N",
            description = "Worker threads (default: all cores).")
    Integer threads;

    @Option(names = "--verbose", description = "Show stack traces on errors.")
    boolean verbose;

    LoadedModel load() throws IOException {
        return new ModelResolver(ModelCache.defaultCache(), System.err::println).load(model, tokenizer, dtype);
    }

    ThreadPool pool() {
        return new ThreadPool(threadCount());
    }

    /** --threads, else every core. */
    int threadCount() {
        int n = threads == null ? Runtime.getRuntime().availableProcessors() : threads;
        if (n < 1) {
            throw new IllegalArgumentException("--threads must be >= 1, got " + n);
        }
        return n;
    }

    static final class DTypeConverter implements ITypeConverter<DType> {
        @Override
        public DType convert(String value) {
            return DType.parse(value);
        }
    }

    static boolean isAlias(String model) {
        return KnownModel.byAlias(model).isPresent();
    }
}
