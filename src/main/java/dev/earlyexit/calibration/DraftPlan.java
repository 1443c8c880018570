package dev.earlyexit.calibration;

import dev.earlyexit.format.ModelFormatException;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * How DSSD drafts by default, chosen at calibrate time by {@link DraftPlanner} from the calibration set
 * and the measured costs, and stored with the calibration (one plan per confidence metric).
 *
 * <p>The rule it stands for: a drafting token runs up the consulted heads in turn and leaves at the
 * first where window x p(confidence) >= draftThreshold, p being that head's {@link AcceptanceModel} and
 * window the product of p over the round's drafts so far; before each draft step the draft stops when
 * window < continueThreshold (one more token is then unlikely to be accepted often enough to pay for
 * running it), and at maxDraft tokens. At verification a last draft that no layer has run yet is run
 * too (for the bonus token its logits give when every draft holds) only when window >= lastDraftThreshold.
 *
 * @param layers                   the consulted heads' layers, ascending
 * @param lastDraftThreshold       0: always run the last draft at verification; above 1: never
 * @param predictedMsPerToken      the plan's time per token on the calibration set, from the measured costs
 * @param fullMsPerToken           the full model's, from the same costs
 * @param acceptance               predicted share of drafted tokens accepted
 * @param acceptedPerVerification  predicted accepted drafts per verification
 * @param fixedMsPerToken          on the same set: the best fixed (head, draft length) setting, the
 *                                 LayerSkip-style baseline (NaN in calibrations from before it was stored)
 * @param oracleMsPerToken         on the same set and heads, a rule that knew which drafts the model will
 *                                 reject (DraftPlanner#clairvoyant): what a better rule could still gain (NaN: not stored)
 */
public record DraftPlan(String metric, int[] layers, double draftThreshold, double continueThreshold,
                        double lastDraftThreshold, int maxDraft, double predictedMsPerToken, double fullMsPerToken,
                        double acceptance, double acceptedPerVerification, double fixedMsPerToken,
                        double oracleMsPerToken) {
    static final String INFO_KEY = "dssd_plans";

    public DraftPlan {
        if (layers.length == 0) {
            throw new IllegalArgumentException("a draft plan consults at least one head");
        }
        if (maxDraft < 1) {
            throw new IllegalArgumentException("a draft plan's maximum draft must be >= 1, got " + maxDraft);
        }
        if (!(draftThreshold >= 0 && draftThreshold <= 1) || !(continueThreshold >= 0 && continueThreshold <= 1)
                || !(lastDraftThreshold >= 0 && lastDraftThreshold <= 1.5)) {
            throw new IllegalArgumentException("draft plan thresholds must lie in [0, 1] (the last-draft one in "
                    + "[0, 1.5], above 1 meaning never)");
        }
        layers = layers.clone();
    }

    @Override
    public int[] layers() {
        return layers.clone();
    }

    public double predictedSpeedup() {
        return fullMsPerToken / predictedMsPerToken;
    }

    /** What the plan's speed-up stands between on the calibration set; empty when not stored. */
    public String bounds() {
        if (!Double.isFinite(fixedMsPerToken) || !Double.isFinite(oracleMsPerToken)) {
            return "";
        }
        return String.format("on the calibration set: the plan %.2fx, the best fixed-length draft %.2fx (plan "
                        + "%.2fx of it), a rule that knew which drafts the model rejects %.2fx",
                predictedSpeedup(), fullMsPerToken / fixedMsPerToken, fixedMsPerToken / predictedMsPerToken,
                fullMsPerToken / oracleMsPerToken);
    }

    /** One line for users: what the plan does and what it expects. */
    public String describe() {
        String last = lastDraftThreshold <= 0 ? "always" : lastDraftThreshold > 1 ? "never"
                : String.format("when window >= %.2f", lastDraftThreshold);
        return String.format("heads at layers %s, a token drafts where window x p(accept) >= %.2f, drafts stop "
                        + "when window < %.2f or at %d tokens, the last draft is verified for a bonus %s "
                        + "(predicted %.2fx, acceptance %.2f)", Arrays.toString(layers), draftThreshold,
                continueThreshold, maxDraft, last, predictedSpeedup(), acceptance);
    }

    Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("layers", Arrays.stream(layers).boxed().toList());
        m.put("draft_threshold", draftThreshold);
        m.put("continue_threshold", continueThreshold);
        m.put("last_draft_threshold", lastDraftThreshold);
        m.put("max_draft", maxDraft);
        m.put("predicted_ms_per_token", predictedMsPerToken);
        m.put("full_ms_per_token", fullMsPerToken);
        m.put("predicted_speedup", predictedSpeedup());
        m.put("acceptance", acceptance);
        m.put("accepted_per_verification", acceptedPerVerification);
        m.put("fixed_ms_per_token", fixedMsPerToken);
        m.put("oracle_ms_per_token", oracleMsPerToken);
        return m;
    }

    static DraftPlan fromMap(String metric, Object stored) {
        if (!(stored instanceof Map<?, ?> m) || !(m.get("layers") instanceof List<?> l)
                || !(m.get("draft_threshold") instanceof Number d) || !(m.get("continue_threshold") instanceof Number c)
                || !(m.get("max_draft") instanceof Number md)) {
            throw new ModelFormatException("malformed DSSD draft plan for metric '" + metric + "' in the calibration");
        }
        int[] layers = new int[l.size()];
        for (int i = 0; i < layers.length; i++) {
            if (!(l.get(i) instanceof Number n)) {
                throw new ModelFormatException("malformed DSSD draft plan layers for metric '" + metric + "'");
            }
            layers[i] = n.intValue();
        }
        try {
            double last = m.get("last_draft_threshold") instanceof Number n ? n.doubleValue() : 0.0;
            return new DraftPlan(metric, layers, d.doubleValue(), c.doubleValue(), last, md.intValue(),
                    number(m.get("predicted_ms_per_token")), number(m.get("full_ms_per_token")),
                    number(m.get("acceptance")), number(m.get("accepted_per_verification")),
                    number(m.get("fixed_ms_per_token")), number(m.get("oracle_ms_per_token")));
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException("DSSD draft plan for metric '" + metric + "': " + e.getMessage());
        }
    }

    private static double number(Object o) {
        return o instanceof Number n ? n.doubleValue() : Double.NaN;
    }

    /** Stores the plans in a calibration's info, keyed by metric. */
    public static void putInto(Map<String, Object> info, List<DraftPlan> plans) {
        Map<String, Object> byMetric = new LinkedHashMap<>();
        for (DraftPlan p : plans) {
            byMetric.put(p.metric(), p.toMap());
        }
        info.put(INFO_KEY, byMetric);
    }

    /** The stored plan for a metric; empty for calibrations made before plans were (or without that metric). */
    public static java.util.Optional<DraftPlan> from(Map<String, Object> info, String metric) {
        if (!(info.get(INFO_KEY) instanceof Map<?, ?> byMetric) || !byMetric.containsKey(metric)) {
            return java.util.Optional.empty();
        }
        return java.util.Optional.of(fromMap(metric, byMetric.get(metric)));
    }
}
