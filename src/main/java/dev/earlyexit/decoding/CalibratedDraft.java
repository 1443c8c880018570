package dev.earlyexit.decoding;

import dev.earlyexit.calibration.ConfidenceMetric;
import dev.earlyexit.exits.ExitHead;
import dev.earlyexit.exits.HeadSet;
import dev.earlyexit.model.Transformer;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The heads that may draft at one calibrated ε, and the rule they exit by (confidence >= τ). Heads whose
 * τ is +∞ can never pass, so they are left out: asking them would only cost time.
 */
public record CalibratedDraft(List<ExitHead> heads, ExitCriterion criterion) {

    /** Empty when no head can exit at these thresholds (every token then comes from the full model). */
    public static Optional<CalibratedDraft> of(HeadSet heads, double[] tau, ConfidenceMetric metric) {
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
        return Optional.of(new CalibratedDraft(List.copyOf(drafting),
                ExitCriterion.atLeast(metric::confidence, java.util.Arrays.copyOf(kept, n))));
    }

    public SelfSpeculativeDecoder decoder(Transformer model, int maxDraft) {
        return new SelfSpeculativeDecoder(model, heads, criterion, maxDraft);
    }
}
