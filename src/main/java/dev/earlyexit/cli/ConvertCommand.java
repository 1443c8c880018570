package dev.earlyexit.cli;

import dev.earlyexit.format.HfCheckpointWriter;
import dev.earlyexit.store.LoadedModel;
import dev.earlyexit.store.ModelCache;
import dev.earlyexit.store.ModelResolver;
import dev.earlyexit.tensor.DType;
import dev.earlyexit.tokenizer.SentencePieceBpeTokenizer;
import dev.earlyexit.tokenizer.TokenizerJsonWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "convert", mixinStandardHelpOptions = true,
        description = "Write a llama2.c model as a Hugging Face directory (config.json, model.safetensors, tokenizer.json).")
final class ConvertCommand implements Callable<Integer> {
    @Option(names = "--model", defaultValue = "stories15M", paramLabel = "M",
            description = "llama2.c model: alias or .bin file (default: ${DEFAULT-VALUE}).")
    String model;

    @Option(names = "--tokenizer", paramLabel = "PATH", description = "tokenizer.bin (default: the one beside the model).")
    Path tokenizer;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output directory (created; must be empty if it exists).")
    Path out;

    @Option(names = "--verbose", description = "Show stack traces on errors.")
    boolean verbose;

    @Override
    public Integer call() throws Exception {
        LoadedModel m = new ModelResolver(ModelCache.defaultCache(), System.err::println).load(model, tokenizer, DType.F32);
        if (!m.config().architecture().equals("llama2.c")) {
            throw new IllegalArgumentException(m.source() + " is already a Hugging Face checkpoint; convert reads llama2.c models");
        }
        if (!(m.requireTokenizer() instanceof SentencePieceBpeTokenizer sp)) {
            throw new IllegalArgumentException("convert needs the model's tokenizer.bin");
        }
        if (Files.isDirectory(out)) {
            try (var entries = Files.list(out)) {
                if (entries.findAny().isPresent()) {
                    throw new IllegalArgumentException("output directory " + out + " is not empty");
                }
            }
        } else if (Files.exists(out)) {
            throw new IllegalArgumentException("output path " + out + " exists and is not a directory");
        }
        Files.createDirectories(out);
        HfCheckpointWriter.writeLlama(m.config(), m.weights(), out);
        TokenizerJsonWriter.write(sp, out.resolve("tokenizer.json"));
        System.err.println("wrote " + out.resolve("config.json") + ", model.safetensors and tokenizer.json");
        System.out.println(out);
        return 0;
    }
}
