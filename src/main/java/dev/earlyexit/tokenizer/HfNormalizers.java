package dev.earlyexit.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;

import java.text.Normalizer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The tokenizer.json normalizers: NFC, NFD, NFKC, NFKD, Lowercase, Prepend, Replace, Strip and Sequence. */
final class HfNormalizers {
    private HfNormalizers() {
    }

    /** The normalizer a tokenizer.json node describes; identity for null. */
    static UnaryOperator<String> fromJson(JsonNode node, HfJson json) {
        if (node == null || node.isNull()) {
            return UnaryOperator.identity();
        }
        String type = json.type(node, "normalizer");
        switch (type) {
            case "NFC": return s -> Normalizer.normalize(s, Normalizer.Form.NFC);
            case "NFD": return s -> Normalizer.normalize(s, Normalizer.Form.NFD);
            case "NFKC": return s -> Normalizer.normalize(s, Normalizer.Form.NFKC);
            case "NFKD": return s -> Normalizer.normalize(s, Normalizer.Form.NFKD);
            case "Lowercase": return s -> s.toLowerCase(Locale.ROOT);
            case "Prepend": {
                String prefix = json.text(node, "prepend", "Prepend normalizer");
                return s -> s.isEmpty() ? s : prefix + s;
            }
            case "Replace": {
                Pattern pattern = json.pattern(node, "Replace normalizer");
                String content = Matcher.quoteReplacement(json.text(node, "content", "Replace normalizer"));
                return s -> HfRegex.guard(pattern, () -> HfRegex.matcher(pattern, s).replaceAll(content));
            }
            case "Strip": {
                boolean left = node.path("strip_left").asBoolean(false);
                boolean right = node.path("strip_right").asBoolean(false);
                return s -> strip(s, left, right);
            }
            case "Sequence": {
                List<UnaryOperator<String>> steps = new ArrayList<>();
                for (JsonNode child : json.required(node, "normalizers", "Sequence normalizer")) {
                    steps.add(fromJson(child, json));
                }
                return s -> {
                    for (UnaryOperator<String> step : steps) {
                        s = step.apply(s);
                    }
                    return s;
                };
            }
            default:
                throw json.unsupported("normalizer", type);
        }
    }

    private static String strip(String s, boolean left, boolean right) {
        int start = 0;
        int end = s.length();
        while (left && start < end && UnicodeCategories.isWhiteSpace(s.codePointAt(start))) {
            start += Character.charCount(s.codePointAt(start));
        }
        while (right && end > start && UnicodeCategories.isWhiteSpace(s.codePointBefore(end))) {
            end -= Character.charCount(s.codePointBefore(end));
        }
        return s.substring(start, end);
    }
}
