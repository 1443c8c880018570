package dev.earlyexit.eval;

import java.util.List;

/**
 * Scores log-likelihood requests under one or more settings: setting 0 is the full model, then one per
 * early-exit ε. The requests of one example come together so a scorer can share their context.
 */
public interface LoglikelihoodScorer {
    /** Number of settings every request is scored under (1 for the full model alone). */
    int settings();

    /** Layer of each exit reported in {@link Outcome#exitsPerLayer} (the last: the model's layer count). */
    int[] exitLayers();

    /** [request][setting] outcomes for the requests of one example. */
    Outcome[][] score(List<Request> requests);
}
