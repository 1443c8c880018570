package dev.earlyexit.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import dev.earlyexit.format.ModelFormatException;

/** Reading tokenizer.json nodes with errors that name the file and the field. */
final class HfJson {
    private final String file;

    HfJson(String file) {
        this.file = file;
    }

    ModelFormatException error(String problem) {
        return new ModelFormatException(file + ": " + problem);
    }

    JsonNode required(JsonNode node, String field, String where) {
        JsonNode v = node == null ? null : node.get(field);
        if (v == null || v.isNull()) {
            throw error(where + " has no \"" + field + "\"");
        }
        return v;
    }

    String text(JsonNode node, String field, String where) {
        JsonNode v = required(node, field, where);
        if (!v.isTextual()) {
            throw error(where + ": \"" + field + "\" is not a string");
        }
        return v.asText();
    }

    String type(JsonNode node, String where) {
        if (node == null || !node.isObject()) {
            throw error(where + " is not an object");
        }
        return text(node, "type", where);
    }

    ModelFormatException unsupported(String what, String type) {
        return error("unsupported " + what + " type \"" + type + "\"");
    }

    /** A Split/Replace pattern: {"String": literal} or {"Regex": oniguruma regex}. */
    java.util.regex.Pattern pattern(JsonNode node, String where) {
        JsonNode p = required(node, "pattern", where);
        if (p.has("String")) {
            return java.util.regex.Pattern.compile(java.util.regex.Pattern.quote(p.get("String").asText()));
        }
        if (p.has("Regex")) {
            return HfRegex.compile(p.get("Regex").asText(), this);
        }
        throw error(where + ": pattern is neither String nor Regex");
    }
}
