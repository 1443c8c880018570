package dev.earlyexit.decoding;

import java.util.Arrays;

/**
 * Whether a drafting token may leave at an exit head: the decision self-speculative decoding asks at
 * every head a drafted token reaches, in ascending layer order. It must depend only on what it is
 * given (the head and its distribution), so that the draft is a function of the prefix.
 */
@FunctionalInterface
public interface ExitCriterion {

    /**
     * @param headIndex index of the head in the decoder's head list
     * @param headProbs the head's softmax (temperature 1, no filtering) in [0, n); only read
     * @param n         the head's output size
     */
    boolean exits(int headIndex, float[] headProbs, int n);

    /** Every token exits at the first head asked: the LayerSkip-style baseline (one head, fixed length). */
    static ExitCriterion always() {
        return (headIndex, headProbs, n) -> true;
    }

    /** Exits when the head's largest probability reaches the threshold (one value for every head). */
    static ExitCriterion maxProbability(float threshold) {
        return new MaxProbability(new float[] {threshold});
    }

    /** Exits when head k's largest probability reaches thresholds[k] (NaN or > 1: never exits there). */
    static ExitCriterion maxProbability(float[] thresholds) {
        return new MaxProbability(thresholds.clone());
    }

    /** A confidence score of a head's distribution; a calibration metric fits as {@code metric::confidence}. */
    @FunctionalInterface
    interface Confidence {
        double of(float[] probs, int n);
    }

    /**
     * Exits at head k when confidence(probs) >= thresholds[k] (calibrated thresholds for one ε); NaN or
     * +∞ never exits there (better: leave such heads out of the decoder, which saves their calls).
     */
    static ExitCriterion atLeast(Confidence confidence, double[] thresholds) {
        double[] taus = thresholds.clone();
        return (headIndex, headProbs, n) -> {
            double tau = taus[headIndex];
            return tau < Double.POSITIVE_INFINITY && confidence.of(headProbs, n) >= tau;
        };
    }

    /** The simple confidence rule: max_i p_i >= τ_k. */
    final class MaxProbability implements ExitCriterion {
        private final float[] thresholds;

        MaxProbability(float[] thresholds) {
            if (thresholds.length == 0) {
                throw new IllegalArgumentException("give at least one threshold");
            }
            this.thresholds = thresholds;
        }

        @Override
        public boolean exits(int headIndex, float[] headProbs, int n) {
            float tau = thresholds[thresholds.length == 1 ? 0 : headIndex];
            if (!(tau <= 1f)) {
                return false;
            }
            float max = 0f;
            for (int i = 0; i < n; i++) {
                max = Math.max(max, headProbs[i]);
            }
            return max >= tau;
        }

        @Override
        public String toString() {
            return "maxProbability" + Arrays.toString(thresholds);
        }
    }
}
