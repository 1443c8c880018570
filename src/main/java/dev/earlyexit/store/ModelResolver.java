package dev.earlyexit.store;

import dev.earlyexit.format.GgufCheckpoint;
import dev.earlyexit.format.GgufFile;
import dev.earlyexit.format.HfCheckpoint;
import dev.earlyexit.format.Llama2cCheckpoint;
import dev.earlyexit.format.ModelFormatException;
import dev.earlyexit.format.SpecialTokens;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.tensor.DType;
import dev.earlyexit.tokenizer.HfTokenizer;
import dev.earlyexit.tokenizer.Tokenizer;
import dev.earlyexit.tokenizer.Tokenizers;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Optional;

/**
 * Turns what the user passes as {@code --model} into a loaded model: an alias of the cache
 * (fetched on first use), a llama2.c {@code .bin} file (tokenizer.bin beside it), or a Hugging Face
 * directory (config.json + safetensors + tokenizer.json).
 */
public final class ModelResolver {
    private final ModelCache cache;
    private final ModelCache.ProgressLog log;

    public ModelResolver(ModelCache cache, ModelCache.ProgressLog log) {
        this.cache = cache;
        this.log = log;
    }

    /** The file or directory a model argument names, fetching an alias's files when needed. */
    public Path locate(String model) throws IOException {
        Optional<KnownModel> known = KnownModel.byAlias(model);
        Path path = Paths.get(model);
        if (known.isPresent() && !Files.exists(path)) {
            return cache.ensure(known.get(), log).resolve("model.bin");
        }
        if (!Files.exists(path)) {
            throw new ModelFormatException("model not found: " + model + " (give an alias such as "
                    + KnownModel.STORIES15M.alias() + ", a llama2.c .bin file, a .gguf file or a Hugging Face directory)");
        }
        return path;
    }

    /** Positions the KV cache holds unless --context says otherwise (a GGUF may claim 131072). */
    public static final int DEFAULT_MAX_CONTEXT = 4096;

    public LoadedModel load(String model, Path tokenizerOverride, DType dtype) throws IOException {
        return load(model, tokenizerOverride, dtype, 0);
    }

    /** {@code context}: positions of the KV cache; 0 for min(the model's, {@link #DEFAULT_MAX_CONTEXT}), -1 for the model's own. */
    public LoadedModel load(String model, Path tokenizerOverride, DType dtype, int context) throws IOException {
        LoadedModel m = loadFull(model, tokenizerOverride, dtype);
        if (context < 0) {
            return m; // the model's own context, uncapped (what convert writes)
        }
        int n = context > 0 ? context : Math.min(m.config().maxSeqLen(), DEFAULT_MAX_CONTEXT);
        if (context > 0 && m.config().learnedPositions() && context > m.config().maxSeqLen()) {
            throw new ModelFormatException("--context " + context + " is more than the " + m.config().maxSeqLen()
                    + " positions this model has learned");
        }
        return n == m.config().maxSeqLen() ? m
                : new LoadedModel(m.config().withMaxSeqLen(n), m.weights(), m.tokenizerOrNull(), m.source(), m.chatTemplateOrNull());
    }

    private LoadedModel loadFull(String model, Path tokenizerOverride, DType dtype) throws IOException {
        Path path = locate(model);
        if (Files.isDirectory(path)) {
            if (!Files.isRegularFile(path.resolve("config.json"))) {
                throw new ModelFormatException(path + " is a directory without config.json: not a Hugging Face checkpoint");
            }
            HfCheckpoint.Loaded hf = HfCheckpoint.load(path, dtype);
            Tokenizer tok = tokenizer(tokenizerOverride, path.resolve("tokenizer.json"));
            ModelConfig c = hf.config();
            if (tokenizerOverride == null && tok instanceof HfTokenizer own) {
                // One BOS rule for prompts (the tokenizer) and training data (the config): tokenizer_config.json's
                // where it states one, else the tokenizer.json's own.
                if (SpecialTokens.read(path).decidesBos()) {
                    tok = own.withSpecialIds(c.bosId(), c.eosId() >= 0 ? c.eosId() : own.eosId());
                } else {
                    c = c.withSpecialIds(own.bosId(), c.eosId());
                }
            }
            return new LoadedModel(c, hf.weights(), tok, path, chatTemplate(path).orElse(null));
        }
        // A .gguf name without the magic still goes to the GGUF reader, which says what is wrong with it.
        if (GgufFile.hasMagic(path) || path.getFileName().toString().endsWith(".gguf")) {
            if (dtype != DType.F32) {
                log.println(path.getFileName() + ": --dtype " + dtype.cliName() + " does not apply to a GGUF file; "
                        + "each tensor keeps its own type (convert --type writes another)");
            }
            GgufCheckpoint.Loaded g = GgufCheckpoint.load(path);
            if (!g.conversions().isEmpty()) {
                log.println(path.getFileName() + ": tensors without a kernel of their own type load as: "
                        + String.join(", ", g.conversions()));
            }
            Tokenizer tok = tokenizerOverride != null ? tokenizer(tokenizerOverride, null) : g.tokenizerOrNull();
            return new LoadedModel(g.config(), g.weights(), tok, path, g.chatTemplate().orElse(null));
        }
        Llama2cCheckpoint.Loaded l = Llama2cCheckpoint.load(path, dtype);
        Path parent = path.toAbsolutePath().getParent();
        Tokenizer tok = tokenizer(tokenizerOverride, parent.resolve("tokenizer.bin"));
        return new LoadedModel(l.config(), l.weights(), tok, path);
    }

    /**
     * The chat template of a Hugging Face directory: tokenizer_config.json's {@code chat_template}, a
     * string or (newer files) a list of named templates, of which the one named "default" is taken.
     */
    public static Optional<String> chatTemplate(Path dir) throws IOException {
        Path file = dir.resolve("tokenizer_config.json");
        if (!Files.isRegularFile(file)) {
            return Optional.empty();
        }
        com.fasterxml.jackson.databind.JsonNode root;
        try {
            root = new com.fasterxml.jackson.databind.ObjectMapper().readTree(file.toFile());
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new ModelFormatException(file + ": not valid JSON: " + e.getOriginalMessage());
        }
        com.fasterxml.jackson.databind.JsonNode t = root.get("chat_template");
        if (t == null || t.isNull()) {
            return Optional.empty();
        }
        if (t.isTextual()) {
            return Optional.of(t.asText());
        }
        if (t.isArray()) {
            for (com.fasterxml.jackson.databind.JsonNode named : t) {
                if ("default".equals(named.path("name").asText()) && named.path("template").isTextual()) {
                    return Optional.of(named.get("template").asText());
                }
            }
        }
        throw new ModelFormatException(file + ": chat_template must be a string or a list with a template named "
                + "'default'");
    }

    /** The tokenizer the user named, else the default file beside the model if it exists, else none. */
    public static Tokenizer tokenizer(Path override, Path besideModel) throws IOException {
        if (override != null) {
            if (!Files.exists(override)) {
                throw new ModelFormatException("tokenizer not found: " + override);
            }
            return Tokenizers.load(override);
        }
        return Files.isRegularFile(besideModel) ? Tokenizers.load(besideModel) : null;
    }
}
