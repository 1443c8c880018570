package dev.earlyexit.store;

import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.ModelWeights;
import dev.earlyexit.tokenizer.Tokenizer;

import java.nio.file.Path;
import java.util.Optional;

/**
 * A model ready to run: its architecture, its weights in the chosen storage, and its tokenizer when it
 * has one (a checkpoint without one can still run on ids).
 *
 * @param source the file or directory the weights came from
 * @param chatTemplate the model's chat template (GGUF tokenizer.chat_template) when it has one
 */
public record LoadedModel(ModelConfig config, ModelWeights weights, Tokenizer tokenizerOrNull, Path source,
                          Optional<String> chatTemplate) {

    public LoadedModel(ModelConfig config, ModelWeights weights, Tokenizer tokenizerOrNull, Path source) {
        this(config, weights, tokenizerOrNull, source, Optional.empty());
    }

    public Optional<Tokenizer> tokenizer() {
        return Optional.ofNullable(tokenizerOrNull);
    }

    /** The tokenizer, or a clear error for commands that need text. */
    public Tokenizer requireTokenizer() {
        if (tokenizerOrNull == null) {
            throw new IllegalArgumentException("the model at " + source + " has no tokenizer: give one with "
                    + "--tokenizer, or pass the prompt as ids with --prompt-ids");
        }
        return tokenizerOrNull;
    }
}
