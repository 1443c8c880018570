package dev.earlyexit.decoding;

import dev.earlyexit.calibration.AcceptanceModel;
import dev.earlyexit.calibration.ConfidenceMetric;
import dev.earlyexit.calibration.DraftPlan;

/**
 * The rule of a calibrated {@link DraftPlan}: a drafting token leaves at the first head where
 * window x p(confidence) >= draftThreshold (p: that head's acceptance model), and drafting stops before
 * a step when window < continueThreshold, and the last draft is run at verification only when
 * window >= lastDraftThreshold. So a confident token may be drafted deep into a round only while the
 * round's earlier drafts are likely to survive, and a draft grows while more tokens pay.
 */
final class AcceptanceDraftRule implements DraftRule {
    private final ConfidenceMetric metric;
    private final AcceptanceModel[] models; // per consulted head, in the decoder's head order
    private final double draftThreshold;
    private final double continueThreshold;
    private final double lastDraftThreshold;

    AcceptanceDraftRule(ConfidenceMetric metric, AcceptanceModel[] models, double draftThreshold,
                        double continueThreshold, double lastDraftThreshold) {
        this.metric = metric;
        this.models = models.clone();
        this.draftThreshold = draftThreshold;
        this.continueThreshold = continueThreshold;
        this.lastDraftThreshold = lastDraftThreshold;
    }

    @Override
    public double exitChance(int headIndex, float[] headProbs, int n, double window) {
        double p = models[headIndex].probability(metric.confidence(headProbs, n));
        return p > 0 && window * p >= draftThreshold ? p : 0.0;
    }

    @Override
    public boolean keepDrafting(double window) {
        return window >= continueThreshold;
    }

    @Override
    public boolean runLastDraft(double window) {
        return window >= lastDraftThreshold;
    }

    @Override
    public String toString() {
        return "acceptance(draft >= " + draftThreshold + ", continue >= " + continueThreshold + ")";
    }
}
