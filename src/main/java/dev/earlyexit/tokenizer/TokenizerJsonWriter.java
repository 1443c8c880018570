package dev.earlyexit.tokenizer;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Writes a SentencePiece BPE vocabulary as a Llama-2-style Hugging Face tokenizer.json (BPE with
 * byte_fallback, the Prepend/Replace normalizer, the Replace/ByteFallback/Fuse/Strip decoder, a
 * TemplateProcessing post-processor that adds BOS).
 *
 * <p>HF's BPE applies merges by rank where SentencePiece merges by score; the merges are built as HF's
 * LlamaConverter builds them: every split of a piece into two vocabulary pieces is a merge, ranked by
 * the merged piece's score (descending), then by piece id, then by the ids of the two halves. Control
 * and byte tokens get no merges: SentencePiece never forms them from text.
 */
public final class TokenizerJsonWriter {
    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    private TokenizerJsonWriter() {
    }

    public static void write(SentencePieceBpeTokenizer tokenizer, Path out) {
        ObjectNode root = F.objectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        for (int id : new int[]{tokenizer.unkId(), tokenizer.bosId(), tokenizer.eosId()}) {
            added.addObject().put("id", id).put("content", tokenizer.piece(id)).put("single_word", false)
                    .put("lstrip", false).put("rstrip", false).put("normalized", false).put("special", true);
        }
        ObjectNode normalizer = root.putObject("normalizer").put("type", "Sequence");
        ArrayNode normalizers = normalizer.putArray("normalizers");
        normalizers.addObject().put("type", "Prepend").put("prepend", "\u2581");
        ObjectNode replace = normalizers.addObject().put("type", "Replace");
        replace.putObject("pattern").put("String", " ");
        replace.put("content", "\u2581");
        root.putNull("pre_tokenizer");
        root.set("post_processor", postProcessor(tokenizer.piece(tokenizer.bosId()), tokenizer.bosId()));
        ObjectNode decoder = root.putObject("decoder").put("type", "Sequence");
        ArrayNode decoders = decoder.putArray("decoders");
        ObjectNode space = decoders.addObject().put("type", "Replace");
        space.putObject("pattern").put("String", "\u2581");
        space.put("content", " ");
        decoders.addObject().put("type", "ByteFallback");
        decoders.addObject().put("type", "Fuse");
        decoders.addObject().put("type", "Strip").put("content", " ").put("start", 1).put("stop", 0);
        root.set("model", model(tokenizer));
        try {
            new ObjectMapper().writerWithDefaultPrettyPrinter().writeValue(out.toFile(), root);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + out, e);
        }
    }

    private static ObjectNode postProcessor(String bos, int bosId) {
        ObjectNode post = F.objectNode().put("type", "TemplateProcessing");
        ArrayNode single = post.putArray("single");
        single.addObject().putObject("SpecialToken").put("id", bos).put("type_id", 0);
        single.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        ArrayNode pair = post.putArray("pair");
        pair.addObject().putObject("SpecialToken").put("id", bos).put("type_id", 0);
        pair.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        pair.addObject().putObject("SpecialToken").put("id", bos).put("type_id", 1);
        pair.addObject().putObject("Sequence").put("id", "B").put("type_id", 1);
        ObjectNode special = post.putObject("special_tokens").putObject(bos).put("id", bos);
        special.putArray("ids").add(bosId);
        special.putArray("tokens").add(bos);
        return post;
    }

    private static ObjectNode model(SentencePieceBpeTokenizer tokenizer) {
        ObjectNode model = F.objectNode().put("type", "BPE");
        model.putNull("dropout");
        model.put("unk_token", tokenizer.piece(tokenizer.unkId()));
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", true);
        model.put("byte_fallback", tokenizer.hasByteFallback());
        ObjectNode vocab = model.putObject("vocab");
        java.util.Map<String, Integer> ids = new java.util.HashMap<>();
        for (int id = 0; id < tokenizer.vocabSize(); id++) {
            vocab.put(tokenizer.piece(id), id);
            if (!tokenizer.isControlToken(id) && !tokenizer.isByteToken(id)) {
                ids.put(tokenizer.piece(id), id);
            }
        }
        // {merged id, left id, right id}, in LlamaConverter's order
        List<int[]> merges = new ArrayList<>();
        boolean spaceInPiece = false;
        for (int id = 0; id < tokenizer.vocabSize(); id++) {
            String piece = tokenizer.piece(id);
            if (!ids.containsKey(piece) || ids.get(piece) != id) {
                continue;
            }
            spaceInPiece |= piece.indexOf(' ') >= 0;
            for (int k = 1; k < piece.length(); k++) {
                if (Character.isLowSurrogate(piece.charAt(k))) {
                    continue; // never split a code point
                }
                Integer left = ids.get(piece.substring(0, k));
                Integer right = ids.get(piece.substring(k));
                if (left != null && right != null) {
                    merges.add(new int[]{id, left, right});
                }
            }
        }
        merges.sort(Comparator.comparingDouble((int[] m) -> -tokenizer.score(m[0]))
                .thenComparingInt(m -> m[0]).thenComparingInt(m -> m[1]).thenComparingInt(m -> m[2]));
        ArrayNode mergesNode = model.putArray("merges");
        for (int[] m : merges) {
            String left = tokenizer.piece(m[1]);
            String right = tokenizer.piece(m[2]);
            if (spaceInPiece) { // "a b" would be ambiguous
                mergesNode.addArray().add(left).add(right);
            } else {
                mergesNode.add(left + " " + right);
            }
        }
        return model;
    }
}
