package dev.earlyexit.decoding;

/**
 * What one generation produced and how fast.
 *
 * @param promptIds        the prompt as fed to the model (BOS included when the model uses one)
 * @param ids              generated ids only (a stop token is not included)
 * @param prefillMs        time to run the prompt block and choose the first token
 * @param decodeMs         time for the remaining tokens
 * @param decodeSteps      forward passes after prefill (each yields one token, maybe the stop token)
 * @param stopReason       why generation ended
 */
public record GenerationResult(int[] promptIds, int[] ids, double prefillMs, double decodeMs, int decodeSteps,
                               StopReason stopReason) {

    public enum StopReason { STOP_TOKEN, MAX_TOKENS, CONTEXT_FULL }

    /** Decode speed: tokens made by decode steps (the first comes out of prefill) per second. */
    public double decodeTokensPerSecond() {
        return decodeSteps <= 0 || decodeMs <= 0 ? 0.0 : decodeSteps / (decodeMs / 1000.0);
    }
}
