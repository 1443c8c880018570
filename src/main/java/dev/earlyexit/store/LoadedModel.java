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
 * @param chatTemplateOrNull the model's chat template (Jinja text) when it ships one: tokenizer_config.json's
 *        {@code chat_template} for a Hugging Face directory or a GGUF's {@code tokenizer.chat_template}
 */
public record LoadedModel(ModelConfig config, ModelWeights weights, Tokenizer tokenizerOrNull, Path source,
                          String chatTemplateOrNull) {

    public LoadedModel(ModelConfig config, ModelWeights weights, Tokenizer tokenizerOrNull, Path source) {
        this(config, weights, tokenizerOrNull, source, null);
    }

    public Optional<String> chatTemplate() {
        return Optional.ofNullable(chatTemplateOrNull);
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
