package dev.earlyexit.eval;

import dev.earlyexit.calibration.ConfidenceMetric;
import dev.earlyexit.calibration.SequenceProbe;
import dev.earlyexit.decoding.TeacherForcedExit;
import dev.earlyexit.exits.ExitHead;
import dev.earlyexit.exits.HeadSet;
import dev.earlyexit.model.Transformer;

import java.util.ArrayList;
import java.util.List;

/**
 * Scores requests on a model, teacher-forced: one {@link SequenceProbe} per (context, continuation)
 * gives, at every continuation position, the full model's and every consulted head's answer, and
 * {@link TeacherForcedExit} picks the distribution early exit uses there at each ε, so any number of ε
 * cost one model run. The probe computes classifiers only at the continuation's positions and keeps
 * the KV entries of a context shared with the previous request (the choices of one example).
 */
public final class ModelScorer implements LoglikelihoodScorer {
    private final PairTokenizer tokenizer;
    private final HeadSet heads;
    private final List<double[]> thresholds;
    private final ConfidenceMetric metric;
    private final SequenceProbe probe;
    private final int modelLayers;

    /** The full model alone. */
    public static ModelScorer full(Transformer model, PairTokenizer tokenizer, ConfidenceMetric metric) {
        return new ModelScorer(model, tokenizer, new HeadSet("none", "none", List.of()), metric, List.of());
    }

    /**
     * @param thresholds per ε, each head's threshold (+∞: never exits), in the order of {@code heads};
     *                   heads no ε consults are not computed at all
     */
    public ModelScorer(Transformer model, PairTokenizer tokenizer, HeadSet heads, ConfidenceMetric metric,
                       List<double[]> thresholds) {
        this.tokenizer = tokenizer;
        this.metric = metric;
        this.modelLayers = model.config().layers();
        List<ExitHead> consulted = new ArrayList<>();
        List<Integer> kept = new ArrayList<>();
        for (int k = 0; k < heads.size(); k++) {
            for (double[] tau : thresholds) {
                if (tau[k] < Double.POSITIVE_INFINITY) {
                    consulted.add(heads.head(k));
                    kept.add(k);
                    break;
                }
            }
        }
        this.heads = new HeadSet(heads.name(), heads.identity(), consulted);
        this.thresholds = new ArrayList<>();
        for (double[] tau : thresholds) {
            this.thresholds.add(kept.stream().mapToDouble(k -> tau[k]).toArray());
        }
        this.probe = new SequenceProbe(model, this.heads, List.of(metric));
    }

    @Override
    public int settings() {
        return 1 + thresholds.size();
    }

    @Override
    public int[] exitLayers() {
        int[] layers = new int[heads.size() + 1];
        for (int k = 0; k < heads.size(); k++) {
            layers[k] = heads.head(k).layer();
        }
        layers[heads.size()] = modelLayers;
        return layers;
    }

    public ConfidenceMetric metric() {
        return metric;
    }

    @Override
    public Outcome[][] score(List<Request> requests) {
        Outcome[][] out = new Outcome[requests.size()][];
        for (int i = 0; i < requests.size(); i++) {
            out[i] = score(tokenizer.encode(requests.get(i)));
        }
        return out;
    }

    /** Every setting's outcome for one tokenized pair. */
    public Outcome[] score(PairTokenizer.Pair pair) {
        int[] ids = pair.ids();
        int first = pair.continuationStart();
        int K = heads.size();
        Outcome[] out = new Outcome[settings()];
        if (pair.continuationLength() == 0) {
            for (int s = 0; s < out.length; s++) {
                out[s] = new Outcome(0, true, 0, 0, 0, 0, new int[K + 1], pair.truncated());
            }
            return out;
        }
        // Position t predicts ids[t + 1]: the continuation is predicted at [first - 1, n - 1), and the last
        // token is only a target, never run.
        SequenceProbe.Result r = probe.run(ids, first - 1, ids.length - 1);
        double[][] confidence = r.confidence()[0];
        for (int s = 0; s < out.length; s++) {
            double[] tau = s == 0 ? TeacherForcedExit.FULL_MODEL : thresholds.get(s - 1);
            double ll = 0;
            boolean greedy = true;
            long layers = 0;
            int agreeing = 0;
            int uncovered = 0;
            int[] exits = new int[K + 1];
            for (int t = first - 1; t < ids.length - 1; t++) {
                TeacherForcedExit.Position p = TeacherForcedExit.at(r, confidence, t, tau, heads, modelLayers);
                ll += p.logProb();
                greedy &= p.chosen() == ids[t + 1];
                layers += p.layers();
                if (p.chosen() == r.modelArgmax()[t]) {
                    agreeing++;
                }
                if (p.uncovered()) {
                    uncovered++;
                }
                exits[p.head() < 0 ? K : p.head()]++;
            }
            out[s] = new Outcome(ll, greedy, pair.continuationLength(), layers, agreeing, uncovered, exits,
                    pair.truncated());
        }
        return out;
    }
}
