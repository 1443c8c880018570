package dev.earlyexit.eval;

/**
 * What one request scored under one setting (the full model, or early exit at one ε).
 *
 * @param logLikelihood  sum of log p(continuation token | everything before it)
 * @param greedy         whether every continuation token is the argmax of the distribution used there
 * @param tokens         continuation tokens scored
 * @param layers         layers run, summed over those tokens
 * @param agreeing       tokens whose argmax equals the full model's argmax at that position
 * @param uncovered      tokens the answering head could not produce (scored at the uncovered floor)
 * @param exitsPerLayer  tokens answered at each exit, in the scorer's exit order (last: the full model)
 * @param truncated      whether the pair was cut from the left to fit the context window
 */
public record Outcome(double logLikelihood, boolean greedy, int tokens, long layers, int agreeing, int uncovered,
                      int[] exitsPerLayer, boolean truncated) {

    /** A request scored by the full model alone, as a fake scorer or a test writes one. */
    public static Outcome of(double logLikelihood, boolean greedy) {
        return new Outcome(logLikelihood, greedy, 1, 0, 1, 0, new int[0], false);
    }
}
