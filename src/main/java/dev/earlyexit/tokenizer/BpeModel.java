package dev.earlyexit.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.HashMap;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.concurrent.ConcurrentHashMap;

/**
 * tokenizer.json's BPE model: rank-ordered merges on the characters of each pre-tokenized word,
 * byte fallback to {@code <0xXX>} tokens and {@code <unk>} (fused when fuse_unk) for characters
 * outside the vocabulary, as the Hugging Face tokenizers library applies them.
 */
final class BpeModel {
    private static final int CACHE_LIMIT = 100_000;
    private static final int CACHED_WORD_LIMIT = 256;

    private final Map<String, Integer> vocab;
    private final String[] idToToken;
    private final MergeTable merges;
    private final boolean byteFallback;
    private final int unkId;
    private final boolean fuseUnk;
    private final boolean ignoreMerges;
    private final int[] byteIds = new int[256];
    private final Map<String, int[]> cache = new ConcurrentHashMap<>();

    private BpeModel(Map<String, Integer> vocab, MergeTable merges, boolean byteFallback, int unkId,
                     boolean fuseUnk, boolean ignoreMerges) {
        this.vocab = vocab;
        this.merges = merges;
        this.byteFallback = byteFallback;
        this.unkId = unkId;
        this.fuseUnk = fuseUnk;
        this.ignoreMerges = ignoreMerges;
        int max = vocab.values().stream().mapToInt(Integer::intValue).max().orElse(-1);
        this.idToToken = new String[max + 1];
        vocab.forEach((token, id) -> idToToken[id] = token);
        for (int b = 0; b < 256; b++) {
            byteIds[b] = vocab.getOrDefault(String.format("<0x%02X>", b), -1);
        }
    }

    static BpeModel fromJson(JsonNode model, HfJson json) {
        String type = json.type(model, "model");
        if (!type.equals("BPE")) {
            throw json.unsupported("model", type);
        }
        for (String affix : new String[]{"continuing_subword_prefix", "end_of_word_suffix"}) {
            if (model.hasNonNull(affix) && !model.get(affix).asText().isEmpty()) {
                throw json.error("BPE " + affix + " \"" + model.get(affix).asText() + "\" is not supported");
            }
        }
        if (model.hasNonNull("dropout") && model.get("dropout").asDouble() > 0) {
            throw json.error("BPE dropout " + model.get("dropout").asDouble() + " is not supported (it makes encoding random)");
        }
        JsonNode vocabNode = json.required(model, "vocab", "BPE model");
        if (!vocabNode.isObject()) {
            throw json.error("BPE model: \"vocab\" is not an object");
        }
        Map<String, Integer> vocab = new HashMap<>(vocabNode.size() * 2);
        for (Map.Entry<String, JsonNode> e : vocabNode.properties()) {
            if (!e.getValue().canConvertToInt() || e.getValue().asInt() < 0) {
                throw json.error("BPE vocab: id of \"" + e.getKey() + "\" is not a non-negative int");
            }
            vocab.put(e.getKey(), e.getValue().asInt());
        }
        // ids index an array: one far past the entries would make a file of a few bytes allocate gigabytes
        int maxId = vocab.values().stream().mapToInt(Integer::intValue).max().orElse(-1);
        if (maxId >= 2L * vocab.size() + 1024) {
            throw json.error("BPE vocab: id " + maxId + " is far past the vocab's " + vocab.size() + " entries");
        }
        JsonNode mergesNode = json.required(model, "merges", "BPE model");
        MergeTable merges = new MergeTable(mergesNode.size());
        int rank = 0;
        for (JsonNode m : mergesNode) {
            String left;
            String right;
            if (m.isTextual()) { // "a b"
                String s = m.asText();
                int space = s.indexOf(' ', 1);
                if (space < 0) {
                    throw json.error("BPE merge " + rank + " \"" + s + "\" is not two tokens separated by a space");
                }
                left = s.substring(0, space);
                right = s.substring(space + 1);
            } else if (m.isArray() && m.size() == 2) { // ["a", "b"]
                left = m.get(0).asText();
                right = m.get(1).asText();
            } else {
                throw json.error("BPE merge " + rank + " is neither \"a b\" nor [a, b]: " + m);
            }
            addMerge(vocab, merges, rank, left, right, json);
            rank++;
        }
        int unkId = -1;
        if (model.hasNonNull("unk_token")) {
            String unk = model.get("unk_token").asText();
            Integer id = vocab.get(unk);
            if (id == null) {
                throw json.error("BPE unk_token \"" + unk + "\" is not in the vocab");
            }
            unkId = id;
        }
        return new BpeModel(vocab, merges, model.path("byte_fallback").asBoolean(false), unkId,
                model.path("fuse_unk").asBoolean(false), model.path("ignore_merges").asBoolean(false));
    }

    private static void addMerge(Map<String, Integer> vocab, MergeTable merges, int rank, String left, String right,
                                 HfJson json) {
        Integer l = vocab.get(left);
        Integer r = vocab.get(right);
        Integer merged = vocab.get(left + right);
        if (l == null || r == null || merged == null) {
            throw json.error("BPE merge " + rank + " (" + left + ", " + right + ") uses a token not in the vocab");
        }
        merges.putIfAbsent(l, r, rank, merged);
    }

    /**
     * A byte-level BPE model from a GGUF's arrays (token i has id i; merges "a b" in rank order), without
     * the JSON detour: a real vocabulary would make a million tree nodes just to be read back.
     */
    static BpeModel fromArrays(String[] tokens, String[] mergeLines, boolean ignoreMerges, HfJson json) {
        Map<String, Integer> vocab = new HashMap<>(tokens.length * 2);
        for (int id = 0; id < tokens.length; id++) {
            vocab.put(tokens[id], id); // a repeated token keeps its last id, as llama.cpp's map does
        }
        MergeTable merges = new MergeTable(mergeLines.length);
        for (int rank = 0; rank < mergeLines.length; rank++) {
            String s = mergeLines[rank];
            int space = s.indexOf(' ', 1);
            if (space < 0) {
                throw json.error("BPE merge " + rank + " \"" + s + "\" is not two tokens separated by a space");
            }
            addMerge(vocab, merges, rank, s.substring(0, space), s.substring(space + 1), json);
        }
        return new BpeModel(vocab, merges, false, -1, false, ignoreMerges);
    }

    Integer tokenToId(String token) {
        return vocab.get(token);
    }

    /** The token of id, or null when the model has none. */
    String idToToken(int id) {
        return id >= 0 && id < idToToken.length ? idToToken[id] : null;
    }

    int maxId() {
        return idToToken.length - 1;
    }

    boolean byteFallback() {
        return byteFallback;
    }

    /** For each id, the rank of the first merge that forms it, or -1 when no merge does. */
    int[] firstMergeRanks() {
        int[] rank = new int[idToToken.length];
        java.util.Arrays.fill(rank, -1);
        merges.forEach((left, right, r, merged) -> {
            if (rank[merged] < 0 || r < rank[merged]) {
                rank[merged] = r;
            }
        });
        return rank;
    }

    int unkId() {
        return unkId;
    }

    /** The merges as "left right", lowest rank first (duplicates of an earlier pair left out). */
    String[] mergesInRankOrder() {
        long[][] byRank = new long[merges.size()][];
        int[] i = {0};
        merges.forEach((left, right, r, merged) -> byRank[i[0]++] = new long[]{r, left, right});
        java.util.Arrays.sort(byRank, (a, b) -> Long.compare(a[0], b[0]));
        String[] out = new String[byRank.length];
        for (int k = 0; k < out.length; k++) {
            out[k] = idToToken[(int) byRank[k][1]] + " " + idToToken[(int) byRank[k][2]];
        }
        return out;
    }

    void encodeWord(String word, IntList out) {
        if (word.isEmpty()) {
            return;
        }
        int[] ids = cache.get(word);
        if (ids == null) {
            ids = merge(word);
            if (word.length() > CACHED_WORD_LIMIT) {
                out.addAll(ids); // a vocabulary without pre-tokenizer makes the whole text one word: not worth caching
                return;
            }
            if (cache.size() >= CACHE_LIMIT) {
                cache.clear();
            }
            cache.put(word, ids);
        }
        out.addAll(ids);
    }

    private int[] merge(String word) {
        if (ignoreMerges) {
            Integer whole = vocab.get(word);
            if (whole != null) {
                return new int[]{whole};
            }
        }
        // Initial symbols: one per character, or per UTF-8 byte of a character outside the vocab.
        IntList symbols = new IntList(word.length());
        boolean lastWasUnk = false;
        for (int i = 0; i < word.length(); ) {
            int cp = word.codePointAt(i);
            String ch = word.substring(i, i + Character.charCount(cp));
            i += ch.length();
            Integer id = vocab.get(ch);
            if (id != null) {
                symbols.add(id);
                lastWasUnk = false;
                continue;
            }
            if (byteFallback && allBytesInVocab(ch)) {
                for (byte b : ch.getBytes(java.nio.charset.StandardCharsets.UTF_8)) {
                    symbols.add(byteIds[b & 0xFF]);
                }
                lastWasUnk = false;
                continue;
            }
            if (unkId >= 0 && !(fuseUnk && lastWasUnk)) {
                symbols.add(unkId);
            }
            lastWasUnk = unkId >= 0;
        }
        int[] id = symbols.toArray();
        int n = id.length;
        int[] next = new int[n];
        int[] prev = new int[n];
        boolean[] dead = new boolean[n];
        for (int i = 0; i < n; i++) {
            next[i] = i + 1 < n ? i + 1 : -1;
            prev[i] = i - 1;
        }
        // Entries: rank, left index, left id, right id; lowest rank first, then leftmost.
        PriorityQueue<long[]> queue = new PriorityQueue<>((a, b) -> a[0] != b[0] ? Long.compare(a[0], b[0]) : Long.compare(a[1], b[1]));
        for (int i = 0; i + 1 < n; i++) {
            offer(queue, id, i, i + 1);
        }
        while (!queue.isEmpty()) {
            long[] top = queue.poll();
            int left = (int) top[1];
            int right = dead[left] ? -1 : next[left];
            if (right < 0 || id[left] != (int) top[2] || id[right] != (int) top[3]) {
                continue; // stale: a neighbour changed since the pair was queued
            }
            id[left] = (int) (merges.get(id[left], id[right]) & 0xFFFFFFFFL);
            dead[right] = true;
            next[left] = next[right];
            if (next[right] >= 0) {
                prev[next[right]] = left;
            }
            if (prev[left] >= 0) {
                offer(queue, id, prev[left], left);
            }
            if (next[left] >= 0) {
                offer(queue, id, left, next[left]);
            }
        }
        IntList result = new IntList(n);
        for (int i = 0; i >= 0 && n > 0; i = next[i]) {
            result.add(id[i]);
        }
        return result.toArray();
    }

    private boolean allBytesInVocab(String ch) {
        for (byte b : ch.getBytes(java.nio.charset.StandardCharsets.UTF_8)) {
            if (byteIds[b & 0xFF] < 0) {
                return false;
            }
        }
        return true;
    }

    private void offer(PriorityQueue<long[]> queue, int[] id, int left, int right) {
        long m = merges.get(id[left], id[right]);
        if (m >= 0) {
            queue.add(new long[]{m >>> 32, left, id[left], id[right]});
        }
    }
}
