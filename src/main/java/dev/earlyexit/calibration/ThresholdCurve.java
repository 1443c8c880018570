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

    /** The index j for ε under a rule (0-based), or -1 when no threshold qualifies. */
    public int index(double epsilon, ThresholdRule rule) {
        return rule.kind() == ThresholdRule.Kind.PAPER ? index(epsilon) : guaranteedIndex(epsilon, rule.delta());
    }

    /**
     * Learn-then-Test (see {@link ThresholdRule}): tie-group starts from the most confident end down, each
     * tested with the Clopper-Pearson bound; the lowest start passed before the first failure, or -1.
     */
    public int guaranteedIndex(double epsilon, double delta) {
        ClopperPearson.checkDelta(delta);
        int n = values.length;
        // Fewer exits than this cannot pass even if all agree: δ^(1/m) < ε.
        double needed = epsilon <= 0 ? 1 : epsilon >= 1 ? Double.POSITIVE_INFINITY : Math.log(delta) / Math.log(epsilon);
        int passed = -1;
        for (int j = n - 1; j >= 0; j--) {
            if (j > 0 && values[j - 1] == values[j]) {
                continue; // not where a tie group starts
            }
            int m = n - j;
            if (m < needed) {
                continue;
            }
            if (!ClopperPearson.boundAtLeast(agreeing(j), m, epsilon, delta)) {
                break;
            }
            passed = j;
        }
        return passed;
    }

    /** How many of the tokens j..N-1 agreed (the stored share times the count, which it came from). */
    public long agreeing(int j) {
        return Math.round(suffixAccuracy[j] * (values.length - j));
    }

    /** τ(ε): exit when confidence >= τ; +∞ when the head never exits at this ε (paper's rule). */
    public double threshold(double epsilon) {
        return threshold(epsilon, ThresholdRule.PAPER);
    }

    public double threshold(double epsilon, ThresholdRule rule) {
        int j = index(epsilon, rule);
        return j < 0 ? Double.POSITIVE_INFINITY : values[j];
    }

    /** Share of calibration tokens that would exit at this head at ε (taken alone; paper's rule). */
    public double coverage(double epsilon) {
        return coverage(epsilon, ThresholdRule.PAPER);
    }

    public double coverage(double epsilon, ThresholdRule rule) {
        int j = index(epsilon, rule);
        return j < 0 ? 0.0 : (double) (values.length - j) / values.length;
    }

    /**
     * Area under the ROC curve of confidence against agreement: the chance that a token the head got right
     * has a higher confidence than one it got wrong (ties count half). NaN when either class is empty.
     */
    public double auroc() {
        int n = values.length;
        long positives = n == 0 ? 0 : agreeing(0);
        long negatives = n - positives;
        if (positives == 0 || negatives == 0) {
            return Double.NaN;
        }
        double area = 0;
        long negativesBelow = 0;
        int start = 0;
        while (start < n) {
            int end = start;
            while (end < n && values[end] == values[start]) {
                end++;
            }
            long pos = agreeing(start) - (end < n ? agreeing(end) : 0);
            long neg = (end - start) - pos;
            area += pos * (double) negativesBelow + 0.5 * pos * neg;
            negativesBelow += neg;
            start = end;
        }
        return area / ((double) positives * negatives);
    }

    /** The head's overall agreement with the model on the calibration set. */
    public double accuracy() {
        return values.length == 0 ? 0.0 : suffixAccuracy[0];
    }
}
