package dev.earlyexit.eval;

import dev.earlyexit.tokenizer.Tokenizer;

import java.util.Arrays;

/**
 * Tokenizes a (context, continuation) pair the way lm-evaluation-harness does (HFLM._encode_pair):
 * trailing whitespace of the context moves onto the continuation; the context is encoded alone and the
 * continuation is what follows the context's token count in the encoding of the whole string, so a
 * token that spans the boundary is scored as part of the continuation. Unlike the harness's Llama
 * default (no BOS), the BOS token is prepended as generate and score do (GenerateCommand.encodePrompt:
 * the tokenizer's BOS, when it has one). A pair longer than the context window keeps its last
 * maxSeqLen + 1 tokens: the model reads maxSeqLen of them, as the harness's left truncation does.
 */
public final class PairTokenizer {
    private final Tokenizer tokenizer;
    private final int bos;
    private final int maxSeqLen;

    /**
     * @param ids               tokens to run, BOS (when kept) + context + continuation; the last is only a target
     * @param continuationStart index in ids of the first continuation token
     * @param truncated         whether tokens were cut from the left to fit the context window
     */
    public record Pair(int[] ids, int continuationStart, boolean truncated) {
        public int continuationLength() {
            return ids.length - continuationStart;
        }
    }

    /** @param bos the id prepended to every context, or -1 for none */
    public PairTokenizer(Tokenizer tokenizer, int bos, int maxSeqLen) {
        this.tokenizer = tokenizer;
        this.bos = bos;
        this.maxSeqLen = maxSeqLen;
    }

    public Pair encode(Request request) {
        String context = request.context();
        String continuation = request.continuation();
        String stripped = PythonStrings.rstrip(context);
        if (stripped.length() < context.length()) {
            continuation = context.substring(stripped.length()) + continuation;
            context = stripped;
        }
        int[] contextIds = tokenizer.encode(context);
        int[] whole = tokenizer.encode(context + continuation);
        int split = Math.min(contextIds.length, whole.length);
        int[] continuationIds = Arrays.copyOfRange(whole, split, whole.length);
        int prefix = bos >= 0 ? 1 : 0;
        int[] ids = new int[prefix + contextIds.length + continuationIds.length];
        if (prefix == 1) {
            ids[0] = bos;
        }
        System.arraycopy(contextIds, 0, ids, prefix, contextIds.length);
        System.arraycopy(continuationIds, 0, ids, prefix + contextIds.length, continuationIds.length);
        int start = prefix + contextIds.length;
        if (start == 0 && continuationIds.length > 0) {
            throw new IllegalArgumentException("the context is empty and the tokenizer has no BOS token to "
                    + "predict the first continuation token from");
        }
        if (continuationIds.length > maxSeqLen) {
            throw new IllegalArgumentException("the continuation has " + continuationIds.length
                    + " tokens, more than the model's context of " + maxSeqLen);
        }
        if (ids.length > maxSeqLen + 1) {
            int cut = ids.length - (maxSeqLen + 1);
            return new Pair(Arrays.copyOfRange(ids, cut, ids.length), start - cut, true);
        }
        return new Pair(ids, start, false);
    }
}
