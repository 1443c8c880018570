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
}
