package dev.earlyexit.cli;

import dev.earlyexit.calibration.ConfidenceMetric;
import dev.earlyexit.calibration.SequenceProbe;
import dev.earlyexit.decoding.TeacherForcedExit;
import dev.earlyexit.exits.HeadSet;
import dev.earlyexit.model.Transformer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Teacher-forced scoring of one token sequence under several threshold sets at once (the bench's ε
 * sweep), by the rules of {@code score --mode early-exit}: at every position the exit early-exit
 * decoding would take is found from the recorded confidences ({@link TeacherForcedExit}), and that
 * exit's distribution is scored: log-probability of the text's next token, agreement of its argmax with
 * the full model's, layers run. The model and every head run once per context window ({@link SequenceProbe}), whatever the
 * number of threshold sets, so a sweep costs about one scoring pass. {@link TeacherForcedExit#FULL_MODEL}
 * scores the full model itself.
 */
public final class TeacherForcedScoring {
    private TeacherForcedScoring() {
    }

    /** Context windows needed for n tokens: consecutive windows share one token, so each is predicted once. */
    public static int windows(int n, int window) {
        return n < 2 ? 0 : (n - 2) / (window - 1) + 1;
    }

    /**
     * One result per threshold set, in order: tokens, agreement, perplexity, mean_layers,
     * exits_per_layer (every head's layer and the model's, summing to tokens), uncovered_tokens.
     *
     * @param thresholds per set, τ per head of {@code heads}; +∞ = that head never answers
     * @param progress   stepped once per context window
     */
    public static List<Map<String, Object>> score(Transformer model, HeadSet heads, ConfidenceMetric metric, int[] ids,
                                           List<double[]> thresholds, Progress progress) {
        int L = model.config().layers();
        int window = model.config().maxSeqLen();
        Tally[] tallies = new Tally[thresholds.size()];
        for (int s = 0; s < tallies.length; s++) {
            tallies[s] = new Tally(heads.size());
        }
        SequenceProbe probe = new SequenceProbe(model, heads, List.of(metric));
        for (int start = 0; start < ids.length - 1; start += window - 1) {
            int[] w = Arrays.copyOfRange(ids, start, Math.min(ids.length, start + window));
            SequenceProbe.Result r = probe.run(w);
            for (int s = 0; s < tallies.length; s++) {
                for (int t = 0; t < w.length - 1; t++) {
                    TeacherForcedExit.Position p = TeacherForcedExit.at(r, r.confidence()[0], t, thresholds.get(s),
                            heads, L);
                    tallies[s].add(p, p.chosen() == r.modelArgmax()[t]);
                }
            }
            progress.step();
        }
        List<Map<String, Object>> results = new ArrayList<>();
        for (Tally t : tallies) {
            results.add(t.toJson(heads, L));
        }
        return results;
    }

    /** Running sums of one threshold set. */
    private static final class Tally {
        final long[] exits;
        long tokens;
        long agreeing;
        long layers;
        long uncovered;
        double negLogLikelihood;

        Tally(int heads) {
            exits = new long[heads + 1];
        }

        void add(TeacherForcedExit.Position p, boolean agrees) {
            uncovered += p.uncovered() ? 1 : 0;
            negLogLikelihood -= p.logProb();
            exits[p.head() < 0 ? exits.length - 1 : p.head()]++; // the last slot is the full model's
            layers += p.layers();
            agreeing += agrees ? 1 : 0;
            tokens++;
        }

        Map<String, Object> toJson(HeadSet heads, int modelLayers) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("tokens", tokens);
            m.put("agreement", GenerateCommand.round((double) agreeing / tokens));
            m.put("perplexity", GenerateCommand.round(Math.exp(negLogLikelihood / tokens)));
            m.put("mean_layers", GenerateCommand.round((double) layers / tokens));
            Map<String, Long> perLayer = new LinkedHashMap<>();
            String[] labels = HeadSet.exitLabels(heads.layers(), modelLayers);
            for (int k = 0; k < exits.length; k++) {
                perLayer.put(labels[k], exits[k]);
            }
            m.put("exits_per_layer", perLayer);
            m.put("uncovered_tokens", uncovered);
            return m;
        }
    }
}
