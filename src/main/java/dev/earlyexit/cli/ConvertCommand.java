package dev.earlyexit.cli;

import dev.earlyexit.format.GgufExport;
import dev.earlyexit.format.HfCheckpointWriter;
import dev.earlyexit.tensor.GgmlType;
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
        description = {"Write a llama2.c model as a Hugging Face directory (config.json, model.safetensors, tokenizer.json),",
                "or, with --out FILE.gguf, any supported model as a GGUF file llama.cpp loads (architectures llama, qwen2,",
                "qwen3, phi3, gpt2, phi2, gptneox; the tokenizer in the metadata, a synthetic byte vocabulary when there is none)."})
final class ConvertCommand implements Callable<Integer> {
    @Option(names = "--model", defaultValue = "stories15M", paramLabel = "M",
            description = "Model: alias, llama2.c .bin, Hugging Face directory or .gguf (default: ${DEFAULT-VALUE}).")
    String model;

    @Option(names = "--tokenizer", paramLabel = "PATH", description = "tokenizer.bin (default: the one beside the model).")
    Path tokenizer;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output directory (created; must be empty if it exists).")
    Path out;

    @Option(names = "--type", defaultValue = "f16", paramLabel = "T",
            description = "GGUF weight type of the 2-D tensors: f32, f16, bf16, q8_0, q4_0, q4_k, q5_k, q6_k (default: ${DEFAULT-VALUE}; norms stay f32; k-quant rows that are not whole 256-value super-blocks are written as q4_0 for q4_k, q8_0 for q5_k and q6_k).")
    String type;

    @Option(names = "--verbose", description = "Show stack traces on errors.")
    boolean verbose;

    @Override
    public Integer call() throws Exception {
        if (out.getFileName() != null && out.getFileName().toString().endsWith(".gguf")) {
            return writeGguf();
        }
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

    /** general.name as llama.cpp's converter writes it: the model directory's (or file's) name. */
    private static String modelName(Path source) {
        Path f = source.toAbsolutePath().normalize().getFileName();
        return f == null ? null : f.toString().replaceFirst("\\.(bin|gguf)$", "");
    }

    private int writeGguf() throws Exception {
        GgmlType t = switch (type.toLowerCase(java.util.Locale.ROOT)) {
            case "f32" -> GgmlType.F32;
            case "f16" -> GgmlType.F16;
            case "bf16" -> GgmlType.BF16;
            case "q8_0" -> GgmlType.Q8_0;
            case "q4_0" -> GgmlType.Q4_0;
            case "q4_k" -> GgmlType.Q4_K;
            case "q5_k" -> GgmlType.Q5_K;
            case "q6_k" -> GgmlType.Q6_K;
            default -> throw new IllegalArgumentException("--type " + type + ": not one of f32, f16, bf16, q8_0, q4_0, q4_k, q5_k, q6_k");
        };
        if (Files.isDirectory(out)) {
            throw new IllegalArgumentException("output path " + out + " is a directory");
        }
        // context -1 keeps the model's own context length in the file (capped only when it runs)
        LoadedModel m = new ModelResolver(ModelCache.defaultCache(), System.err::println).load(model, tokenizer, DType.F32, -1);
        Path tmp = out.resolveSibling(out.getFileName() + ".partial");
        GgufExport.Written w = GgufExport.write(m.config(), m.weights(), m.tokenizerOrNull(), m.chatTemplateOrNull(),
                modelName(m.source()), t, tmp);
        Files.move(tmp, out, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        if (w.syntheticVocabulary()) {
            System.err.println("the model has no tokenizer: wrote a synthetic byte-level vocabulary of "
                    + m.config().vocabSize() + " tokens (one per byte, no merges) so that llama.cpp loads the file");
        }
        System.err.println("wrote " + out + " (" + w.architecture() + ", " + t.ggmlName() + ")");
        System.out.println(out);
        return 0;
    }
}
