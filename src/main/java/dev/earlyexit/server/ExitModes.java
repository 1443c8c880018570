package dev.earlyexit.server;

import dev.earlyexit.calibration.ConfidenceMetric;
import dev.earlyexit.decoding.CalibratedDraft;
import dev.earlyexit.exits.HeadSet;

import java.util.Optional;
import java.util.function.DoubleFunction;

/**
 * What early exit and DSSD need beyond the model: exit heads, the confidence metric they were
 * calibrated with, the thresholds for an ε (the CLI's --consult policy applied) and DSSD's drafting
 * (the calibration's draft plan, or the ε thresholds for calibrations without one). Built by the
 * serve command; {@link #unavailable} stands in when the model has no calibration, so only requests
 * that ask for those modes fail (with the reason).
 */
public final class ExitModes {
    private final HeadSet heads;
    private final ConfidenceMetric metric;
    private final DoubleFunction<double[]> thresholds;
    private final Drafts drafts;
    private final String unavailableReason;

    /** DSSD's drafting heads and rule for a request's ε and maximum draft; empty when no head can draft. */
    @FunctionalInterface
    public interface Drafts {
        Optional<CalibratedDraft> forRequest(double epsilon, int maxDraft);
    }

    public ExitModes(HeadSet heads, ConfidenceMetric metric, DoubleFunction<double[]> thresholds, Drafts drafts) {
        this.heads = heads;
        this.metric = metric;
        this.thresholds = thresholds;
        this.drafts = drafts;
        this.unavailableReason = null;
    }

    /** Drafting at the ε thresholds (the paper's DSSD). */
    public ExitModes(HeadSet heads, ConfidenceMetric metric, DoubleFunction<double[]> thresholds) {
        this(heads, metric, thresholds,
                (eps, maxDraft) -> CalibratedDraft.of(heads, thresholds.apply(eps), metric, maxDraft));
    }

    private ExitModes(String reason) {
        this.heads = null;
        this.metric = null;
        this.thresholds = null;
        this.drafts = null;
        this.unavailableReason = reason;
    }

    public static ExitModes unavailable(String reason) {
        return new ExitModes(reason);
    }

    public boolean available() {
        return unavailableReason == null;
    }

    /** Refuses a request for early exit or DSSD when the server cannot do them. */
    public void require(ExitSpec.Mode mode) {
        if (!available()) {
            throw ApiException.badRequest("early_exit mode " + mode.id() + " is not available on this server: "
                    + unavailableReason, "early_exit.mode");
        }
    }

    public HeadSet heads() {
        return heads;
    }

    public ConfidenceMetric metric() {
        return metric;
    }

    public double[] thresholds(double epsilon) {
        return thresholds.apply(epsilon);
    }

    public Optional<CalibratedDraft> draft(double epsilon, int maxDraft) {
        return drafts.forRequest(epsilon, maxDraft);
    }
}
