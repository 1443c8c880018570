package dev.earlyexit.tokenizer;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A tokenizer as GGUF's {@code tokenizer.ggml.*} metadata, the way llama.cpp's converter writes it and
 * {@link GgufTokenizers} reads it back: SentencePiece ({@code llama}: pieces, scores, token types) or
 * byte-level BPE ({@code gpt2}: tokens in GPT-2's byte alphabet, merges in rank order, the pre-tokenizer's
 * name in {@code tokenizer.ggml.pre}). The token list always has one entry per embedding row, as
 * llama.cpp requires: rows beyond the tokenizer's are {@code [PAD<id>]} tokens of type unused.
 */
public final class GgufVocabulary {
    public static final int TYPE_NORMAL = 1;
    public static final int TYPE_UNKNOWN = 2;
    public static final int TYPE_CONTROL = 3;
    public static final int TYPE_USER_DEFINED = 4;
    public static final int TYPE_UNUSED = 5;
    public static final int TYPE_BYTE = 6;

    private final Map<String, Object> metadata;
    private final boolean synthetic;

    private GgufVocabulary(Map<String, Object> metadata, boolean synthetic) {
        this.metadata = Collections.unmodifiableMap(metadata);
        this.synthetic = synthetic;
    }

    /** The metadata keys and values (GgufWriter's value types), in writing order. */
    public Map<String, Object> metadata() {
        return metadata;
    }

    /** Whether this is {@link #synthetic} (the model had no tokenizer). */
    public boolean synthetic() {
        return synthetic;
    }

    /**
     * {@code tok} for a model of {@code rows} embedding rows whose prompts start with BOS {@code bosId}
     * (-1: none, then the tokenizer's own BOS is still recorded but not added) and end with {@code eosId}
     * (-1: the tokenizer's). Throws IllegalArgumentException, naming what is missing, for a tokenizer
     * llama.cpp could not read the same way.
     */
    public static GgufVocabulary of(Tokenizer tok, int rows, int bosId, int eosId, String chatTemplateOrNull) {
        if (tok.vocabSize() > rows) {
            throw new IllegalArgumentException("the tokenizer has " + tok.vocabSize() + " tokens but the model only "
                    + rows + " rows of embedding");
        }
        Map<String, Object> m = new LinkedHashMap<>();
        if (tok instanceof SentencePieceBpeTokenizer sp) {
            sentencePiece(sp, rows, bosId >= 0, m);
        } else if (tok instanceof HfTokenizer hf) {
            byteLevel(hf, rows, bosId >= 0 ? bosId : hf.bosId(), eosId >= 0 ? eosId : hf.eosId(), bosId >= 0, m);
        } else {
            throw new IllegalArgumentException("writing a " + tok.getClass().getSimpleName()
                    + " tokenizer into GGUF is not supported (SentencePiece and byte-level BPE are)");
        }
        if (chatTemplateOrNull != null) {
            m.put("tokenizer.chat_template", chatTemplateOrNull);
        }
        return new GgufVocabulary(m, false);
    }

    /**
     * A vocabulary for a model without a tokenizer, so that llama.cpp (which needs one) loads the file:
     * byte-level BPE ({@code gpt2}, pre-tokenizer {@code gpt-2}) without merges, so every UTF-8 byte is one
     * token. The model's BOS and EOS ids (when in range) hold control tokens {@code <s>} and
     * {@code </s>} ({@code <|endoftext|>} when they are the same id), the other ids the 256 byte tokens in
     * byte order, then whichever of the control tokens {@code <unk> <s> </s> <|endoftext|>} is not yet
     * there (llama.cpp looks them up by name in a file whose general.name says Phi-3), then
     * {@code [PAD<id>]} unused tokens up to {@code rows}. Byte-level rather than
     * SentencePiece so that any BOS/EOS ids can be kept (GPT-2 and GPT-NeoX use 0 for both; our GGUF
     * SentencePiece reader wants Llama's 0/1/2).
     */
    public static GgufVocabulary synthetic(int rows, int bosId, int eosId) {
        String[] tokens = new String[rows];
        int[] types = new int[rows];
        boolean hasBos = bosId >= 0 && bosId < rows;
        boolean hasEos = eosId >= 0 && eosId < rows;
        if (hasBos) {
            tokens[bosId] = bosId == eosId ? "<|endoftext|>" : "<s>";
            types[bosId] = TYPE_CONTROL;
        }
        if (hasEos && eosId != bosId) {
            tokens[eosId] = "</s>";
            types[eosId] = TYPE_CONTROL;
        }
        // llama.cpp looks these up by name when general.name says Phi-3 (and fails without them)
        java.util.List<String> named = new java.util.ArrayList<>(java.util.List.of("<unk>", "<s>", "</s>", "<|endoftext|>"));
        named.removeIf(t -> java.util.Arrays.asList(tokens).contains(t));
        int nextByte = 0;
        for (int id = 0; id < rows; id++) {
            if (tokens[id] != null) {
                continue;
            }
            if (nextByte < 256) {
                tokens[id] = String.valueOf(ByteLevelAlphabet.charOf(nextByte++));
                types[id] = TYPE_NORMAL;
            } else if (!named.isEmpty()) {
                tokens[id] = named.remove(0);
                types[id] = TYPE_CONTROL;
            } else {
                tokens[id] = "[PAD" + id + "]";
                types[id] = TYPE_UNUSED;
            }
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("tokenizer.ggml.model", "gpt2");
        m.put("tokenizer.ggml.pre", "gpt-2");
        m.put("tokenizer.ggml.tokens", tokens);
        m.put("tokenizer.ggml.token_type", types);
        m.put("tokenizer.ggml.merges", new String[0]);
        if (hasBos) {
            m.put("tokenizer.ggml.bos_token_id", bosId);
        }
        if (hasEos) {
            m.put("tokenizer.ggml.eos_token_id", eosId);
        }
        m.put("tokenizer.ggml.add_bos_token", hasBos);
        return new GgufVocabulary(m, true);
    }

    private static void sentencePiece(SentencePieceBpeTokenizer sp, int rows, boolean addBos, Map<String, Object> m) {
        String[] tokens = new String[rows];
        float[] scores = new float[rows];
        int[] types = new int[rows];
        for (int id = 0; id < rows; id++) {
            if (id >= sp.vocabSize()) {
                tokens[id] = "[PAD" + id + "]";
                scores[id] = -10000f;
                types[id] = TYPE_UNUSED;
                continue;
            }
            tokens[id] = sp.piece(id);
            scores[id] = sp.score(id);
            types[id] = id == sp.unkId() ? TYPE_UNKNOWN : sp.isControlToken(id) ? TYPE_CONTROL
                    : sp.isByteToken(id) ? TYPE_BYTE : TYPE_NORMAL;
        }
        m.put("tokenizer.ggml.model", "llama");
        m.put("tokenizer.ggml.tokens", tokens);
        m.put("tokenizer.ggml.scores", scores);
        m.put("tokenizer.ggml.token_type", types);
        m.put("tokenizer.ggml.bos_token_id", sp.bosId());
        m.put("tokenizer.ggml.eos_token_id", sp.eosId());
        m.put("tokenizer.ggml.unknown_token_id", sp.unkId());
        m.put("tokenizer.ggml.add_bos_token", addBos);
    }

    /** Probe texts for {@link #sentencePieceJson}'s check, besides a sample of the vocabulary's own pieces. */
    private static final String[] PROBES = {"Hello world", "  leading spaces and trailing  ", "Émile & Zoë — naïve café",
            "日本語のテキスト、中文文本", "emoji 🦙🚀 and ZWJ 👩‍👩‍👧", "numbers 1234567 3.14159 -42", "tabs\tand\nnewlines",
            "Ελληνικά Русский עברית العربية", "The quick brown fox jumps over the lazy dog."};

    /**
     * A SentencePiece-style tokenizer.json (BPE with byte fallback, '▁' for spaces: Llama 2, TinyLlama,
     * Mistral) as a {@code llama} vocabulary. A tokenizer.json has merges but no scores, and SentencePiece
     * (llama.cpp's {@code llama} tokenizer) merges by score: each piece scores minus the rank of the first
     * merge that forms it (pieces no merge forms score below all of them), so that the highest score is
     * the earliest merge. (llama.cpp's converter gives every piece -1000 here, which leaves the merge order
     * to chance.) The result is checked: the SentencePiece tokenizer these pieces and scores make must
     * tokenize probe texts and a sample of the vocabulary's pieces as the tokenizer.json does.
     */
    private static void sentencePieceJson(HfTokenizer hf, int rows, boolean addBos, Map<String, Object> m) {
        BpeModel bpe = hf.bpeModel();
        int n = hf.vocabSize();
        String[] special = {"<unk>", "<s>", "</s>"};
        for (int id = 0; id < 3; id++) {
            if (n <= id || !special[id].equals(hf.token(id))) {
                throw new IllegalArgumentException("writing this SentencePiece-style tokenizer.json into GGUF is not supported: "
                        + "ids 0, 1, 2 must be <unk>, <s>, </s> (as in Llama)");
            }
        }
        int[] rank = bpe.firstMergeRanks();
        int maxRank = 0;
        for (int r : rank) {
            maxRank = Math.max(maxRank, r);
        }
        java.util.Set<Integer> addedIds = new java.util.HashSet<>();
        for (AddedTokens.Token t : hf.addedTokens()) {
            addedIds.add(t.id());
        }
        String[] tokens = new String[rows];
        float[] scores = new float[rows];
        int[] types = new int[rows];
        for (int id = 0; id < rows; id++) {
            if (id >= n) {
                tokens[id] = "[PAD" + id + "]";
                scores[id] = -1e9f;
                types[id] = TYPE_UNUSED;
                continue;
            }
            String t = hf.token(id);
            tokens[id] = t;
            boolean isByte = t.length() == 6 && t.startsWith("<0x") && t.endsWith(">");
            types[id] = id == 0 ? TYPE_UNKNOWN : id < 3 || addedIds.contains(id) ? TYPE_CONTROL : isByte ? TYPE_BYTE : TYPE_NORMAL;
            boolean formed = id < rank.length && rank[id] >= 0;
            scores[id] = types[id] != TYPE_NORMAL ? 0f : formed ? -rank[id] : t.codePointCount(0, t.length()) == 1 ? 0f : -(maxRank + 1f);
        }
        SentencePieceBpeTokenizer sp = SentencePieceBpeTokenizer.fromPieces(java.util.Arrays.copyOf(tokens, n),
                java.util.Arrays.copyOf(scores, n));
        HfTokenizer plain = hf.withSpecialTokensAsText(true);
        java.util.List<String> probes = new java.util.ArrayList<>(java.util.List.of(PROBES));
        for (int id = 3; id < n; id += 7) {
            if (types[id] == TYPE_NORMAL) {
                probes.add(tokens[id].replace(SentencePieceBpeTokenizer.SPACE_SYMBOL, ' ') + " x");
            }
        }
        for (String probe : probes) {
            if (!java.util.Arrays.equals(sp.encode(probe), plain.encode(probe))) {
                throw new IllegalArgumentException("writing this SentencePiece-style tokenizer.json into GGUF is not supported: "
                        + "as SentencePiece pieces and scores it tokenizes \"" + probe + "\" as "
                        + java.util.Arrays.toString(sp.encode(probe)) + ", the tokenizer.json as "
                        + java.util.Arrays.toString(plain.encode(probe)));
            }
        }
        m.put("tokenizer.ggml.model", "llama");
        m.put("tokenizer.ggml.pre", "default");
        m.put("tokenizer.ggml.tokens", tokens);
        m.put("tokenizer.ggml.scores", scores);
        m.put("tokenizer.ggml.token_type", types);
        m.put("tokenizer.ggml.bos_token_id", 1);
        m.put("tokenizer.ggml.eos_token_id", 2);
        m.put("tokenizer.ggml.unknown_token_id", 0);
        m.put("tokenizer.ggml.add_bos_token", addBos);
    }

    private static void byteLevel(HfTokenizer hf, int rows, int bos, int eos, boolean addBos, Map<String, Object> m) {
        HfTokenizer.PreTokenizerKind kind = hf.preTokenizerKind();
        if (!kind.byteLevel()) {
            if (!hf.bpeModel().byteFallback()) {
                throw new IllegalArgumentException("writing this tokenizer.json into GGUF is not supported: it is neither "
                        + "byte-level BPE (GPT-2, Llama 3, Qwen2/3) nor SentencePiece-style BPE with byte fallback (Llama 2; "
                        + kind.description() + ")");
            }
            sentencePieceJson(hf, rows, addBos, m);
            return;
        }
        if (kind.ggufPre() == null) {
            throw new IllegalArgumentException("writing this byte-level tokenizer into GGUF is not supported: its "
                    + kind.description() + " is none of the splits llama.cpp names llama-bpe (Llama 3), qwen2 "
                    + "(Qwen2/3) or gpt-2");
        }
        BpeModel bpe = hf.bpeModel();
        if (bpe.byteFallback()) {
            throw new IllegalArgumentException("writing a byte-level tokenizer with byte_fallback into GGUF is not supported");
        }
        String[] tokens = new String[rows];
        int[] types = new int[rows];
        for (int id = 0; id < rows; id++) {
            String t = bpe.idToToken(id);
            tokens[id] = t;
            types[id] = t == null ? TYPE_UNUSED : TYPE_NORMAL;
        }
        for (AddedTokens.Token t : hf.addedTokens()) {
            tokens[t.id()] = t.content();
            // as llama.cpp's converter: an added token written <|...|> is a control token even when not flagged
            // special (Qwen's <|fim_prefix|> ...; llama.cpp would otherwise override some of them on load)
            boolean looksSpecial = t.content().startsWith("<|") && t.content().endsWith("|>");
            types[t.id()] = t.special() || looksSpecial ? TYPE_CONTROL : TYPE_USER_DEFINED;
        }
        for (int id = 0; id < rows; id++) {
            if (tokens[id] == null) {
                tokens[id] = "[PAD" + id + "]";
            }
        }
        m.put("tokenizer.ggml.model", "gpt2");
        m.put("tokenizer.ggml.pre", kind.ggufPre());
        m.put("tokenizer.ggml.tokens", tokens);
        m.put("tokenizer.ggml.token_type", types);
        m.put("tokenizer.ggml.merges", bpe.mergesInRankOrder());
        if (bos >= 0) {
            m.put("tokenizer.ggml.bos_token_id", bos);
        }
        if (eos >= 0) {
            m.put("tokenizer.ggml.eos_token_id", eos);
        }
        m.put("tokenizer.ggml.add_bos_token", addBos && bos >= 0);
    }
}
