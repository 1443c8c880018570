package dev.earlyexit.server;

import dev.earlyexit.calibration.ConfidenceMetric;
import dev.earlyexit.exits.HeadSet;

import java.util.function.DoubleFunction;

/**
 * What early exit and DSSD need beyond the model: exit heads, the confidence metric they were
 * calibrated with, and the thresholds for an ε (the CLI's --consult policy applied). Built by the
 * serve command; {@link #unavailable} stands in when the model has no calibration, so only requests
 * that ask for those modes fail (with the reason).
 */
public final class ExitModes {
    private final HeadSet heads;
    private final ConfidenceMetric metric;
    private final DoubleFunction<double[]> thresholds;
    private final String unavailableReason;

    public ExitModes(HeadSet heads, ConfidenceMetric metric, DoubleFunction<double[]> thresholds) {
        this.heads = heads;
        this.metric = metric;
        this.thresholds = thresholds;
        this.unavailableReason = null;
    }

    private ExitModes(String reason) {
        this.heads = null;
        this.metric = null;
        this.thresholds = null;
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
}
