package dev.earlyexit.decoding;

import java.util.Arrays;

/**
 * One early-exit generation: the generation itself, where every token came from, and where the time went.
 *
 * @param generation   ids, timings and stop reason, as for the full model
 * @param exitLayers   one per generated token: the 1-based layer count at which it was produced (the
 *                     model's layer count for tokens of the final layer, the first token included:
 *                     it comes out of the prefill, which runs every layer anyway)
 * @param modelLayers  the model's layer count
 * @param headLayers   layers of the heads that were consulted (heads that cannot exit at this ε are not)
 * @param layerMs      decode time in transformer layers, the owed KV entries filled in the same blocks included
 * @param headMs       decode time in exit heads (logits, softmax, confidence, choosing the token)
 * @param classifierMs decode time in the model's own final norm and classifier (tokens no head took)
 * @param kvCopyMs     decode time writing approximate KV entries (KvFill.COPY_HIDDEN only)
 * @param fillRows     (position, layer) pairs run only to fill KV entries that exited tokens owed (with
 *                     COPY_HIDDEN: approximate entries written)
 * @param headCalls    head evaluations during decoding
 * @param tokenLayers  (token, layer) pairs run for the decoded tokens themselves
 * @param finalHeadExits tokens a head after the last layer answered instead of the model's classifier
 *                     (their exit layer is the model's layer count, as for the classifier's tokens)
 */
public record EarlyExitResult(GenerationResult generation, int[] exitLayers, int modelLayers, int[] headLayers,
                              double layerMs, double headMs, double classifierMs, double kvCopyMs, long fillRows,
                              long headCalls, long tokenLayers, int finalHeadExits) {

    /**
     * Generated tokens per exit: index i counts tokens produced by the head at headLayers[i], the last
     * index those of the model's own classifier.
     */
    public int[] exitsPerHead() {
        return countPerHead(exitLayers, headLayers, modelLayers, finalHeadExits);
    }

    /**
     * Tokens per exit from their exit layers; a head after the last layer shares its layer with the
     * classifier, so its count is given apart and taken out of the classifier's.
     */
    static int[] countPerHead(int[] exitLayers, int[] headLayers, int modelLayers, int finalHeadTokens) {
        int[] counts = new int[headLayers.length + 1];
        for (int e : exitLayers) {
            int i = Arrays.binarySearch(headLayers, e);
            counts[i >= 0 && e < modelLayers ? i : headLayers.length]++;
        }
        int last = headLayers.length - 1;
        if (last >= 0 && headLayers[last] == modelLayers) {
            counts[last] = finalHeadTokens;
            counts[headLayers.length] -= finalHeadTokens;
        }
        return counts;
    }

    /** Mean of {@link #exitLayers}. */
    public double meanLayers() {
        return exitLayers.length == 0 ? 0.0 : Arrays.stream(exitLayers).average().orElse(0.0);
    }
}
