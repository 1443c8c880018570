package dev.earlyexit.eval;

import dev.earlyexit.exits.HeadSet;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One setting's metrics (the full model, or early exit at one ε) over the examples.
 *
 * @param acc              per example 1 or 0: multiple choice, the argmax of the log-likelihoods is gold;
 *                         cloze, every target token is greedy
 * @param accNorm          per example, the argmax of log-likelihood / len(choice) is gold (multiple choice)
 * @param logLikelihood    per example, the gold continuation's log-likelihood (cloze: for perplexity)
 * @param exampleAgreement examples answered as the full model answers them (multiple choice: the same
 *                         choice; cloze: the same argmax at every target position); -1 for the full model
 * @param exampleAgreementNorm the same for acc_norm's choice (multiple choice); -1 for the full model
 * @param groups           per group (MMLU subject): [examples, correct]
 */
public record SettingResult(double[] acc, double[] accNorm, double[] logLikelihood, long tokens, long layers,
                            long agreeingTokens, long uncoveredTokens, int[] exitsPerLayer, int truncatedRequests,
                            int exampleAgreement, int exampleAgreementNorm, Map<String, int[]> groups) {

    public int examples() {
        return acc.length;
    }

    public double accuracy() {
        return Stats.mean(acc);
    }

    public double accuracyNorm() {
        return Stats.mean(accNorm);
    }

    /** exp(-mean log-likelihood per example), the harness's perplexity aggregation. */
    public double perplexity() {
        return Math.exp(-Stats.mean(logLikelihood));
    }

    public double meanLayers() {
        return tokens == 0 ? 0 : (double) layers / tokens;
    }

    /** The metrics as the JSON report shows them (6 decimals; a standard error is null below 2 examples). */
    public Map<String, Object> toJson(Task task, int[] exitLayers) {
        Map<String, Object> o = new LinkedHashMap<>();
        o.put("acc", round(accuracy()));
        o.put("acc_stderr", roundOrNull(Stats.stderr(acc)));
        o.put("acc_count", Math.round(accuracy() * examples()));
        if (task.isCloze()) {
            o.put("perplexity", round(perplexity()));
            // The harness bootstraps this one; the delta method (ppl x stderr of the mean log-likelihood) is
            // its first-order equivalent without resampling.
            o.put("perplexity_stderr", roundOrNull(perplexity() * Stats.stderr(logLikelihood)));
        }
        if (task.reportsAccNorm()) {
            o.put("acc_norm", round(accuracyNorm()));
            o.put("acc_norm_stderr", roundOrNull(Stats.stderr(accNorm)));
            o.put("acc_norm_count", Math.round(accuracyNorm() * examples()));
        }
        if (groups != null && !groups.isEmpty()) {
            Map<String, Object> g = new LinkedHashMap<>();
            for (Map.Entry<String, int[]> e : groups.entrySet()) {
                Map<String, Object> s = new LinkedHashMap<>();
                s.put("examples", e.getValue()[0]);
                s.put("acc", round((double) e.getValue()[1] / e.getValue()[0]));
                g.put(e.getKey(), s);
            }
            o.put("acc_by_subject", g);
        }
        o.put("tokens", tokens);
        o.put("mean_layers", round(meanLayers()));
        o.put("token_agreement", round(tokens == 0 ? 1 : (double) agreeingTokens / tokens));
        if (exampleAgreement >= 0) {
            o.put("example_agreement", round((double) exampleAgreement / examples()));
            if (task.reportsAccNorm()) {
                o.put("example_agreement_norm", round((double) exampleAgreementNorm / examples()));
            }
        }
        o.put("uncovered_tokens", uncoveredTokens);
        Map<String, Integer> perLayer = new LinkedHashMap<>();
        int heads = exitLayers.length - 1; // the last exit is the model's classifier
        String[] labels = HeadSet.exitLabels(java.util.Arrays.copyOf(exitLayers, heads), exitLayers[heads]);
        for (int k = 0; k < exitLayers.length; k++) {
            perLayer.put(labels[k], exitsPerLayer[k]);
        }
        o.put("exits_per_layer", perLayer);
        o.put("truncated_requests", truncatedRequests);
        return o;
    }

    static double round(double v) {
        return Math.round(v * 1e6) / 1e6;
    }

    private static Double roundOrNull(double v) {
        return Double.isNaN(v) ? null : round(v);
    }
}
