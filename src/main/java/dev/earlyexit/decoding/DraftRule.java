package dev.earlyexit.decoding;

/**
 * How self-speculative decoding drafts: at which head a drafting token leaves, and when a draft stops.
 * Both decisions may use the window's acceptance estimate, the product of the estimated acceptance
 * chances of the tokens drafted so far in this round (1 at the start of a round), which depends only on
 * the prefix: the output stays the full model's whatever the rule decides.
 */
public interface DraftRule {

    /**
     * Whether the draft from head {@code headIndex} is taken: its estimated chance of being accepted
     * (in (0, 1]; the window's estimate is multiplied by it), or 0 when the token does not leave here.
     *
     * @param headProbs the head's softmax (temperature 1, no filtering) in [0, n); only read
     * @param window    the window's acceptance estimate before this token
     */
    double exitChance(int headIndex, float[] headProbs, int n, double window);

    /** Whether to run the newest window token on to draft one more (asked before every draft step). */
    boolean keepDrafting(double window);

    /**
     * At verification, whether to run the round's last draft through the model too when no layer has run
     * it yet: its logits give one more token when every draft holds, at the cost of a pass that is lost
     * when one does not. {@code window} is the estimate that every draft of the round holds.
     */
    default boolean runLastDraft(double window) {
        return true;
    }

    /** A fixed exit criterion: tokens leave where it passes, drafts stop only at a token no head is sure of. */
    static DraftRule of(ExitCriterion criterion) {
        return new DraftRule() {
            @Override
            public double exitChance(int headIndex, float[] headProbs, int n, double window) {
                return criterion.exits(headIndex, headProbs, n) ? 1.0 : 0.0;
            }

            @Override
            public boolean keepDrafting(double window) {
                return true;
            }

            @Override
            public String toString() {
                return criterion.toString();
            }
        };
    }
}
