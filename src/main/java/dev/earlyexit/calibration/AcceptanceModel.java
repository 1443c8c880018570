package dev.earlyexit.calibration;

import java.util.Arrays;

/**
 * How likely a head's choice is to equal the full model's, as a function of the head's confidence: the
 * isotonic (non-decreasing) fit of the calibration tokens' agreement on their confidence. This is what a
 * drafted token's chance of being accepted is estimated from.
 *
 * <p>Fit by pooling adjacent violators over tie groups of the sorted confidences; each pooled block's
 * probability is (agreeing + 1) / (tokens + 2), so a block of a few tokens that all agreed is not taken
 * for a certainty.
 */
public final class AcceptanceModel {
    private final double[] starts;        // confidence where each block begins, ascending
    private final double[] probabilities; // one per block, non-decreasing

    private AcceptanceModel(double[] starts, double[] probabilities) {
        this.starts = starts;
        this.probabilities = probabilities;
    }

    /** The fit of one head's calibration curve (its confidences and agreement, as stored). */
    public static AcceptanceModel of(ThresholdCurve curve) {
        int n = curve.size();
        if (n == 0) {
            return new AcceptanceModel(new double[] {Double.NEGATIVE_INFINITY}, new double[] {0.5});
        }
        // Tie groups: one (start confidence, tokens, agreeing) each.
        double[] start = new double[n];
        long[] tokens = new long[n];
        long[] agreeing = new long[n];
        int groups = 0;
        int j = 0;
        while (j < n) {
            int end = j;
            while (end < n && curve.value(end) == curve.value(j)) {
                end++;
            }
            start[groups] = curve.value(j);
            tokens[groups] = end - j;
            agreeing[groups] = curve.agreeing(j) - (end < n ? curve.agreeing(end) : 0);
            groups++;
            j = end;
        }
        // Pool adjacent violators: a stack of blocks whose rates rise strictly.
        int blocks = 0;
        for (int g = 0; g < groups; g++) {
            start[blocks] = start[g];
            tokens[blocks] = tokens[g];
            agreeing[blocks] = agreeing[g];
            blocks++;
            while (blocks > 1 && rate(agreeing[blocks - 2], tokens[blocks - 2]) >= rate(agreeing[blocks - 1],
                    tokens[blocks - 1])) {
                tokens[blocks - 2] += tokens[blocks - 1];
                agreeing[blocks - 2] += agreeing[blocks - 1];
                blocks--;
            }
        }
        double[] s = Arrays.copyOf(start, blocks);
        s[0] = Double.NEGATIVE_INFINITY; // below the lowest calibration value: the lowest block's rate
        double[] p = new double[blocks];
        for (int b = 0; b < blocks; b++) {
            p[b] = (agreeing[b] + 1.0) / (tokens[b] + 2.0);
        }
        // The smoothing keeps the order of rates except where block sizes differ a lot; restore it.
        for (int b = 1; b < blocks; b++) {
            p[b] = Math.max(p[b], p[b - 1]);
        }
        return new AcceptanceModel(s, p);
    }

    private static double rate(long agreeing, long tokens) {
        return (double) agreeing / tokens;
    }

    /** The estimated chance of agreement at this confidence (NaN confidence: the lowest block's). */
    public double probability(double confidence) {
        if (!(confidence >= starts[0])) {
            return probabilities[0];
        }
        int i = Arrays.binarySearch(starts, confidence);
        int block = i >= 0 ? i : -i - 2;
        return probabilities[block];
    }

    /** Number of pooled blocks (steps of the fitted function). */
    public int steps() {
        return starts.length;
    }
}
