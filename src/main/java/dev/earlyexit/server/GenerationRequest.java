package dev.earlyexit.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.earlyexit.calibration.Calibration;
import dev.earlyexit.decoding.Generator;
import dev.earlyexit.decoding.SamplingOptions;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A parsed and checked /v1/completions or /v1/chat/completions body: everything the engine and the
 * response need. Parameters the server does not implement are refused by name unless they carry
 * their default value; unknown ones are refused as OpenAI does.
 */
record GenerationRequest(boolean chat, int[] promptIds, int maxTokens, SamplingOptions sampling, List<String> stops,
                         int topLogprobs, boolean stream, boolean includeUsage, ExitSpec spec) {

    private static final Set<String> COMMON = Set.of("model", "max_tokens", "temperature", "top_p", "seed", "stop",
            "logprobs", "stream", "stream_options", "n", "early_exit", "user", "presence_penalty",
            "frequency_penalty", "logit_bias", "metadata", "store");
    private static final Set<String> COMPLETION_ONLY = Set.of("prompt", "echo", "suffix", "best_of");
    private static final Set<String> CHAT_ONLY = Set.of("messages", "max_completion_tokens", "top_logprobs", "tools",
            "tool_choice", "functions", "function_call", "response_format", "parallel_tool_calls", "modalities",
            "audio", "prediction", "reasoning_effort", "web_search_options", "service_tier");
    private static final Set<String> EARLY_EXIT_FIELDS = Set.of("mode", "epsilon", "max_draft");
    static final int MAX_STOPS = 4;

    static Set<String> known(boolean chat) {
        Set<String> s = new java.util.HashSet<>(COMMON);
        s.addAll(chat ? CHAT_ONLY : COMPLETION_ONLY);
        return s;
    }

    /**
     * @param template the model's chat template, null when it has none (chat is then refused)
     * @param defaults the server's --mode, --epsilon, --max-draft
     */
    static GenerationRequest parse(JsonNode body, boolean chat, String modelId, Tokenizer tok, ModelConfig c,
                                   ChatTemplate template, ExitSpec defaults) {
        Params p = new Params(body, known(chat), "");
        String model = p.string("model");
        if (model != null && !model.equals(modelId)) {
            throw new ApiException(404, "invalid_request_error", "The model '" + model
                    + "' does not exist; this server serves '" + modelId + "'", "model", "model_not_found");
        }
        refuseUnsupported(p, chat);

        int[] ids = chat ? chatPrompt(p, tok, template) : completionPrompt(p, tok);
        try {
            Generator.checkPrompt(ids, c);
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest(e.getMessage(), chat ? "messages" : "prompt", "context_length_exceeded");
        }
        Integer maxTokens = p.integer("max_tokens", 1, Integer.MAX_VALUE);
        if (chat) {
            Integer mct = p.integer("max_completion_tokens", 1, Integer.MAX_VALUE);
            if (mct != null) {
                maxTokens = mct;
            }
        }
        int room = c.maxSeqLen() - ids.length;
        int max = maxTokens == null ? (chat ? room : Math.min(16, room)) : maxTokens;

        double temperature = orElse(p.number("temperature", 0, 2), 1.0);
        double topP = orElse(p.number("top_p", 0, 1), 1.0);
        if (topP == 0) {
            throw ApiException.badRequest("'top_p' must be in (0, 1], got 0", "top_p");
        }
        Long seed = p.longValue("seed");
        long s = seed != null ? seed : ThreadLocalRandom.current().nextLong();
        SamplingOptions sampling = new SamplingOptions((float) temperature, 0, (float) topP, s);

        List<String> stops = stops(p.raw("stop"));
        int topLogprobs = -1;
        if (chat) {
            Boolean lp = p.bool("logprobs");
            Integer top = p.integer("top_logprobs", 0, 20);
            if (top != null && !Boolean.TRUE.equals(lp)) {
                throw ApiException.badRequest("'top_logprobs' needs 'logprobs': true", "top_logprobs");
            }
            if (Boolean.TRUE.equals(lp)) {
                topLogprobs = top == null ? 0 : top;
            }
        } else {
            Integer lp = p.integer("logprobs", 0, 20);
            topLogprobs = lp == null ? -1 : lp;
        }
        boolean stream = Boolean.TRUE.equals(p.bool("stream"));
        boolean includeUsage = false;
        JsonNode so = p.raw("stream_options");
        if (so != null) {
            Params sp = new Params(so, Set.of("include_usage", "include_obfuscation"), "stream_options.");
            if (!stream) {
                throw ApiException.badRequest("'stream_options' is only allowed with 'stream': true", "stream_options");
            }
            includeUsage = Boolean.TRUE.equals(sp.bool("include_usage"));
            sp.bool("include_obfuscation");
        }
        ExitSpec spec = exitSpec(p.raw("early_exit"), defaults);
        if (spec.mode() != ExitSpec.Mode.FULL && topLogprobs >= 0) {
            throw ApiException.badRequest("logprobs are only reported with early_exit mode 'full' (requested: "
                    + spec.mode().id() + ")", "logprobs");
        }
        return new GenerationRequest(chat, ids, max, sampling, stops, topLogprobs, stream, includeUsage, spec);
    }

    private static double orElse(Double v, double d) {
        return v == null ? d : v;
    }

    /** A 400 naming every parameter given a value the server does not implement. */
    private static void refuseUnsupported(Params p, boolean chat) {
        List<String> bad = new ArrayList<>();
        Integer n = p.integer("n", 1, 128);
        if (n != null && n != 1) {
            bad.add("n (only 1)");
        }
        Double pp = p.number("presence_penalty", -2, 2);
        if (pp != null && pp != 0) {
            bad.add("presence_penalty (only 0)");
        }
        Double fp = p.number("frequency_penalty", -2, 2);
        if (fp != null && fp != 0) {
            bad.add("frequency_penalty (only 0)");
        }
        JsonNode bias = p.raw("logit_bias");
        if (bias != null && !(bias.isObject() && bias.isEmpty())) {
            bad.add("logit_bias");
        }
        if (chat) {
            for (String f : List.of("tools", "functions")) {
                JsonNode v = p.raw(f);
                if (v != null && !(v.isArray() && v.isEmpty())) {
                    bad.add(f);
                }
            }
            JsonNode tc = p.raw("tool_choice");
            if (tc != null && !(tc.isTextual() && tc.asText().equals("none"))) {
                bad.add("tool_choice");
            }
            for (String f : List.of("function_call", "audio", "prediction", "reasoning_effort", "web_search_options")) {
                if (p.has(f)) {
                    bad.add(f);
                }
            }
            JsonNode rf = p.raw("response_format");
            if (rf != null && !(rf.isObject() && "text".equals(rf.path("type").asText()))) {
                bad.add("response_format (only {\"type\": \"text\"})");
            }
            JsonNode mod = p.raw("modalities");
            if (mod != null && !(mod.isArray() && mod.size() == 1 && "text".equals(mod.get(0).asText()))) {
                bad.add("modalities (only [\"text\"])");
            }
        } else {
            Boolean echo = p.bool("echo");
            if (Boolean.TRUE.equals(echo)) {
                bad.add("echo (only false)");
            }
            String suffix = p.string("suffix");
            if (suffix != null && !suffix.isEmpty()) {
                bad.add("suffix");
            }
            Integer bestOf = p.integer("best_of", 1, 128);
            if (bestOf != null && bestOf != 1) {
                bad.add("best_of (only 1)");
            }
        }
        if (!bad.isEmpty()) {
            throw ApiException.badRequest("unsupported parameter" + (bad.size() > 1 ? "s" : "") + ": "
                    + String.join(", ", bad), bad.get(0).split(" ")[0]);
        }
    }

    private static int[] completionPrompt(Params p, Tokenizer tok) {
        JsonNode prompt = p.raw("prompt");
        if (prompt == null) {
            throw ApiException.badRequest("'prompt' is required", "prompt");
        }
        if (prompt.isTextual()) {
            return encodeWithBos(tok, prompt.asText());
        }
        if (prompt.isArray()) {
            if (prompt.isEmpty()) {
                throw ApiException.badRequest("'prompt' is an empty array", "prompt");
            }
            if (prompt.get(0).isTextual() || prompt.get(0).isArray()) {
                if (prompt.size() > 1) {
                    throw ApiException.badRequest("unsupported parameter: prompt with " + prompt.size()
                            + " prompts (one prompt per request)", "prompt");
                }
                JsonNode only = prompt.get(0);
                if (only.isTextual()) {
                    return encodeWithBos(tok, only.asText());
                }
                return ids(only, tok);
            }
            return ids(prompt, tok);
        }
        throw ApiException.badRequest("'prompt' must be a string, an array of token ids or a one-element array of "
                + "either, got " + prompt.getNodeType().name().toLowerCase(), "prompt");
    }

    private static int[] ids(JsonNode array, Tokenizer tok) {
        int[] ids = new int[array.size()];
        for (int i = 0; i < ids.length; i++) {
            JsonNode v = array.get(i);
            if (!v.isIntegralNumber() || v.asLong() < 0 || v.asLong() >= tok.vocabSize()) {
                throw ApiException.badRequest("prompt token ids must be integers in [0, " + tok.vocabSize()
                        + "), got " + v, "prompt");
            }
            ids[i] = v.asInt();
        }
        return ids;
    }

    /** As generate: BOS first when the tokenizer uses one. */
    static int[] encodeWithBos(Tokenizer tok, String text) {
        int[] body = tok.encode(text);
        int bos = tok.bosId();
        if (bos < 0) {
            return body;
        }
        int[] ids = new int[body.length + 1];
        ids[0] = bos;
        System.arraycopy(body, 0, ids, 1, body.length);
        return ids;
    }

    private static int[] chatPrompt(Params p, Tokenizer tok, ChatTemplate template) {
        JsonNode messages = p.raw("messages");
        if (messages == null || !messages.isArray() || messages.isEmpty()) {
            throw ApiException.badRequest("'messages' must be a non-empty array", "messages");
        }
        List<Map<String, Object>> list = new ArrayList<>();
        for (int i = 0; i < messages.size(); i++) {
            String at = "messages[" + i + "].";
            Params m = new Params(messages.get(i), Set.of("role", "content", "name"), at);
            String role = m.string("role");
            if (role == null) {
                throw ApiException.badRequest("'" + at + "role' is required", at + "role");
            }
            if (!Set.of("system", "developer", "user", "assistant").contains(role)) {
                throw ApiException.badRequest("'" + at + "role' must be system, developer, user or assistant, got '"
                        + role + "'", at + "role");
            }
            JsonNode content = m.raw("content");
            String text;
            if (content == null) {
                throw ApiException.badRequest("'" + at + "content' is required", at + "content");
            } else if (content.isTextual()) {
                text = content.asText();
            } else if (content.isArray()) {
                StringBuilder b = new StringBuilder();
                for (int k = 0; k < content.size(); k++) {
                    String pat = at + "content[" + k + "].";
                    Params part = new Params(content.get(k), Set.of("type", "text"), pat);
                    if (!"text".equals(part.string("type"))) {
                        throw ApiException.badRequest("unsupported parameter: " + pat + "type '"
                                + part.string("type") + "' (only text parts)", pat + "type");
                    }
                    String t = part.string("text");
                    b.append(t == null ? "" : t);
                }
                text = b.toString();
            } else {
                throw ApiException.badRequest("'" + at + "content' must be a string or an array of text parts",
                        at + "content");
            }
            Map<String, Object> msg = new java.util.LinkedHashMap<>();
            msg.put("role", role);
            msg.put("content", text);
            String name = m.string("name");
            if (name != null) {
                msg.put("name", name);
            }
            list.add(msg);
        }
        if (template == null) {
            throw ApiException.badRequest("this model has no chat template (no chat_template in its "
                    + "tokenizer_config.json; start the server with --chat-template FILE), so /v1/chat/completions "
                    + "cannot build a prompt; /v1/completions works", "messages", "no_chat_template");
        }
        String rendered = template.render(list);
        // A template that writes the BOS token as text gets the BOS id instead, as Hugging Face's
        // tokenizers map the special token; the rest is encoded like a completion prompt's text.
        String bos = template.bosToken();
        if (!bos.isEmpty() && rendered.startsWith(bos) && tok.bosId() >= 0) {
            return encodeWithBos(tok, rendered.substring(bos.length()));
        }
        return tok.encode(rendered);
    }

    private static List<String> stops(JsonNode stop) {
        if (stop == null) {
            return List.of();
        }
        List<String> out = new ArrayList<>();
        if (stop.isTextual()) {
            out.add(stop.asText());
        } else if (stop.isArray()) {
            for (JsonNode s : stop) {
                if (!s.isTextual()) {
                    throw ApiException.badRequest("'stop' must be a string or an array of strings", "stop");
                }
                out.add(s.asText());
            }
        } else {
            throw ApiException.badRequest("'stop' must be a string or an array of strings", "stop");
        }
        if (out.size() > MAX_STOPS) {
            throw ApiException.badRequest("'stop' takes at most " + MAX_STOPS + " strings, got " + out.size(), "stop");
        }
        out.removeIf(String::isEmpty);
        return out;
    }

    /** The request's early_exit object over the server's defaults; unknown fields are refused. */
    static ExitSpec exitSpec(JsonNode node, ExitSpec defaults) {
        if (node == null) {
            return defaults;
        }
        Params p = new Params(node, EARLY_EXIT_FIELDS, "early_exit.");
        ExitSpec.Mode mode = defaults.mode();
        String m = p.string("mode");
        if (m != null) {
            try {
                mode = ExitSpec.Mode.parse(m);
            } catch (IllegalArgumentException e) {
                throw ApiException.badRequest("'early_exit.mode': " + e.getMessage(), "early_exit.mode");
            }
        }
        Double eps = p.number("epsilon", 0, 1);
        double epsilon = eps == null ? defaults.epsilon() : eps;
        try {
            Calibration.checkEpsilon(epsilon);
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest("'early_exit.epsilon': " + e.getMessage(), "early_exit.epsilon");
        }
        Integer md = p.integer("max_draft", 1, 64);
        return new ExitSpec(mode, epsilon, md == null ? defaults.maxDraft() : md);
    }
}
