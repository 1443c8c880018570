package dev.earlyexit.tokenizer;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.earlyexit.format.ModelFormatException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * A Hugging Face tokenizer.json with a BPE model: SentencePiece-style vocabularies with byte fallback
 * (Llama-2, TinyLlama) and byte-level BPE (GPT-2, Llama-3, Qwen2/3). Encoding follows the tokenizers
 * library: added tokens are split off the raw text, each remaining piece is normalized (added tokens
 * flagged {@code normalized} are then split off the normalized text), pre-tokenized, and BPE-encoded
 * word by word. Decoding passes added tokens through the decoder like any token (skip_special_tokens
 * false), so decode inverts encode.
 */
public final class HfTokenizer implements Tokenizer {
    private static final Set<String> BOS_NAMES = Set.of("<s>", "<|begin_of_text|>", "<bos>", "<|startoftext|>");
    private static final Set<String> EOS_NAMES = Set.of("</s>", "<|end_of_text|>", "<eos>", "<|endoftext|>");

    private final BpeModel model;
    private final UnaryOperator<String> normalizer;
    private final HfPreTokenizer preTokenizer;
    private final HfDecoder decoder;
    private final AddedTokens rawAddedTokens;
    private final AddedTokens normalizedAddedTokens;
    private final Map<Integer, String> addedById;
    private final int vocabSize;
    private final int bosId;
    private final int eosId;
    private final boolean specialTokensAsText;
    /** The added tokens as tokenizer.json lists them (content not normalized). */
    private final List<AddedTokens.Token> addedTokens;
    /** What the pre-tokenizer is, in llama.cpp's terms (for writing the tokenizer into GGUF). */
    private final PreTokenizerKind preKind;

    /**
     * The pre-tokenizer in llama.cpp's terms: {@code byteLevel} when it maps bytes to GPT-2's alphabet
     * (a ByteLevel step), {@code ggufPre} the {@code tokenizer.ggml.pre} name of its split when it is one
     * llama.cpp knows (null otherwise), {@code description} the split regexes for error messages.
     */
    record PreTokenizerKind(boolean byteLevel, String ggufPre, String description) {
    }

    private HfTokenizer(BpeModel model, UnaryOperator<String> normalizer, HfPreTokenizer preTokenizer,
                        HfDecoder decoder, AddedTokens rawAddedTokens, AddedTokens normalizedAddedTokens,
                        Map<Integer, String> addedById, int vocabSize, int bosId, int eosId,
                        boolean specialTokensAsText, List<AddedTokens.Token> addedTokens, PreTokenizerKind preKind) {
        this.model = model;
        this.normalizer = normalizer;
        this.preTokenizer = preTokenizer;
        this.decoder = decoder;
        this.rawAddedTokens = rawAddedTokens;
        this.normalizedAddedTokens = normalizedAddedTokens;
        this.addedById = addedById;
        this.vocabSize = vocabSize;
        this.bosId = bosId;
        this.eosId = eosId;
        this.specialTokensAsText = specialTokensAsText;
        this.addedTokens = List.copyOf(addedTokens);
        this.preKind = preKind;
    }

    public static HfTokenizer load(Path file) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(file.toFile());
        } catch (JsonProcessingException e) {
            throw new ModelFormatException(file + ": malformed tokenizer.json: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new ModelFormatException(file + ": cannot read tokenizer.json: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new ModelFormatException(file + ": malformed tokenizer.json: not a JSON object");
        }
        return fromJson(root, file.toString());
    }

    /** {@code source} names the file in error messages. */
    static HfTokenizer fromJson(JsonNode root, String source) {
        HfJson json = new HfJson(source);
        return fromJson(root, json, BpeModel.fromJson(json.required(root, "model", "tokenizer.json"), json));
    }

    /** The tokenizer around a model built elsewhere (a GGUF's arrays); root's "model" is not read. */
    static HfTokenizer fromJson(JsonNode root, HfJson json, BpeModel model) {
        UnaryOperator<String> normalizer = HfNormalizers.fromJson(root.get("normalizer"), json);
        HfPreTokenizer preTokenizer = HfPreTokenizer.fromJson(root.get("pre_tokenizer"), json);
        HfDecoder decoder = HfDecoder.fromJson(root.get("decoder"), json);

        List<AddedTokens.Token> raw = new ArrayList<>();
        List<AddedTokens.Token> normalized = new ArrayList<>();
        List<AddedTokens.Token> all = new ArrayList<>();
        Map<Integer, String> addedById = new HashMap<>();
        Map<String, Integer> specialIds = new HashMap<>();
        int maxId = model.maxId();
        JsonNode added = root.get("added_tokens");
        if (added != null && !added.isNull()) {
            if (!added.isArray()) {
                throw json.error("\"added_tokens\" is not an array");
            }
            for (JsonNode t : added) {
                JsonNode idNode = json.required(t, "id", "added token");
                if (!idNode.canConvertToInt() || idNode.asInt() < 0) {
                    throw json.error("added token id " + idNode + " is not a non-negative int");
                }
                AddedTokens.Token token = new AddedTokens.Token(idNode.asInt(), json.text(t, "content", "added token"),
                        t.path("special").asBoolean(false), t.path("single_word").asBoolean(false),
                        t.path("lstrip").asBoolean(false), t.path("rstrip").asBoolean(false),
                        t.path("normalized").asBoolean(!t.path("special").asBoolean(false)));
                all.add(token);
                if (token.normalized()) {
                    // HF matches these in normalized text, so their content is normalized too.
                    normalized.add(new AddedTokens.Token(token.id(), normalizer.apply(token.content()), token.special(),
                            token.singleWord(), token.lstrip(), token.rstrip(), true));
                } else {
                    raw.add(token);
                }
                addedById.put(token.id(), token.content());
                if (token.special()) {
                    specialIds.put(token.content(), token.id());
                }
                maxId = Math.max(maxId, token.id());
            }
        }
        int bos = templateBos(root.get("post_processor"), specialIds, model);
        if (bos < 0) {
            bos = byName(specialIds, BOS_NAMES);
        }
        int eos = byName(specialIds, EOS_NAMES);
        return new HfTokenizer(model, normalizer, preTokenizer, decoder, new AddedTokens(raw), new AddedTokens(normalized),
                addedById, maxId + 1, bos, eos, false, all, preTokenizerKind(root.get("pre_tokenizer")));
    }

    /** Llama 3's split regex as tokenizer.json writes it (llama.cpp's pre-tokenizer "llama-bpe"). */
    static final String LLAMA3_REGEX = GgufTokenizers.LLAMA3_SPLIT;
    /** Qwen2's (and Qwen3's): Llama 3's with digits one at a time (llama.cpp's "qwen2"). */
    static final String QWEN2_REGEX = GgufTokenizers.QWEN2_SPLIT;

    /**
     * Names the pre-tokenizer as llama.cpp does. llama.cpp's converter hashes the tokens of a test text
     * to recognise a tokenizer; we compare the split regex itself, which is what decides the split:
     * Llama 3's regex then ByteLevel without its own regex is "llama-bpe", Qwen2's "qwen2", and a lone
     * ByteLevel with GPT-2's built-in regex (no prefix space) "gpt-2".
     */
    static PreTokenizerKind preTokenizerKind(JsonNode pre) {
        List<String> regexes = new ArrayList<>();
        List<String> others = new ArrayList<>();
        boolean[] byteLevel = new boolean[1];
        boolean[] byteLevelRegex = new boolean[1];
        boolean[] prefixSpace = new boolean[1];
        collect(pre, regexes, others, byteLevel, byteLevelRegex, prefixSpace);
        String description = "pre-tokenizer " + (pre == null || pre.isNull() ? "none" : pre.path("type").asText())
                + (regexes.isEmpty() ? "" : " with split regex " + String.join(", ", regexes))
                + (byteLevelRegex[0] ? " (ByteLevel with GPT-2's regex)" : "")
                + (others.isEmpty() ? "" : " and steps " + others)
                + (prefixSpace[0] ? " (add_prefix_space)" : "");
        String name = null;
        if (byteLevel[0] && others.isEmpty() && !prefixSpace[0]) {
            if (regexes.isEmpty() && byteLevelRegex[0]) {
                name = "gpt-2";
            } else if (regexes.size() == 1 && !byteLevelRegex[0]) {
                name = regexes.get(0).equals(LLAMA3_REGEX) ? "llama-bpe" : regexes.get(0).equals(QWEN2_REGEX) ? "qwen2" : null;
            }
        }
        return new PreTokenizerKind(byteLevel[0], name, description);
    }

    private static void collect(JsonNode node, List<String> regexes, List<String> others, boolean[] byteLevel,
                                boolean[] byteLevelRegex, boolean[] prefixSpace) {
        if (node == null || node.isNull()) {
            return;
        }
        switch (node.path("type").asText()) {
            case "Sequence" -> {
                for (JsonNode child : node.path("pretokenizers")) {
                    collect(child, regexes, others, byteLevel, byteLevelRegex, prefixSpace);
                }
            }
            case "Split" -> {
                JsonNode p = node.path("pattern");
                boolean isolated = "Isolated".equals(node.path("behavior").asText()) && !node.path("invert").asBoolean(false);
                if (p.hasNonNull("Regex") && isolated) {
                    regexes.add(p.get("Regex").asText());
                } else {
                    others.add("Split " + p + " " + node.path("behavior").asText());
                }
            }
            case "ByteLevel" -> {
                byteLevel[0] = true;
                byteLevelRegex[0] |= node.path("use_regex").asBoolean(true);
                prefixSpace[0] |= node.path("add_prefix_space").asBoolean(false);
            }
            default -> others.add(node.path("type").asText());
        }
    }

    PreTokenizerKind preTokenizerKind() {
        return preKind;
    }

    BpeModel bpeModel() {
        return model;
    }

    List<AddedTokens.Token> addedTokens() {
        return addedTokens;
    }

    /** BOS from a TemplateProcessing post-processor whose single-sequence template starts with a special token. */
    private static int templateBos(JsonNode post, Map<String, Integer> specialIds, BpeModel model) {
        if (post == null || post.isNull()) {
            return -1;
        }
        if ("Sequence".equals(post.path("type").asText())) {
            for (JsonNode p : post.path("processors")) {
                int bos = templateBos(p, specialIds, model);
                if (bos >= 0) {
                    return bos;
                }
            }
            return -1;
        }
        if (!"TemplateProcessing".equals(post.path("type").asText())) {
            return -1;
        }
        JsonNode first = post.path("single").path(0).path("SpecialToken");
        if (first.isMissingNode()) {
            return -1;
        }
        String name = first.path("id").asText();
        JsonNode ids = post.path("special_tokens").path(name).path("ids");
        if (ids.isArray() && ids.size() == 1) {
            return ids.get(0).asInt();
        }
        Integer id = specialIds.get(name);
        if (id == null) {
            id = model.tokenToId(name);
        }
        return id == null ? -1 : id;
    }

    private static int byName(Map<String, Integer> specialIds, Set<String> names) {
        for (Map.Entry<String, Integer> e : specialIds.entrySet()) {
            if (names.contains(e.getKey())) {
                return e.getValue();
            }
        }
        return -1;
    }

    /** This tokenizer with BOS/EOS ids from elsewhere (config.json); -1 for none. */
    public HfTokenizer withSpecialIds(int bosId, int eosId) {
        return new HfTokenizer(model, normalizer, preTokenizer, decoder, rawAddedTokens, normalizedAddedTokens,
                addedById, vocabSize, bosId, eosId, specialTokensAsText, addedTokens, preKind);
    }

    /**
     * This tokenizer, encoding special tokens' text (e.g. "&lt;s&gt;" typed by a user) as ordinary text
     * instead of as the special token, as HF's encode_special_tokens and SentencePiece do.
     */
    public HfTokenizer withSpecialTokensAsText(boolean asText) {
        return new HfTokenizer(model, normalizer, preTokenizer, decoder, rawAddedTokens, normalizedAddedTokens,
                addedById, vocabSize, bosId, eosId, asText, addedTokens, preKind);
    }

    @Override
    public int[] encode(String text) {
        IntList ids = new IntList(text.length() / 3 + 1);
        for (AddedTokens.Segment raw : rawAddedTokens.split(text, 0, !specialTokensAsText)) {
            if (raw.id() >= 0) {
                ids.add(raw.id());
                continue;
            }
            String normalized = normalizer.apply(raw.text());
            for (AddedTokens.Segment seg : normalizedAddedTokens.split(normalized, raw.start(), !specialTokensAsText)) {
                if (seg.id() >= 0) {
                    ids.add(seg.id());
                    continue;
                }
                for (String word : preTokenizer.split(List.of(seg.text()), seg.start() == 0)) {
                    model.encodeWord(word, ids);
                }
            }
        }
        return ids.toArray();
    }

    @Override
    public String decode(int[] ids) {
        return newDecoder().decodeAll(ids);
    }

    @Override
    public StreamDecoder streamDecoder() {
        return newDecoder();
    }

    private ByteStreamDecoder newDecoder() {
        return new ByteStreamDecoder(decoder.perByteReplacement(), decoder.stripChar(), decoder.stripCount()) {
            @Override
            protected byte[] tokenBytes(int id, boolean atStart) {
                return decoder.tokenBytes(token(id));
            }
        };
    }

    /** The token string of id (an added token's content, else the model's token). */
    public String token(int id) {
        String t = addedById.get(id);
        if (t == null) {
            t = model.idToToken(id);
        }
        if (t == null) {
            throw new IllegalArgumentException("token id " + id + " is not in the vocabulary (size " + vocabSize + ")");
        }
        return t;
    }

    @Override
    public int vocabSize() {
        return vocabSize;
    }

    @Override
    public int bosId() {
        return bosId;
    }

    @Override
    public int eosId() {
        return eosId;
    }
}
