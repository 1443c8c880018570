package dev.earlyexit.format;

import com.fasterxml.jackson.databind.JsonNode;
import dev.earlyexit.model.ModelConfig;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;

/**
 * What a Hugging Face directory's tokenizer_config.json says about BOS and EOS, which transformers
 * follows over config.json: {@code add_bos_token} says whether prompts start with BOS (Llama-2 and
 * Phi-3 state it; Qwen states {@code bos_token: null}, so nothing is prepended whatever config.json's
 * bos_token_id is); {@code eos_token} names the token that ends a reply. Tokens are named by content,
 * resolved through the file's own {@code added_tokens_decoder}.
 *
 * @param addBos  true or false as add_bos_token says, null when the file does not say
 * @param bosNone whether bos_token is stated as null (the tokenizer has no BOS)
 * @param bosId   the id of the named bos_token, or -1 when not named or not resolvable
 * @param eosId   the id of the named eos_token, or -1 when not named or not resolvable
 */
public record SpecialTokens(Boolean addBos, boolean bosNone, int bosId, int eosId, Path file) {

    /** A directory without tokenizer_config.json: config.json's ids stand. */
    public static final SpecialTokens ABSENT = new SpecialTokens(null, false, -1, -1, null);

    public static SpecialTokens read(Path dir) throws IOException {
        Path file = dir.resolve(HfCheckpoint.TOKENIZER_CONFIG_FILE);
        if (!Files.isRegularFile(file)) {
            return ABSENT;
        }
        JsonNode json = HfCheckpoint.readJson(file);
        Map<String, Integer> ids = new HashMap<>();
        JsonNode decoder = json.get("added_tokens_decoder");
        if (decoder != null && decoder.isObject()) {
            for (Iterator<Map.Entry<String, JsonNode>> it = decoder.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                JsonNode content = e.getValue().get("content");
                if (content != null && content.isTextual()) {
                    try {
                        ids.putIfAbsent(content.asText(), Integer.parseInt(e.getKey()));
                    } catch (NumberFormatException ex) {
                        throw new ModelFormatException(file + ": added_tokens_decoder key \"" + e.getKey()
                                + "\" is not a token id");
                    }
                }
            }
        }
        JsonNode add = json.get("add_bos_token");
        Boolean addBos = null;
        if (add != null && !add.isNull()) {
            if (!add.isBoolean()) {
                throw new ModelFormatException(file + ": \"add_bos_token\" is not a boolean: " + add);
            }
            addBos = add.asBoolean();
        }
        boolean bosNone = json.has("bos_token") && json.get("bos_token").isNull();
        return new SpecialTokens(addBos, bosNone, idOf(json.get("bos_token"), ids), idOf(json.get("eos_token"), ids), file);
    }

    /** A token given as its content or as {"content": ...} (older files), as an id; -1 when unknown. */
    private static int idOf(JsonNode token, Map<String, Integer> ids) {
        if (token != null && token.isObject()) {
            token = token.get("content");
        }
        if (token == null || !token.isTextual()) {
            return -1;
        }
        return ids.getOrDefault(token.asText(), -1);
    }

    /** Whether the file settles if prompts start with BOS (else the tokenizer.json's post-processor does). */
    public boolean decidesBos() {
        return addBos != null || bosNone;
    }

    /** The config with BOS and EOS as this file states them. */
    public ModelConfig apply(ModelConfig c) {
        int bos = c.bosId();
        if (Boolean.FALSE.equals(addBos) || (bosNone && !Boolean.TRUE.equals(addBos))) {
            bos = -1;
        } else if (Boolean.TRUE.equals(addBos)) {
            bos = bosId >= 0 ? bosId : c.bosId();
            if (bos < 0) {
                throw new ModelFormatException(file + ": add_bos_token is true but no BOS token id is known "
                        + "(bos_token is not in added_tokens_decoder and config.json has no bos_token_id)");
            }
        }
        int eos = eosId >= 0 ? eosId : c.eosId();
        for (int id : new int[] {bos, eos}) {
            if (id >= c.vocabSize()) {
                throw new ModelFormatException(file + ": special token id " + id + " is outside the vocabulary of "
                        + c.vocabSize());
            }
        }
        return bos == c.bosId() && eos == c.eosId() ? c : c.withSpecialIds(bos, eos);
    }
}
