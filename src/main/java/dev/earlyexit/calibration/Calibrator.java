package dev.earlyexit.calibration;

import dev.earlyexit.decoding.EarlyExitDecoder;
import dev.earlyexit.decoding.BatchedGenerator;
import dev.earlyexit.decoding.SamplingOptions;
import dev.earlyexit.exits.HeadSet;
import dev.earlyexit.model.Transformer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Makes a calibration the paper's way: the model writes its own calibration set from calibration prompts
 * (sampled, seeded), every position of it is probed teacher-forced, and each head's (confidence, head
 * argmax = model argmax) pairs become that head's {@link ThresholdCurve}. {@link #check} measures the
 * promise on a held-out set: among tokens that exit at a head, the share agreeing with the full model.
 */
public final class Calibrator {
    /** The paper's calibration prompts (distinct from its head-training prompts). */
    public static final List<String> CALIBRATION_PROMPTS = List.of("A cat is", "In Python, a list is",
            "In C, we can define a function", "The capital of France is", "The derivative of x^2 is");
    /** Held-out prompts, used by neither training nor calibration. */
    public static final List<String> HELD_OUT_PROMPTS = List.of("Once upon a time", "Tom and Lily were playing",
            "The little dog", "One day, a girl named", "It was a sunny day and");
    /** The ε values the held-out check reports. */
    public static final double[] CHECK_EPSILONS = {0.8, 0.9, 0.95, 0.99};
    /** Exits below this count are reported but not judged. */
    public static final int MIN_EXITS_TO_JUDGE = 30;

    private Calibrator() {
    }

    /** How the model writes a calibration (or held-out) set. */
    public record SetOptions(int samplesPerPrompt, int maxTokens, float temperature, float topP, long seed) {
        public static final SetOptions DEFAULT = new SetOptions(4, 128, 1.0f, 0.95f, 1234L);

        public SetOptions {
            if (samplesPerPrompt < 1 || maxTokens < 1) {
                throw new IllegalArgumentException("samples per prompt and tokens per sample must be >= 1");
            }
        }
    }

    /** A sequence the model wrote: prompt then continuation. */
    public record Sequence(int[] ids, int promptLength) {
    }

    /**
     * Every probed position of a set: confidences, and whether each head agreed with the model.
     *
     * @param sequenceBounds where each sequence's positions begin, in order, then {@code positions}
     */
    public record Collected(List<String> metrics, int[] layers, double[][][] confidence, boolean[][] agrees,
                            int positions, int[] sequenceBounds) {
        /** A set read as one sequence. */
        public Collected(List<String> metrics, int[] layers, double[][][] confidence, boolean[][] agrees,
                         int positions) {
            this(metrics, layers, confidence, agrees, positions, new int[] {0, positions});
        }

        public int metricIndex(String metric) {
            int i = metrics.indexOf(metric);
            if (i < 0) {
                throw new IllegalArgumentException("no confidences collected for metric '" + metric + "'");
            }
            return i;
        }
    }

    /**
     * The model's continuations of each prompt: samplesPerPrompt sampled, seeded sequences per prompt,
     * decoded {@link BatchedGenerator#MAX_ROWS} at a time (each as it would be alone).
     */
    public static List<Sequence> generate(Transformer model, List<int[]> prompts, SetOptions o) {
        int jobs = prompts.size() * o.samplesPerPrompt();
        int[][] starts = new int[jobs][];
        SamplingOptions[] options = new SamplingOptions[jobs];
        for (int p = 0; p < prompts.size(); p++) {
            for (int s = 0; s < o.samplesPerPrompt(); s++) {
                int j = p * o.samplesPerPrompt() + s;
                starts[j] = prompts.get(p);
                options[j] = new SamplingOptions(o.temperature(), 0, o.topP(), o.seed() + 1000L * p + s);
            }
        }
        int[][] generated = BatchedGenerator.generate(model, starts, options, o.maxTokens(), BatchedGenerator.MAX_ROWS, null);
        List<Sequence> set = new ArrayList<>();
        for (int j = 0; j < jobs; j++) {
            int[] ids = Arrays.copyOf(starts[j], starts[j].length + generated[j].length);
            System.arraycopy(generated[j], 0, ids, starts[j].length, generated[j].length);
            set.add(new Sequence(ids, starts[j].length));
        }
        return set;
    }

    /** Probes every position from the last prompt token on (where the model chose what came next). */
    public static Collected collect(Transformer model, HeadSet heads, List<ConfidenceMetric> metrics,
                                    List<Sequence> set) {
        SequenceProbe probe = new SequenceProbe(model, heads, metrics);
        List<SequenceProbe.Result> results = new ArrayList<>();
        int total = 0;
        for (Sequence s : set) {
            results.add(probe.run(s.ids()));
            total += s.ids().length - (s.promptLength() - 1);
        }
        int K = heads.size();
        double[][][] conf = new double[metrics.size()][K][total];
        boolean[][] agrees = new boolean[K][total];
        int i = 0;
        int[] bounds = new int[set.size() + 1];
        for (int si = 0; si < set.size(); si++) {
            bounds[si] = i;
            Sequence s = set.get(si);
            SequenceProbe.Result r = results.get(si);
            for (int t = s.promptLength() - 1; t < s.ids().length; t++, i++) {
                for (int k = 0; k < K; k++) {
                    agrees[k][i] = r.headArgmax()[k][t] == r.modelArgmax()[t];
                    for (int m = 0; m < metrics.size(); m++) {
                        conf[m][k][i] = r.confidence()[m][k][t];
                    }
                }
            }
        }
        bounds[set.size()] = total;
        List<String> names = metrics.stream().map(ConfidenceMetric::id).toList();
        return new Collected(names, heads.layers(), conf, agrees, total, bounds);
    }

    /** Curves for every metric and head of a collected set. */
    public static Calibration calibrate(Collected set, HeadSet heads, String modelFingerprint, String modelName,
                                        Map<String, Object> info) {
        Map<String, ThresholdCurve[]> curves = new LinkedHashMap<>();
        for (int m = 0; m < set.metrics().size(); m++) {
            ThresholdCurve[] c = new ThresholdCurve[heads.size()];
            for (int k = 0; k < heads.size(); k++) {
                c[k] = ThresholdCurve.of(set.confidence()[m][k], set.agrees()[k]);
            }
            curves.put(set.metrics().get(m), c);
        }
        return new Calibration(modelFingerprint, modelName, heads.identity(), heads.layers(), set.positions(), curves,
                info);
    }

    /** The most tokens a stored DSSD draft plan may draft per round. */
    public static final int PLAN_MAX_DRAFT = 16;

    /**
     * DSSD's default draft plan for every metric of the calibration ({@link DraftPlanner}), stored in its
     * info; the set is the one the calibration was made from (the rule's acceptance estimates come from
     * its curves, as at run time).
     */
    public static List<DraftPlan> planDrafts(Calibration cal, Collected set, MeasuredCosts costs, int modelLayers) {
        List<DraftPlan> plans = new ArrayList<>();
        for (String metric : set.metrics()) {
            AcceptanceModel[] models = new AcceptanceModel[set.layers().length];
            for (int k = 0; k < models.length; k++) {
                models[k] = cal.acceptance(metric, k);
            }
            plans.add(DraftPlanner.plan(set, metric, models, costs, modelLayers, PLAN_MAX_DRAFT));
        }
        DraftPlan.putInto(cal.info(), plans);
        return plans;
    }

    /**
     * One head at one ε on the held-out set, taken alone: the tokens whose confidence reaches τ and the
     * share of them on which the head agrees with the model. ok is null when too few tokens exit to judge.
     */
    public record HeadCheck(double epsilon, int layer, double threshold, int exits, double agreement,
                            double tolerance, Boolean ok) {
    }

    /** The cascade at one ε on the held-out set: what early-exit decoding would do, teacher-forced. */
    public record CascadeCheck(double epsilon, double agreement, double meanLayers, int[] exitsPerHead,
                               double[] agreementPerHead) {
    }

    public record CheckReport(String metric, int positions, List<HeadCheck> heads, List<CascadeCheck> cascade) {
        /** True when every judged (head, ε) kept its promise. */
        public boolean passed() {
            return heads.stream().allMatch(h -> h.ok() == null || h.ok());
        }
    }

    /** Sampling tolerance: 2.58 binomial standard errors (one-sided 99.5%) plus one token's worth. */
    public static double tolerance(double epsilon, int n) {
        return n == 0 ? 0.0 : 2.58 * Math.sqrt(epsilon * (1 - epsilon) / n) + 1.0 / n;
    }

    /** The held-out check of a calibration for one metric, at each ε, by the paper's rule. */
    public static CheckReport check(Calibration cal, String metric, Collected heldOut, double[] epsilons,
                                    int modelLayers) {
        return check(cal, metric, heldOut, epsilons, modelLayers, ThresholdRule.PAPER);
    }

    /** The held-out check of a calibration for one metric, at each ε, with thresholds by a rule. */
    public static CheckReport check(Calibration cal, String metric, Collected heldOut, double[] epsilons,
                                    int modelLayers, ThresholdRule rule) {
        int m = heldOut.metricIndex(metric);
        int K = heldOut.layers().length;
        int N = heldOut.positions();
        List<HeadCheck> heads = new ArrayList<>();
        List<CascadeCheck> cascade = new ArrayList<>();
        for (double eps : epsilons) {
            double[] tau = cal.thresholds(metric, eps, rule);
            for (int k = 0; k < K; k++) {
                int exits = 0;
                int right = 0;
                for (int i = 0; i < N; i++) {
                    if (EarlyExitDecoder.exits(heldOut.confidence()[m][k][i], tau[k])) {
                        exits++;
                        if (heldOut.agrees()[k][i]) {
                            right++;
                        }
                    }
                }
                double agreement = exits == 0 ? Double.NaN : (double) right / exits;
                double tol = tolerance(eps, exits);
                Boolean ok = exits < MIN_EXITS_TO_JUDGE ? null : agreement >= eps - tol;
                heads.add(new HeadCheck(eps, heldOut.layers()[k], tau[k], exits, agreement, tol, ok));
            }
            int[] perHead = new int[K + 1];
            int[] rightPerHead = new int[K + 1];
            long layers = 0;
            for (int i = 0; i < N; i++) {
                int k = EarlyExitDecoder.exitingHead(heldOut.confidence()[m], i, tau);
                int slot = k < 0 ? K : k;
                perHead[slot]++;
                layers += k < 0 ? modelLayers : heldOut.layers()[k];
                if (k < 0 || heldOut.agrees()[k][i]) {
                    rightPerHead[slot]++;
                }
            }
            double[] agreePerHead = new double[K + 1];
            int right = 0;
            for (int k = 0; k <= K; k++) {
                agreePerHead[k] = perHead[k] == 0 ? Double.NaN : (double) rightPerHead[k] / perHead[k];
                right += rightPerHead[k];
            }
            cascade.add(new CascadeCheck(eps, N == 0 ? 0 : (double) right / N, N == 0 ? 0 : (double) layers / N,
                    perHead, agreePerHead));
        }
        return new CheckReport(metric, N, heads, cascade);
    }
}
