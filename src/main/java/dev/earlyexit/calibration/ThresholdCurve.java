package dev.earlyexit.calibration;

import java.util.Arrays;

/**
 * One head's calibration curve for one metric: every calibration token's confidence, sorted ascending,
 * and the share of tokens from each index to the end on which the head agreed with the full model.
 * Any ε picks its threshold from the curve, so one calibration serves every ε.
 *
 * <p>The paper's rule: sort by metric, take the first index j such that the fraction correct among
 * entries j..N is at least ε; τ = metric at j; a token exits when its confidence is at least τ.
 * With equal confidences the tokens "at least τ" are the whole tie group, so j is only taken where a
 * new value starts (with distinct values this is exactly the paper's index). No such j: the head never
 * exits ({@link #threshold} is +∞).
 */
public final class ThresholdCurve {
    private final double[] values;
    private final double[] suffixAccuracy;

    /** From stored data: values ascending, suffixAccuracy[j] = share correct among j..N-1. */
    public ThresholdCurve(double[] values, double[] suffixAccuracy) {
        if (values.length != suffixAccuracy.length) {
            throw new IllegalArgumentException("a curve needs one accuracy per value");
        }
        for (int i = 1; i < values.length; i++) {
            if (!(values[i - 1] <= values[i])) {
                throw new IllegalArgumentException("curve values must be sorted ascending");
            }
        }
        this.values = values.clone();
        this.suffixAccuracy = suffixAccuracy.clone();
    }

    /** The curve of (confidence, head agreed with the model) pairs. */
    public static ThresholdCurve of(double[] confidence, boolean[] correct) {
        int n = confidence.length;
        if (correct.length != n) {
            throw new IllegalArgumentException("one correctness flag per confidence value");
        }
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> Double.compare(confidence[a], confidence[b]));
        double[] v = new double[n];
        double[] acc = new double[n];
        long right = 0;
        for (int j = n - 1; j >= 0; j--) {
            v[j] = confidence[order[j]];
            if (correct[order[j]]) {
                right++;
            }
            acc[j] = (double) right / (n - j);
        }
        return new ThresholdCurve(v, acc);
    }

    public int size() {
        return values.length;
    }

    public double value(int j) {
        return values[j];
    }

    public double suffixAccuracy(int j) {
        return suffixAccuracy[j];
    }

    double[] values() {
        return values.clone();
    }

    double[] suffixAccuracies() {
        return suffixAccuracy.clone();
    }

    /** The paper's index j for ε (0-based), or -1 when no suffix is accurate enough. */
    public int index(double epsilon) {
        for (int j = 0; j < values.length; j++) {
            if ((j == 0 || values[j - 1] < values[j]) && suffixAccuracy[j] >= epsilon) {
                return j;
            }
        }
        return -1;
    }

    /** τ(ε): exit when confidence >= τ; +∞ when the head never exits at this ε. */
    public double threshold(double epsilon) {
        int j = index(epsilon);
        return j < 0 ? Double.POSITIVE_INFINITY : values[j];
    }

    /** Share of calibration tokens that would exit at this head at ε (taken alone). */
    public double coverage(double epsilon) {
        int j = index(epsilon);
        return j < 0 ? 0.0 : (double) (values.length - j) / values.length;
    }

    /** The head's overall agreement with the model on the calibration set. */
    public double accuracy() {
        return values.length == 0 ? 0.0 : suffixAccuracy[0];
    }
}
