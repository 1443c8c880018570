package dev.earlyexit.decoding;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One self-speculative generation (DSSD or the LayerSkip-style baseline): the generation itself, where
 * every output token came from, and what the drafting and verification did.
 *
 * @param generation    ids, timings and stop reason as for the full model; {@code decodeSteps} counts
 *                      the tokens chosen after the prefill (so tokens/s compares with {@link Generator})
 * @param mode          "dssd" or "layerskip"
 * @param exitLayers    one per output token: the 1-based layer of the head that drafted it when it was an
 *                      accepted draft, else the model's layer count (the first token, corrections, bonuses)
 * @param modelLayers   the model's layer count
 * @param headLayers    the decoder's head layers, ascending
 * @param drafted       tokens the heads drafted
 * @param accepted      drafted tokens the full model confirmed
 * @param verifications batched passes that checked at least one drafted token
 * @param plainSteps    passes with nothing to check (no head was confident about the first token)
 * @param draftMs       decode time spent drafting (layers run for drafting tokens and head calls)
 * @param verifyMs      decode time spent verifying (the remaining layers, final logits, acceptance)
 * @param headCalls     exit-head evaluations
 * @param tokenLayers   (token, layer) pairs run during decoding, rejected drafts included (a full-model
 *                      decode runs modelLayers per token)
 * @param finalHeadAccepted accepted drafts of a head after the last layer (their exit layer is the
 *                      model's layer count, as for the full model's tokens)
 */
public record SpeculativeResult(GenerationResult generation, String mode, int[] exitLayers, int modelLayers,
                                int[] headLayers, long drafted, long accepted, long verifications, long plainSteps,
                                double draftMs, double verifyMs, long headCalls, long tokenLayers,
                                int finalHeadAccepted) {

    public int[] ids() {
        return generation.ids();
    }

    /** Accepted / drafted (0 when nothing was drafted). */
    public double acceptanceRate() {
        return drafted == 0 ? 0.0 : (double) accepted / drafted;
    }

    /** Accepted drafted tokens per verification that had any. */
    public double meanAcceptedPerVerification() {
        return verifications == 0 ? 0.0 : (double) accepted / verifications;
    }

    /** Decode tokens per second (tokens after the first, which comes out of the prefill). */
    public double tokensPerSecond() {
        return generation.decodeTokensPerSecond();
    }

    /** Output tokens per exit: index i counts tokens drafted by head i, the last index the full model. */
    public int[] exitsPerHead() {
        return EarlyExitResult.countPerHead(exitLayers, headLayers, modelLayers, finalHeadAccepted);
    }

    /** Everything as JSON-ready fields (snake_case; arrays stay int[]); the CLI adds the text. */
    public Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("mode", mode);
        m.put("prompt_ids", generation.promptIds());
        m.put("ids", generation.ids());
        m.put("prompt_tokens", generation.promptIds().length);
        m.put("generated_tokens", generation.ids().length);
        m.put("stop_reason", generation.stopReason().name().toLowerCase());
        m.put("prefill_ms", round(generation.prefillMs()));
        m.put("decode_ms", round(generation.decodeMs()));
        m.put("tokens_per_s", round(tokensPerSecond()));
        m.put("drafted", drafted);
        m.put("accepted", accepted);
        m.put("acceptance_rate", round(acceptanceRate()));
        m.put("verifications", verifications);
        m.put("plain_steps", plainSteps);
        m.put("mean_accepted_per_verification", round(meanAcceptedPerVerification()));
        m.put("exit_layers", exitLayers);
        m.put("head_layers", headLayers);
        m.put("exits_per_head", exitsPerHead());
        m.put("draft_ms", round(draftMs));
        m.put("verify_ms", round(verifyMs));
        m.put("head_calls", headCalls);
        m.put("token_layers", tokenLayers);
        return m;
    }

    private static double round(double v) {
        return Math.round(v * 1000.0) / 1000.0;
    }
}
