package dev.earlyexit.decoding;

import dev.earlyexit.calibration.SequenceProbe;
import dev.earlyexit.exits.HeadSet;

/**
 * Which distribution early exit uses at one position of a teacher-forced sequence, read off a
 * {@link SequenceProbe}: the first consulted head whose confidence reaches its threshold answers
 * ({@link EarlyExitDecoder#exitingHead}), else the full model. Shared by every teacher-forced measure
 * (score, eval) so they agree on what "the early-exit log-probability" of a token is.
 */
public final class TeacherForcedExit {
    /** Probability given to a token the answering head cannot produce (a reduced-vocabulary head). */
    public static final double UNCOVERED_PROBABILITY = 1e-9;
    /** Thresholds under which no head answers: every position gets the full model's distribution. */
    public static final double[] FULL_MODEL = {};

    private TeacherForcedExit() {
    }

    /**
     * The answer at one position.
     *
     * @param head      index of the answering head, or -1 for the full model
     * @param chosen    the answering distribution's argmax
     * @param logProb   log-probability of the sequence's next token under it (the uncovered floor where the
     *                  head cannot produce that token)
     * @param uncovered whether that floor was used
     * @param layers    layers the token ran through (the head's layer, or all of the model's)
     */
    public record Position(int head, int chosen, double logProb, boolean uncovered, int layers) {
    }

    /**
     * The answer at position t of a probed sequence.
     *
     * @param confidence [head][position] the consulted metric's confidences ({@code probe.confidence()[m]})
     * @param thresholds per head (+∞: never exits); {@link #FULL_MODEL} for the full model alone
     */
    public static Position at(SequenceProbe.Result probe, double[][] confidence, int t, double[] thresholds,
                              HeadSet heads, int modelLayers) {
        int k = EarlyExitDecoder.exitingHead(confidence, t, thresholds);
        int chosen = k < 0 ? probe.modelArgmax()[t] : probe.headArgmax()[k][t];
        double lp = k < 0 ? probe.modelLogProb()[t] : probe.headLogProb()[k][t];
        boolean uncovered = lp == Double.NEGATIVE_INFINITY;
        if (uncovered) {
            lp = Math.log(UNCOVERED_PROBABILITY);
        }
        return new Position(k, chosen, lp, uncovered, k < 0 ? modelLayers : heads.head(k).layer());
    }
}
