package dev.earlyexit.calibration;

import java.util.Locale;

/**
 * How a head's threshold is read from its calibration curve.
 *
 * <p>{@link Kind#PAPER}: the paper's rule, the lowest τ whose exiting tokens agreed with the model at
 * rate at least ε on the calibration set (an empirical precision, no guarantee on new text).
 *
 * <p>{@link Kind#GUARANTEE}: Learn-then-Test with fixed-sequence testing, as CALM does. Candidate
 * thresholds are tested from the most confident end down; each test asks whether the Clopper-Pearson
 * (1 − δ) lower bound on the agreement of the tokens that would exit is at least ε; the scan stops at
 * the first failure and τ is the lowest threshold passed. Fixed-sequence testing needs no multiplicity
 * correction, so with probability at least 1 − δ the chosen τ's exiting tokens agree at rate >= ε.
 * Candidates with too few exits to pass even if all agreed (fewer than ln δ / ln ε) are not tested:
 * they would fail with certainty and end the scan before it began, and which ones they are depends on
 * the count alone, not on agreement.
 */
public record ThresholdRule(Kind kind, double delta) {
    public enum Kind { PAPER, GUARANTEE }

    public static final double DEFAULT_DELTA = 0.1;
    public static final ThresholdRule PAPER = new ThresholdRule(Kind.PAPER, Double.NaN);
    /** The default: the guarantee at δ = 0.1. */
    public static final ThresholdRule DEFAULT = guarantee(DEFAULT_DELTA);

    public ThresholdRule {
        if (kind == Kind.GUARANTEE) {
            ClopperPearson.checkDelta(delta);
        }
    }

    public static ThresholdRule guarantee(double delta) {
        return new ThresholdRule(Kind.GUARANTEE, delta);
    }

    /** From the command line's --rule and --delta. */
    public static ThresholdRule parse(String rule, double delta) {
        return switch (rule.toLowerCase(Locale.ROOT)) {
            case "paper" -> PAPER;
            case "guarantee" -> guarantee(delta);
            default -> throw new IllegalArgumentException("unknown threshold rule '" + rule
                    + "' (use 'guarantee' or 'paper')");
        };
    }

    public String id() {
        return kind == Kind.PAPER ? "paper" : "guarantee";
    }

    @Override
    public String toString() {
        return kind == Kind.PAPER ? "paper" : "guarantee (delta " + delta + ")";
    }
}
