package dev.earlyexit.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A tokenizer.json decoder chain, reduced to what streaming needs: each token becomes bytes on its own
 * (Replace/Metaspace text edits, then ByteLevel or ByteFallback bytes or plain UTF-8), and the decoded
 * text may lose leading characters (Strip after Fuse; Metaspace's first space). Supported types:
 * ByteLevel, ByteFallback, Fuse, Replace, Strip, Metaspace, Sequence.
 */
final class HfDecoder {
    enum Bytes { UTF8, BYTE_LEVEL, BYTE_FALLBACK }

    private final List<UnaryOperator<String>> textSteps = new ArrayList<>();
    private Bytes bytes = Bytes.UTF8;
    private boolean fused;
    private char stripChar = ' ';
    private int stripCount;

    private HfDecoder() {
    }

    static HfDecoder fromJson(JsonNode node, HfJson json) {
        HfDecoder d = new HfDecoder();
        if (node != null && !node.isNull()) {
            d.add(node, json);
        }
        return d;
    }

    private void add(JsonNode node, HfJson json) {
        String type = json.type(node, "decoder");
        switch (type) {
            case "Sequence":
                for (JsonNode child : json.required(node, "decoders", "Sequence decoder")) {
                    add(child, json);
                }
                break;
            case "ByteLevel":
                bytes = Bytes.BYTE_LEVEL;
                break;
            case "ByteFallback":
                bytes = Bytes.BYTE_FALLBACK;
                break;
            case "Fuse":
                fused = true;
                break;
            case "Replace": {
                Pattern pattern = json.pattern(node, "Replace decoder");
                String content = Matcher.quoteReplacement(json.text(node, "content", "Replace decoder"));
                textSteps.add(s -> HfRegex.guard(pattern, () -> HfRegex.matcher(pattern, s).replaceAll(content)));
                break;
            }
            case "Strip": {
                String content = json.text(node, "content", "Strip decoder");
                int start = node.path("start").asInt(0);
                int stop = node.path("stop").asInt(0);
                if (content.length() != 1 || stop != 0 || start < 0) {
                    throw json.error("Strip decoder: only stripping one character from the start is supported, got "
                            + node);
                }
                if (fused) { // after Fuse there is one token: the whole text
                    stripChar = content.charAt(0);
                    stripCount = start;
                } else {
                    char c = content.charAt(0);
                    textSteps.add(s -> {
                        int cut = 0;
                        while (cut < start && cut < s.length() && s.charAt(cut) == c) {
                            cut++;
                        }
                        return s.substring(cut);
                    });
                }
                break;
            }
            case "Metaspace": {
                String replacement = json.text(node, "replacement", "Metaspace decoder");
                textSteps.add(s -> s.replace(replacement, " "));
                boolean prepends = node.has("prepend_scheme") ? !node.get("prepend_scheme").asText().equals("never")
                        : node.path("add_prefix_space").asBoolean(true);
                if (prepends) {
                    stripChar = ' ';
                    stripCount = 1;
                }
                break;
            }
            default:
                throw json.unsupported("decoder", type);
        }
    }

    /** The bytes one token stands for. */
    byte[] tokenBytes(String token) {
        for (UnaryOperator<String> step : textSteps) {
            token = step.apply(token);
        }
        if (bytes == Bytes.BYTE_LEVEL) {
            byte[] b = ByteLevelAlphabet.decode(token);
            if (b != null) {
                return b;
            }
        } else if (bytes == Bytes.BYTE_FALLBACK && token.length() == 6 && token.startsWith("<0x") && token.endsWith(">")) {
            try {
                return new byte[]{(byte) Integer.parseInt(token.substring(3, 5), 16)};
            } catch (NumberFormatException e) {
                // not a byte token after all: its text
            }
        }
        return token.getBytes(StandardCharsets.UTF_8);
    }

    /** SentencePiece-style byte tokens: one U+FFFD per invalid byte, as HF's ByteFallback; else from_utf8_lossy. */
    boolean perByteReplacement() {
        return bytes == Bytes.BYTE_FALLBACK;
    }

    char stripChar() {
        return stripChar;
    }

    int stripCount() {
        return stripCount;
    }
}
