package dev.earlyexit.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A tokenizer.json pre-tokenizer: splits normalized text into the words BPE runs on. Supported:
 * Sequence, Split, ByteLevel, Metaspace, Whitespace, WhitespaceSplit.
 */
interface HfPreTokenizer {
    /**
     * Splits each of {@code words} further. {@code atInputStart}: the text began at offset 0 of the
     * input (Metaspace's prepend_scheme "first" only prefixes there).
     */
    List<String> split(List<String> words, boolean atInputStart);

    /** Pass-through for a tokenizer.json without a pre-tokenizer. */
    HfPreTokenizer NONE = (words, atInputStart) -> words;

    static HfPreTokenizer fromJson(JsonNode node, HfJson json) {
        if (node == null || node.isNull()) {
            return NONE;
        }
        String type = json.type(node, "pre_tokenizer");
        switch (type) {
            case "Sequence": {
                List<HfPreTokenizer> steps = new ArrayList<>();
                for (JsonNode child : json.required(node, "pretokenizers", "Sequence pre_tokenizer")) {
                    steps.add(fromJson(child, json));
                }
                return (words, atInputStart) -> {
                    for (HfPreTokenizer step : steps) {
                        words = step.split(words, atInputStart);
                    }
                    return words;
                };
            }
            case "Split": {
                Pattern pattern = json.pattern(node, "Split pre_tokenizer");
                String behavior = json.text(node, "behavior", "Split pre_tokenizer");
                boolean invert = node.path("invert").asBoolean(false);
                RegexSplit split = new RegexSplit(pattern, behavior, invert, json);
                return (words, atInputStart) -> split.apply(words);
            }
            case "ByteLevel": {
                boolean addPrefixSpace = node.path("add_prefix_space").asBoolean(false);
                RegexSplit gpt2 = node.path("use_regex").asBoolean(true)
                        ? new RegexSplit(HfRegex.compile(HfRegex.GPT2, json), "Isolated", false, json) : null;
                return (words, atInputStart) -> {
                    List<String> out = new ArrayList<>(words.size());
                    for (String w : words) {
                        String s = addPrefixSpace && !w.startsWith(" ") ? " " + w : w;
                        for (String piece : gpt2 == null ? List.of(s) : gpt2.apply(List.of(s))) {
                            out.add(ByteLevelAlphabet.encode(piece));
                        }
                    }
                    return out;
                };
            }
            case "Metaspace": {
                String replacement = json.text(node, "replacement", "Metaspace pre_tokenizer");
                String scheme = node.has("prepend_scheme") ? json.text(node, "prepend_scheme", "Metaspace pre_tokenizer")
                        : node.path("add_prefix_space").asBoolean(true) ? "always" : "never";
                if (!scheme.equals("always") && !scheme.equals("first") && !scheme.equals("never")) {
                    throw json.error("Metaspace pre_tokenizer: unknown prepend_scheme \"" + scheme + "\"");
                }
                boolean splitWords = node.path("split").asBoolean(true);
                RegexSplit split = new RegexSplit(Pattern.compile(Pattern.quote(replacement)), "MergedWithNext", false, json);
                return (words, atInputStart) -> {
                    List<String> out = new ArrayList<>(words.size());
                    for (int i = 0; i < words.size(); i++) {
                        String s = words.get(i).replace(" ", replacement);
                        boolean prepend = scheme.equals("always") || (scheme.equals("first") && atInputStart && i == 0);
                        if (prepend && !s.startsWith(replacement)) {
                            s = replacement + s;
                        }
                        out.addAll(splitWords ? split.apply(List.of(s)) : List.of(s));
                    }
                    return out;
                };
            }
            case "Whitespace": {
                RegexSplit split = new RegexSplit(HfRegex.compile("\\w+|[^\\w\\s]+", json), "Removed", true, json);
                return (words, atInputStart) -> split.apply(words);
            }
            case "WhitespaceSplit": {
                RegexSplit split = new RegexSplit(HfRegex.compile("\\s+", json), "Removed", false, json);
                return (words, atInputStart) -> split.apply(words);
            }
            default:
                throw json.unsupported("pre_tokenizer", type);
        }
    }

    /** HF's split by pattern with a delimiter behavior (Isolated, Removed, MergedWithPrevious, MergedWithNext, Contiguous). */
    final class RegexSplit {
        private final Pattern pattern;
        private final String behavior;
        private final boolean invert;

        RegexSplit(Pattern pattern, String behavior, boolean invert, HfJson json) {
            switch (behavior) {
                case "Isolated": case "Removed": case "MergedWithPrevious": case "MergedWithNext": case "Contiguous":
                    break;
                default:
                    throw json.error("Split pre_tokenizer: unknown behavior \"" + behavior + "\"");
            }
            this.pattern = pattern;
            this.behavior = behavior;
            this.invert = invert;
        }

        List<String> apply(List<String> words) {
            List<String> out = new ArrayList<>();
            for (String w : words) {
                splitOne(w, out);
            }
            return out;
        }

        private void splitOne(String s, List<String> out) {
            // [start, end, isDelimiter] ranges covering s, in order
            List<int[]> ranges = new ArrayList<>();
            Matcher m = HfRegex.matcher(pattern, s);
            int prev = 0;
            while (HfRegex.guard(pattern, m::find)) {
                if (m.end() == m.start()) {
                    continue;
                }
                if (m.start() > prev) {
                    ranges.add(new int[]{prev, m.start(), invert ? 1 : 0});
                }
                ranges.add(new int[]{m.start(), m.end(), invert ? 0 : 1});
                prev = m.end();
            }
            if (prev < s.length()) {
                ranges.add(new int[]{prev, s.length(), invert ? 1 : 0});
            }
            int pendingStart = -1; // MergedWithNext: a delimiter waiting for the next piece
            int i = 0;
            while (i < ranges.size()) {
                int[] r = ranges.get(i);
                boolean delimiter = r[2] == 1;
                switch (behavior) {
                    case "Isolated":
                        out.add(s.substring(r[0], r[1]));
                        break;
                    case "Removed":
                        if (!delimiter) {
                            out.add(s.substring(r[0], r[1]));
                        }
                        break;
                    case "MergedWithPrevious":
                        if (delimiter && !out.isEmpty() && i > 0 && ranges.get(i - 1)[2] == 0) {
                            out.set(out.size() - 1, out.get(out.size() - 1) + s.substring(r[0], r[1]));
                        } else {
                            out.add(s.substring(r[0], r[1]));
                        }
                        break;
                    case "MergedWithNext":
                        if (delimiter) {
                            if (pendingStart >= 0) {
                                out.add(s.substring(pendingStart, r[0]));
                            }
                            pendingStart = r[0];
                        } else if (pendingStart >= 0) {
                            out.add(s.substring(pendingStart, r[1]));
                            pendingStart = -1;
                        } else {
                            out.add(s.substring(r[0], r[1]));
                        }
                        break;
                    default: { // Contiguous: consecutive delimiters form one piece
                        int end = r[1];
                        while (delimiter && i + 1 < ranges.size() && ranges.get(i + 1)[2] == 1) {
                            end = ranges.get(++i)[1];
                        }
                        out.add(s.substring(r[0], end));
                    }
                }
                i++;
            }
            if (pendingStart >= 0) {
                out.add(s.substring(pendingStart));
            }
        }
    }
}
