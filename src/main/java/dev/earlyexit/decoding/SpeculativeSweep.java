package dev.earlyexit.decoding;

import dev.earlyexit.exits.ExitHead;
import dev.earlyexit.model.Transformer;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/**
 * Sweeps for self-speculative decoding: the LayerSkip-style baseline over (exit layer, draft length),
 * which is how the baseline is tuned, and DSSD over (criterion, maximum draft length). Each setting
 * decodes every prompt greedily to a fixed length (stop tokens ignored, as in benchmarks); the row adds
 * the runs up.
 */
public final class SpeculativeSweep {
    private SpeculativeSweep() {
    }

    /**
     * One setting over all prompts.
     *
     * @param setting    what was swept, e.g. "layer 4, length 3" or "eps 0.1, max draft 8"
     * @param exitLayer  the baseline's exit layer, or -1 for DSSD
     * @param maxDraft   draft length (baseline) or maximum draft length (DSSD)
     * @param tokens     tokens chosen after the prefills
     * @param decodeMs   time those took, of which draftMs drafting and verifyMs verifying
     * @param headCalls  exit-head evaluations
     * @param tokenLayers (token, layer) pairs run, rejected drafts included (full model: tokens x layers)
     */
    public record Row(String mode, String setting, int exitLayer, int maxDraft, long tokens, double decodeMs,
                      long drafted, long accepted, long verifications, double draftMs, double verifyMs,
                      long headCalls, long tokenLayers) {

        public double tokensPerSecond() {
            return decodeMs <= 0 ? 0.0 : tokens / (decodeMs / 1000.0);
        }

        public double acceptanceRate() {
            return drafted == 0 ? 0.0 : (double) accepted / drafted;
        }

        public double meanAcceptedPerVerification() {
            return verifications == 0 ? 0.0 : (double) accepted / verifications;
        }

        @Override
        public String toString() {
            return String.format("%-9s %-24s tokens/s %8.1f  drafted %6d  accepted %6d  acceptance %.3f  "
                            + "accepted/verification %.2f  draft %.0f ms  verify %.0f ms  head calls %d  token-layers %d",
                    mode, setting, tokensPerSecond(), drafted, accepted, acceptanceRate(), meanAcceptedPerVerification(),
                    draftMs, verifyMs, headCalls, tokenLayers);
        }
    }

    /** The full model over the prompts (greedy, {@code maxTokens} each), added up as a row named "full". */
    public static Row fullModel(Generator full, List<int[]> prompts, int maxTokens) {
        long tokens = 0;
        double ms = 0;
        for (int[] prompt : prompts) {
            GenerationResult g = full.generate(prompt, maxTokens, SamplingOptions.GREEDY, null, false);
            tokens += g.decodeSteps();
            ms += g.decodeMs();
        }
        return new Row("full", "full", -1, 0, tokens, ms, 0, 0, 0, 0, 0, 0, 0);
    }

    /** Runs one decoder over the prompts (greedy, {@code maxTokens} each) and adds the results up. */
    public static Row run(SelfSpeculativeDecoder decoder, String setting, int exitLayer, List<int[]> prompts,
                          int maxTokens) {
        long tokens = 0;
        double ms = 0;
        long drafted = 0;
        long accepted = 0;
        long verifications = 0;
        double draftMs = 0;
        double verifyMs = 0;
        long headCalls = 0;
        long tokenLayers = 0;
        for (int[] prompt : prompts) {
            SpeculativeResult r = decoder.generate(prompt, maxTokens, SamplingOptions.GREEDY, null, false);
            tokens += r.generation().decodeSteps();
            ms += r.generation().decodeMs();
            drafted += r.drafted();
            accepted += r.accepted();
            verifications += r.verifications();
            draftMs += r.draftMs();
            verifyMs += r.verifyMs();
            headCalls += r.headCalls();
            tokenLayers += r.tokenLayers();
        }
        return new Row(decoder.mode(), setting, exitLayer, decoder.maxDraft(), tokens, ms, drafted, accepted, verifications,
                draftMs, verifyMs, headCalls, tokenLayers);
    }

    /** The baseline at every head's layer and every draft length. */
    public static List<Row> layerSkip(Transformer model, List<? extends ExitHead> heads, int[] draftLengths,
                                      List<int[]> prompts, int maxTokens) {
        List<Row> rows = new ArrayList<>();
        for (ExitHead head : heads) {
            for (int length : draftLengths) {
                SelfSpeculativeDecoder d = SelfSpeculativeDecoder.layerSkip(model, head, length);
                rows.add(run(d, "layer " + head.layer() + ", length " + length, head.layer(), prompts, maxTokens));
            }
        }
        return rows;
    }

    /** DSSD for every named draft rule (e.g. one per ε) and every maximum draft length. */
    public static List<Row> dssd(Transformer model, List<? extends ExitHead> heads, Map<String, DraftRule> rules,
                                 int[] maxDrafts, List<int[]> prompts, int maxTokens) {
        List<Row> rows = new ArrayList<>();
        for (Map.Entry<String, DraftRule> e : rules.entrySet()) {
            for (int maxDraft : maxDrafts) {
                SelfSpeculativeDecoder d = new SelfSpeculativeDecoder(model, heads, e.getValue(), maxDraft);
                rows.add(run(d, e.getKey() + ", max draft " + maxDraft, -1, prompts, maxTokens));
            }
        }
        return rows;
    }

    /** The fastest setting (ties: the higher acceptance rate). */
    public static Row fastest(List<Row> rows) {
        return rows.stream().max(Comparator.comparingDouble(Row::tokensPerSecond)
                .thenComparingDouble(Row::acceptanceRate)).orElseThrow();
    }

    /** The setting with the most accepted tokens per verification (the paper's acceptance comparison). */
    public static Row mostAcceptedPerVerification(List<Row> rows) {
        return rows.stream().max(Comparator.comparingDouble(Row::meanAcceptedPerVerification)
                .thenComparingDouble(Row::tokensPerSecond)).orElseThrow();
    }
}
