package dev.earlyexit.calibration;

import java.util.Arrays;

/**
 * Which heads the decoder asks at all. Asking a head costs its weights' bytes for every token that gets
 * that far; it pays only when the tokens it lets out skip more than that. A head left out gets τ = +∞,
 * which {@link dev.earlyexit.decoding.EarlyExitDecoder} never consults.
 */
public final class ConsultPolicy {
    private ConsultPolicy() {
    }

    /** Only the heads at the given layers (others +∞). */
    public static double[] only(double[] thresholds, int[] headLayers, int[] consult) {
        double[] t = thresholds.clone();
        for (int k = 0; k < t.length; k++) {
            int layer = headLayers[k];
            if (Arrays.stream(consult).noneMatch(l -> l == layer)) {
                t[k] = Double.POSITIVE_INFINITY;
            }
        }
        return t;
    }

    /**
     * Cost-aware: keep head k (after d of L layers) only when its calibrated coverage c_k(ε) times what an
     * exit there saves, (L - d) layers plus the final classifier, exceeds what asking it costs, all in bytes
     * of weights read (decoding one token is memory-bound).
     */
    public static double[] worthwhile(double[] thresholds, double[] coverage, int[] headLayers, long[] headBytes,
                                      long layerBytes, long classifierBytes, int modelLayers) {
        double[] t = thresholds.clone();
        for (int k = 0; k < t.length; k++) {
            double saved = coverage[k] * ((double) (modelLayers - headLayers[k]) * layerBytes + classifierBytes);
            if (!(saved > headBytes[k])) {
                t[k] = Double.POSITIVE_INFINITY;
            }
        }
        return t;
    }

    /**
     * The subset of heads that minimizes the expected time per token, from measured costs and each head's
     * calibrated coverage at ε. Tokens are assumed nested (a token confident enough to exit at one head
     * would also exit at a later one), so the share still running after a set of heads is one minus the
     * largest coverage among them. Every subset of the heads that can exit is tried (2^K, K <= ~10).
     */
    public static double[] fastest(double[] thresholds, double[] coverage, int[] headLayers, MeasuredCosts costs,
                                   int modelLayers) {
        int K = thresholds.length;
        if (K > 16) {
            throw new IllegalArgumentException("--consult auto considers at most 16 heads, got " + K);
        }
        int bestMask = 0;
        double best = Double.POSITIVE_INFINITY;
        for (int mask = 0; mask < (1 << K); mask++) {
            double cost = expectedCost(mask, thresholds, coverage, headLayers, costs, modelLayers);
            if (cost < best - 1e-12) {
                best = cost;
                bestMask = mask;
            }
        }
        double[] t = thresholds.clone();
        for (int k = 0; k < K; k++) {
            if ((bestMask & (1 << k)) == 0) {
                t[k] = Double.POSITIVE_INFINITY;
            }
        }
        return t;
    }

    /** Expected milliseconds per token consulting the heads in mask (NaN-free; +∞ for a head that cannot exit). */
    static double expectedCost(int mask, double[] thresholds, double[] coverage, int[] headLayers, MeasuredCosts c,
                               int modelLayers) {
        double running = 1;
        double covered = 0;
        int previous = 0;
        double cost = 0;
        for (int k = 0; k < thresholds.length; k++) {
            if ((mask & (1 << k)) == 0) {
                continue;
            }
            if (Double.isInfinite(thresholds[k])) {
                return Double.POSITIVE_INFINITY;
            }
            cost += running * (c.layerMs() * (headLayers[k] - previous) + c.headMs());
            covered = Math.max(covered, coverage[k]);
            running = 1 - covered;
            previous = headLayers[k];
        }
        return cost + running * (c.layerMs() * (modelLayers - previous) + c.classifierMs());
    }
}
