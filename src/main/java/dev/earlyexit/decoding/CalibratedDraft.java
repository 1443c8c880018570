package dev.earlyexit.decoding;

import dev.earlyexit.calibration.AcceptanceModel;
import dev.earlyexit.calibration.Calibration;
import dev.earlyexit.calibration.ConfidenceMetric;
import dev.earlyexit.calibration.DraftPlan;
import dev.earlyexit.exits.ExitHead;
import dev.earlyexit.exits.HeadSet;
import dev.earlyexit.model.Transformer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * The heads that draft and the rule they draft by, from a calibration: either its stored draft plan
 * (DSSD's default: {@link #planned}) or the early-exit thresholds of one ε (the paper's DSSD: {@link #of}).
 *
 * @param maxDraft    the most tokens a round drafts
 * @param description one line for users
 */
public record CalibratedDraft(List<ExitHead> heads, DraftRule rule, int maxDraft, String description) {

    /**
     * The paper's rule: heads exit at confidence >= τ(ε). Heads whose τ is +∞ can never pass, so they are
     * left out (asking them would only cost time). Empty when no head can exit at these thresholds (every
     * token then comes from the full model).
     */
    public static Optional<CalibratedDraft> of(HeadSet heads, double[] tau, ConfidenceMetric metric, int maxDraft) {
        List<ExitHead> drafting = new ArrayList<>();
        double[] kept = new double[heads.size()];
        int n = 0;
        for (int k = 0; k < heads.size(); k++) {
            if (tau[k] < Double.POSITIVE_INFINITY) {
                drafting.add(heads.head(k));
                kept[n++] = tau[k];
            }
        }
        if (drafting.isEmpty()) {
            return Optional.empty();
        }
        double[] taus = Arrays.copyOf(kept, n);
        return Optional.of(new CalibratedDraft(List.copyOf(drafting),
                DraftRule.of(ExitCriterion.atLeast(metric::confidence, taus)), maxDraft,
                "heads at layers " + layersOf(drafting) + " draft at " + metric.id() + " >= " + Arrays.toString(taus)
                        + ", at most " + maxDraft + " tokens"));
    }

    /**
     * The calibration's draft plan for this metric, its consulted heads taken from {@code heads} (the
     * heads the calibration was made for), drafting at most as many tokens as the plan does.
     */
    public static CalibratedDraft planned(HeadSet heads, Calibration cal, DraftPlan plan, ConfidenceMetric metric) {
        int[] headLayers = heads.layers();
        List<ExitHead> drafting = new ArrayList<>();
        List<AcceptanceModel> models = new ArrayList<>();
        for (int layer : plan.layers()) {
            int k = Arrays.stream(headLayers).boxed().toList().indexOf(layer);
            if (k < 0) {
                throw new IllegalArgumentException("the draft plan consults a head after layer " + layer
                        + ", which these heads do not have (layers " + Arrays.toString(headLayers) + ")");
            }
            drafting.add(heads.head(k));
            models.add(cal.acceptance(metric.id(), k));
        }
        DraftRule rule = new AcceptanceDraftRule(metric, models.toArray(new AcceptanceModel[0]),
                plan.draftThreshold(), plan.continueThreshold(), plan.lastDraftThreshold());
        return new CalibratedDraft(List.copyOf(drafting), rule, plan.maxDraft(),
                "calibrated draft plan (" + metric.id() + "): " + plan.describe());
    }

    /** The same drafting with at most {@code cap} tokens a round (itself when it drafts no more already). */
    public CalibratedDraft capped(int cap) {
        return cap >= maxDraft ? this
                : new CalibratedDraft(heads, rule, cap, description + ", capped at " + cap + " tokens");
    }

    private static String layersOf(List<ExitHead> heads) {
        return Arrays.toString(heads.stream().mapToInt(ExitHead::layer).toArray());
    }

    public SelfSpeculativeDecoder decoder(Transformer model) {
        return new SelfSpeculativeDecoder(model, heads, rule, maxDraft);
    }
}
