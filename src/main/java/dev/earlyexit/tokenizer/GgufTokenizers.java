package dev.earlyexit.tokenizer;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.earlyexit.format.GgufFile;
import dev.earlyexit.format.ModelFormatException;

/**
 * The tokenizer a GGUF file describes in its {@code tokenizer.ggml.*} metadata, built on the project's
 * own tokenizers: {@code llama} is SentencePiece BPE, {@code gpt2} byte-level BPE with the pre-tokenizer
 * that {@code tokenizer.ggml.pre} names (given to {@link HfTokenizer} as the tokenizer.json it stands for).
 */
public final class GgufTokenizers {
    /** Llama 3's split (llama.cpp's "llama-bpe"). */
    static final String LLAMA3_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    /** Qwen2's split: as Llama 3's, but digits one by one. */
    static final String QWEN2_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    private static final int TYPE_CONTROL = 3;
    private static final int TYPE_USER_DEFINED = 4;

    private GgufTokenizers() {
    }

    /** The file's tokenizer, or null when it has none. */
    public static Tokenizer load(GgufFile f) {
        String model = f.string("tokenizer.ggml.model").orElse(null);
        if (model == null) {
            return null;
        }
        String[] tokens = f.array("tokenizer.ggml.tokens", String[].class).orElseThrow(() ->
                new ModelFormatException(f.path() + ": GGUF tokenizer " + model + " lacks tokenizer.ggml.tokens"));
        switch (model) {
            case "llama": {
                float[] scores = f.array("tokenizer.ggml.scores", float[].class).orElseThrow(() ->
                        new ModelFormatException(f.path() + ": GGUF SentencePiece tokenizer lacks tokenizer.ggml.scores"));
                if (scores.length != tokens.length) {
                    throw new ModelFormatException(f.path() + ": GGUF tokenizer has " + tokens.length + " tokens but "
                            + scores.length + " scores");
                }
                long bos = f.integer("tokenizer.ggml.bos_token_id", 1);
                long eos = f.integer("tokenizer.ggml.eos_token_id", 2);
                long unk = f.integer("tokenizer.ggml.unknown_token_id", 0);
                if (bos != 1 || eos != 2 || unk != 0) {
                    throw new ModelFormatException(f.path() + ": GGUF SentencePiece tokenizer with <unk>/BOS/EOS ids "
                            + unk + "/" + bos + "/" + eos + " is not supported (only Llama's 0/1/2)");
                }
                return SentencePieceBpeTokenizer.fromPieces(tokens, scores);
            }
            case "gpt2":
                return byteLevel(f, tokens);
            default:
                throw new ModelFormatException(f.path() + ": GGUF tokenizer model \"" + model
                        + "\" is not supported (llama and gpt2 are)");
        }
    }

    /**
     * The byte-level BPE tokenizer as the tokenizer.json it was converted from would describe it: the
     * vocabulary and merges straight from the arrays, the rest (added tokens, pre-tokenizer, decoder,
     * BOS) as a small JSON document through the same reader as tokenizer.json.
     */
    private static Tokenizer byteLevel(GgufFile f, String[] tokens) {
        String[] merges = f.array("tokenizer.ggml.merges", String[].class).orElseThrow(() ->
                new ModelFormatException(f.path() + ": GGUF byte-level BPE tokenizer lacks tokenizer.ggml.merges"));
        String pre = f.string("tokenizer.ggml.pre").orElse("default");
        HfJson json = new HfJson(f.path().toString());
        BpeModel model = BpeModel.fromArrays(tokens, merges, pre.equals("llama-bpe"), json);
        return HfTokenizer.fromJson(byteLevelJson(f, tokens, pre), json, model);
    }

    private static ObjectNode byteLevelJson(GgufFile f, String[] tokens, String pre) {
        long[] types = f.array("tokenizer.ggml.token_type", long[].class).orElse(null);
        if (types != null && types.length != tokens.length) {
            throw new ModelFormatException(f.path() + ": GGUF tokenizer has " + tokens.length + " tokens but "
                    + types.length + " token types");
        }
        ObjectMapper m = new ObjectMapper();
        ObjectNode root = m.createObjectNode();
        ArrayNode added = root.putArray("added_tokens");
        for (int id = 0; id < tokens.length; id++) {
            int type = types == null ? 1 : (int) types[id];
            if (type == TYPE_CONTROL || type == TYPE_USER_DEFINED) {
                ObjectNode t = added.addObject();
                t.put("id", id);
                t.put("content", tokens[id]);
                t.put("special", type == TYPE_CONTROL);
                t.put("normalized", false);
            }
        }
        ObjectNode preTok = root.putObject("pre_tokenizer");
        String split = switch (pre) {
            case "llama-bpe", "llama3", "smaug-bpe" -> LLAMA3_SPLIT;
            case "qwen2" -> QWEN2_SPLIT;
            case "gpt-2", "default", "gpt2" -> null;
            default -> throw new ModelFormatException(f.path() + ": GGUF pre-tokenizer \"" + pre
                    + "\" is not supported (llama-bpe, qwen2, gpt-2 and default are)");
        };
        if (split == null) {
            preTok.put("type", "ByteLevel");
            preTok.put("add_prefix_space", false);
            preTok.put("use_regex", true);
        } else {
            preTok.put("type", "Sequence");
            ArrayNode steps = preTok.putArray("pretokenizers");
            ObjectNode s = steps.addObject();
            s.put("type", "Split");
            s.putObject("pattern").put("Regex", split);
            s.put("behavior", "Isolated");
            s.put("invert", false);
            ObjectNode bl = steps.addObject();
            bl.put("type", "ByteLevel");
            bl.put("add_prefix_space", false);
            bl.put("use_regex", false);
        }
        root.putObject("decoder").put("type", "ByteLevel");
        if (f.bool("tokenizer.ggml.add_bos_token", false) && f.value("tokenizer.ggml.bos_token_id").isPresent()) {
            long bos = f.integer("tokenizer.ggml.bos_token_id");
            if (bos < 0 || bos >= tokens.length) {
                throw new ModelFormatException(f.path() + ": tokenizer.ggml.bos_token_id " + bos + " is not a token");
            }
            ObjectNode post = root.putObject("post_processor");
            post.put("type", "TemplateProcessing");
            ArrayNode single = post.putArray("single");
            single.addObject().putObject("SpecialToken").put("id", tokens[(int) bos]).put("type_id", 0);
            single.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
            ObjectNode st = post.putObject("special_tokens").putObject(tokens[(int) bos]);
            st.put("id", tokens[(int) bos]);
            st.putArray("ids").add(bos);
            st.putArray("tokens").add(tokens[(int) bos]);
        }
        return root;
    }
}
