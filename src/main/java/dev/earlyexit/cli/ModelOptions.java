package dev.earlyexit.cli;

import dev.earlyexit.model.Warmup;
import dev.earlyexit.store.KnownModel;
import dev.earlyexit.store.LoadedModel;
import dev.earlyexit.store.ModelCache;
import dev.earlyexit.store.ModelResolver;
import dev.earlyexit.tensor.DType;
import dev.earlyexit.tensor.ThreadPool;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Options shared by every command that runs a model. */
public final class ModelOptions {
    @Option(names = "--model", defaultValue = "stories15M", paramLabel = "M",
            description = "Model alias (fetched on first use), llama2.c .bin file or Hugging Face directory "
                    + "(default: ${DEFAULT-VALUE}).")
    public String model;

    @Option(names = "--tokenizer", paramLabel = "PATH",
            description = "tokenizer.bin or tokenizer.json (default: the one beside the model, or in a GGUF file).")
    public Path tokenizer;

    @Option(names = "--dtype", defaultValue = "f32", converter = DTypeConverter.class, paramLabel = "D",
            description = "Weight storage in memory: f32, bf16, q8 (ggml Q8_0: 8-bit, a scale per 32), q4_0, q4_k, q5_k or q6_k (ggml 4-6-bit types, our quantizers) (default: ${DEFAULT-VALUE}).")
    public DType dtype;

    @Option(names = "--context", paramLabel = "N", defaultValue = "0",
            description = "Positions the KV cache holds (default: the model's context, at most 4096).")
    public int context;

    @Option(names = "--threads", paramLabel = "N",
            description = "Worker threads (default: all cores).")
    public Integer threads;

    @Option(names = "--verbose", description = "Show stack traces on errors.")
    boolean verbose;

    public LoadedModel load() throws IOException {
        Warmup.Running warmup = !"false".equals(System.getProperty("earlyexit.warmup")) && Warmup.pays(weightBytes(model))
                ? Warmup.startInBackground(dtype) // compiles the kernels while the weights are read
                : null;
        try {
            return new ModelResolver(ModelCache.defaultCache(), System.err::println).load(model, tokenizer, dtype, context);
        } finally {
            if (warmup != null) {
                warmup.stop();
            }
        }
    }

    /** Bytes of the weight files at a model path (a file, or a directory's weight files); -1 for an alias or none. */
    static long weightBytes(String model) {
        if (model == null || isAlias(model)) {
            return -1;
        }
        Path p = Path.of(model);
        try {
            if (Files.isRegularFile(p)) {
                return Files.size(p);
            }
            if (Files.isDirectory(p)) {
                long total = 0;
                try (var files = Files.list(p)) {
                    for (Path f : (Iterable<Path>) files::iterator) {
                        String name = f.getFileName().toString();
                        if (name.endsWith(".safetensors") || name.endsWith(".gguf") || name.endsWith(".bin")) {
                            total += Files.size(f);
                        }
                    }
                }
                return total;
            }
        } catch (IOException | RuntimeException e) {
            return -1; // the loader reports what is wrong with the path
        }
        return -1;
    }

    public ThreadPool pool() {
        return new ThreadPool(threadCount());
    }

    /** --threads, else every core. */
    public int threadCount() {
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
