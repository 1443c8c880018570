package dev.earlyexit.store;

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
                    + KnownModel.STORIES15M.alias() + ", a llama2.c .bin file or a Hugging Face directory)");
        }
        return path;
    }

    public LoadedModel load(String model, Path tokenizerOverride, DType dtype) throws IOException {
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
            return new LoadedModel(c, hf.weights(), tok, path);
        }
        if (path.getFileName().toString().endsWith(".gguf")) {
            // GGUF keeps each matrix in its own encoding; --dtype does not apply
            dev.earlyexit.format.gguf.GgufCheckpoint.Loaded g = dev.earlyexit.format.gguf.GgufCheckpoint.load(path);
            Tokenizer tok = tokenizerOverride != null ? tokenizer(tokenizerOverride, path) : g.tokenizerOrNull();
            return new LoadedModel(g.config(), g.weights(), tok, path);
        }
        Llama2cCheckpoint.Loaded l = Llama2cCheckpoint.load(path, dtype);
        Path parent = path.toAbsolutePath().getParent();
        Tokenizer tok = tokenizer(tokenizerOverride, parent.resolve("tokenizer.bin"));
        return new LoadedModel(l.config(), l.weights(), tok, path);
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
