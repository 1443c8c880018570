package dev.earlyexit.calibration;

import java.util.ArrayList;
import java.util.List;

/**
 * Chooses DSSD's default {@link DraftPlan} for one metric: which heads to consult, the draft and stop
 * thresholds and the maximum draft, by replaying greedy DSSD over the calibration set with the measured
 * costs and keeping the setting with the least time per token.
 *
 * <h2>The replay</h2>
 * The calibration set is the model's own text, probed at every position: each head's confidence and
 * whether its argmax equals the model's. A round starts at a position; the drafts are the heads'
 * choices at the following positions, taken by the plan's rule on those confidences, and the
 * verification accepts them up to the first one a head got wrong (as greedy verification does). The
 * search compares every head subset on a coarse grid, takes every draft threshold, stop threshold and
 * maximum draft for the best few subsets (the last draft always run at verification), then tries each
 * last-draft threshold on the best few settings, and finally weighs the LayerSkip-style baseline (one
 * head, every draft length up to the limit), so the plan is never predicted slower than it. Beside the
 * plan it stores that baseline's time and a clairvoyant rule's (one that knows which drafts the model will
 * reject): what a better rule could still gain on these heads. The time of a round is counted the way
 * {@link dev.earlyexit.decoding.SelfSpeculativeDecoder} spends it:
 * layers run one row at a time while drafting and as blocks (t_layer + (rows - 1) x t_row) when a deeper
 * token carries earlier ones along and at verification, a head call per head asked, and the classifier
 * over the window as one block. The full model costs L x t_layer + t_classifier per token.
 *
 * <p>The replay follows the text the model wrote, so a draft after a rejected one is judged on
 * positions the real decoder would not have reached; those drafts are thrown away either way, only their
 * count is approximate.
 */
public final class DraftPlanner {
    /** 0 lets every draft through: with a continue threshold of 0 that is a fixed-length draft. */
    static final double[] DRAFT_THRESHOLDS = {0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9};
    static final double[] CONTINUE_THRESHOLDS = {0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8};
    static final int[] MAX_DRAFTS = {2, 4, 8, 12, 16};
    /** 0: always run the last draft at verification; above 1 (no window reaches it): never. */
    static final double[] LAST_DRAFT_THRESHOLDS = {0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 1.5};
    /** Settings of the full grid that the last stage refines with each last-draft threshold. */
    static final int REFINED = 12;
    /** Head subsets are first compared on this coarse grid; the full grid runs for the best few. */
    static final double[] COARSE_DRAFT_THRESHOLDS = {0.1, 0.4, 0.7};
    static final double[] COARSE_CONTINUE_THRESHOLDS = {0.0, 0.5, 0.8};
    static final int PROMISING_SUBSETS = 4;
    /** With more heads than this only subsets of up to three heads are tried (2^K grows fast). */
    static final int ALL_SUBSETS_UP_TO = 10;

    private final double[][] chance;    // [head][position]: the acceptance model's estimate
    private final boolean[][] agrees;   // [head][position]
    private final int[] sequenceStarts; // positions where a sequence of the set begins, then the end
    private final int[] layers;
    private final int modelLayers;
    private final MeasuredCosts costs;

    private DraftPlanner(double[][] chance, boolean[][] agrees, int[] sequenceStarts, int[] layers, int modelLayers,
                         MeasuredCosts costs) {
        this.chance = chance;
        this.agrees = agrees;
        this.sequenceStarts = sequenceStarts;
        this.layers = layers;
        this.modelLayers = modelLayers;
        this.costs = costs;
    }

    /** What one replay predicts. */
    record Outcome(double msPerToken, long tokens, long drafted, long accepted, long verifications) {
        double acceptance() {
            return drafted == 0 ? 0 : (double) accepted / drafted;
        }

        double acceptedPerVerification() {
            return verifications == 0 ? 0 : (double) accepted / verifications;
        }
    }

    /**
     * The plan with the least predicted time per token for one metric of a collected calibration set.
     *
     * @param models        each head's acceptance model for this metric (from the stored curves)
     * @param maxDraftLimit plans draft at most this many tokens (>= 1)
     */
    public static DraftPlan plan(Calibrator.Collected set, String metric, AcceptanceModel[] models,
                                 MeasuredCosts costs, int modelLayers, int maxDraftLimit) {
        if (!costs.hasBlockCosts()) {
            throw new IllegalArgumentException("a draft plan needs the block-row costs (measured by calibrate)");
        }
        return replayer(set, metric, models, costs, modelLayers).best(metric, maxDraftLimit);
    }

    /** The replay of one metric of a collected set, for {@link #replay}. */
    static DraftPlanner replayer(Calibrator.Collected set, String metric, AcceptanceModel[] models,
                                 MeasuredCosts costs, int modelLayers) {
        int m = set.metricIndex(metric);
        int K = set.layers().length;
        int N = set.positions();
        double[][] chance = new double[K][N];
        for (int k = 0; k < K; k++) {
            for (int i = 0; i < N; i++) {
                chance[k][i] = models[k].probability(set.confidence()[m][k][i]);
            }
        }
        return new DraftPlanner(chance, set.agrees(), set.sequenceBounds(), set.layers(), modelLayers, costs);
    }

    /** One setting of the search and what its replay predicts. */
    private record Tried(int[] heads, double draft, double stop, double last, int maxDraft, Outcome outcome) {
    }

    private DraftPlan best(String metric, int maxDraftLimit) {
        // Head subsets first on a coarse grid; the full grid only for the most promising few.
        List<Tried> coarse = new ArrayList<>();
        for (int[] heads : subsets(layers.length)) {
            Tried bestOfSubset = null;
            for (int maxDraft : new int[] {Math.min(4, maxDraftLimit), Math.min(12, maxDraftLimit)}) {
                for (double draft : COARSE_DRAFT_THRESHOLDS) {
                    for (double stop : COARSE_CONTINUE_THRESHOLDS) {
                        Outcome o = replay(heads, draft, stop, 0.0, maxDraft);
                        if (bestOfSubset == null || o.msPerToken() < bestOfSubset.outcome().msPerToken()) {
                            bestOfSubset = new Tried(heads, draft, stop, 0.0, maxDraft, o);
                        }
                    }
                }
            }
            coarse.add(bestOfSubset);
        }
        coarse.sort(java.util.Comparator.comparingDouble(t -> t.outcome().msPerToken()));
        List<Tried> first = new ArrayList<>();
        for (Tried promising : coarse.subList(0, Math.min(PROMISING_SUBSETS, coarse.size()))) {
            int[] heads = promising.heads();
            for (int maxDraft : maxDrafts(maxDraftLimit)) {
                for (double draft : DRAFT_THRESHOLDS) {
                    for (double stop : CONTINUE_THRESHOLDS) {
                        first.add(new Tried(heads, draft, stop, 0.0, maxDraft, replay(heads, draft, stop, 0.0, maxDraft)));
                    }
                }
            }
        }
        // Stable sort: among equal times the earlier, simpler setting (fewer heads, shorter drafts) stays first.
        first.sort(java.util.Comparator.comparingDouble(t -> t.outcome().msPerToken()));
        Tried best = first.get(0);
        for (Tried t : first.subList(0, Math.min(REFINED, first.size()))) {
            for (double last : LAST_DRAFT_THRESHOLDS) {
                Outcome o = replay(t.heads(), t.draft(), t.stop(), last, t.maxDraft());
                if (o.msPerToken() < best.outcome().msPerToken() * (1 - 1e-9)) {
                    best = new Tried(t.heads(), t.draft(), t.stop(), last, t.maxDraft(), o);
                }
            }
        }
        // The grid's lengths are coarser than the baseline's sweep: the plan is never slower than the best
        // fixed-length draft on this set.
        Tried fixed = bestFixedSetting(maxDraftLimit);
        if (fixed.outcome().msPerToken() < best.outcome().msPerToken()) {
            best = fixed;
        }
        int[] ls = new int[best.heads().length];
        for (int i = 0; i < ls.length; i++) {
            ls[i] = layers[best.heads()[i]];
        }
        Outcome o = best.outcome();
        double full = modelLayers * costs.layerMs() + costs.classifierMs();
        return new DraftPlan(metric, ls, best.draft(), best.stop(), best.last(), best.maxDraft(), o.msPerToken(), full,
                o.acceptance(), o.acceptedPerVerification(), fixed.outcome().msPerToken(),
                clairvoyant(best, maxDraftLimit).msPerToken());
    }

    /** The LayerSkip-style baseline on this set: one head, a fixed draft length, the fastest of them. */
    Outcome bestFixed(int maxDraftLimit) {
        return bestFixedSetting(maxDraftLimit).outcome();
    }

    private Tried bestFixedSetting(int maxDraftLimit) {
        Tried best = null;
        for (int k = 0; k < layers.length; k++) {
            for (int length = 1; length <= maxDraftLimit; length++) {
                Outcome o = replay(new int[] {k}, 0.0, 0.0, 0.0, length);
                if (best == null || o.msPerToken() < best.outcome().msPerToken()) {
                    best = new Tried(new int[] {k}, 0.0, 0.0, 0.0, length, o);
                }
            }
        }
        return best;
    }

    /**
     * What these heads could do if the drafting rule knew which drafts the model will reject: the plan's
     * own setting, and drafts of every length up to the limit, each taking a draft only where the head
     * agrees with the model; the fastest of them. No stop rule on these confidences can beat it by much,
     * so the distance from the plan to it is what a better rule could still gain.
     */
    Outcome clairvoyant(Tried plan, int maxDraftLimit) {
        double[][] known = new double[chance.length][];
        for (int k = 0; k < known.length; k++) {
            known[k] = new double[agrees[k].length];
            for (int i = 0; i < known[k].length; i++) {
                known[k][i] = agrees[k][i] ? chance[k][i] : 0;
            }
        }
        DraftPlanner knowing = new DraftPlanner(known, agrees, sequenceStarts, layers, modelLayers, costs);
        Outcome best = knowing.replay(plan.heads(), plan.draft(), plan.stop(), plan.last(), plan.maxDraft());
        for (int length = 1; length <= maxDraftLimit; length++) {
            Outcome o = knowing.replay(plan.heads(), 0.0, 0.0, 0.0, length);
            if (o.msPerToken() < best.msPerToken()) {
                best = o;
            }
        }
        return best;
    }

    /** {@link #clairvoyant} for a stored plan's setting, by head index. */
    Outcome clairvoyant(int[] heads, double draft, double stop, double last, int maxDraft, int maxDraftLimit) {
        return clairvoyant(new Tried(heads, draft, stop, last, maxDraft, null), maxDraftLimit);
    }

    private static List<Integer> maxDrafts(int limit) {
        List<Integer> l = new ArrayList<>();
        for (int d : MAX_DRAFTS) {
            if (d <= limit) {
                l.add(d);
            }
        }
        if (l.isEmpty() || l.get(l.size() - 1) < limit && limit < MAX_DRAFTS[MAX_DRAFTS.length - 1]) {
            l.add(limit);
        }
        return l;
    }

    /** Head-index subsets (ascending), smallest first; all of them up to ALL_SUBSETS_UP_TO heads. */
    static List<int[]> subsets(int K) {
        List<int[]> out = new ArrayList<>();
        for (int size = 1; size <= K; size++) {
            if (K > ALL_SUBSETS_UP_TO && size > 3) {
                break;
            }
            collect(K, size, 0, new int[size], 0, out);
        }
        return out;
    }

    private static void collect(int K, int size, int from, int[] chosen, int filled, List<int[]> out) {
        if (filled == size) {
            out.add(chosen.clone());
            return;
        }
        for (int k = from; k < K; k++) {
            chosen[filled] = k;
            collect(K, size, k + 1, chosen, filled + 1, out);
        }
    }

    /** Greedy DSSD with this setting over the calibration set: predicted time per token and counts. */
    Outcome replay(int[] heads, double draftThreshold, double continueThreshold, double lastDraftThreshold,
                   int maxDraft) {
        int[] depth = new int[maxDraft + 1];
        boolean[] right = new boolean[maxDraft + 1];
        double ms = 0;
        long tokens = 0;
        long drafted = 0;
        long accepted = 0;
        long verifications = 0;
        for (int s = 0; s + 1 < sequenceStarts.length; s++) {
            int end = sequenceStarts[s + 1];
            int pos = sequenceStarts[s];
            while (pos < end) {
                int count = 1;
                depth[0] = 0;
                double window = 1;
                while (count <= maxDraft && pos + count - 1 < end && window >= continueThreshold) {
                    int t = pos + count - 1; // the newest window token's position: its heads draft the next
                    int exit = -1;
                    double p = 0;
                    for (int k : heads) {
                        ms += advance(depth, count, layers[k]) + costs.headMs();
                        p = chance[k][t];
                        if (p > 0 && window * p >= draftThreshold) { // as the decoder's rule: never at 0
                            exit = k;
                            break;
                        }
                    }
                    if (exit < 0) {
                        break;
                    }
                    window *= p;
                    right[count] = agrees[exit][t];
                    depth[count] = 0;
                    count++;
                }
                // A last draft no layer has run is left out unless the window is likely to hold entirely.
                int judged = count > 1 && depth[count - 1] == 0 && window < lastDraftThreshold ? count - 1 : count;
                ms += advance(depth, judged, modelLayers) + costs.classifierMs()
                        + (judged - 1) * costs.classifierRowMs();
                int a = 0;
                while (a < count - 1 && right[a + 1]) {
                    a++;
                }
                drafted += count - 1;
                accepted += a;
                if (count > 1) {
                    verifications++;
                }
                int step = a == judged ? a : a + 1; // every draft held and the last was unrun: no bonus
                tokens += Math.min(step, end - pos);
                pos += step;
            }
        }
        return new Outcome(tokens == 0 ? Double.POSITIVE_INFINITY : ms / tokens, tokens, drafted, accepted,
                verifications);
    }

    /**
     * The cost of bringing window tokens [0, count) to depth >= target, as the decoder does: the suffix
     * below a layer runs as one block through each stretch of layers it needs.
     */
    private double advance(int[] depth, int count, int target) {
        double ms = 0;
        while (depth[count - 1] < target) {
            int lo = depth[count - 1];
            int s = count - 1;
            while (s > 0 && depth[s - 1] == lo) {
                s--;
            }
            int hi = s > 0 ? Math.min(target, depth[s - 1]) : target;
            int rows = count - s;
            ms += (hi - lo) * (costs.layerMs() + (rows - 1) * costs.layerRowMs());
            for (int t = s; t < count; t++) {
                depth[t] = hi;
            }
        }
        return ms;
    }
}
