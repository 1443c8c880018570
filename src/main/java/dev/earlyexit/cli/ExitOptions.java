package dev.earlyexit.cli;

import dev.earlyexit.calibration.Calibration;
import dev.earlyexit.calibration.ThresholdRule;
import dev.earlyexit.calibration.MeasuredCosts;
import dev.earlyexit.calibration.ConfidenceMetric;
import dev.earlyexit.calibration.ConsultPolicy;
import dev.earlyexit.calibration.DraftPlan;
import dev.earlyexit.decoding.CalibratedDraft;
import dev.earlyexit.store.ModelFingerprint;
import dev.earlyexit.decoding.EarlyExitDecoder;
import dev.earlyexit.exits.ExitHeadProvider;
import dev.earlyexit.exits.ExitHeads;
import dev.earlyexit.exits.HeadSet;
import dev.earlyexit.format.ModelFormatException;
import dev.earlyexit.model.LayerWeights;
import dev.earlyexit.store.LoadedModel;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * Options of every command that uses exit heads: which heads, which calibration, which metric and ε.
 *
 * <p>Heads: a trained heads file; {@code auto} (the default) takes the heads train-heads stored
 * beside the model and falls back to {@code copy}: untrained copies of the model's final norm and
 * classifier after every layer but the last ({@code copy:1,3,5}: after chosen layers).
 */
public final class ExitOptions {
    @Option(names = "--heads", defaultValue = "auto", paramLabel = "H",
            description = "Exit heads: a trained heads file; 'auto' (the default: the heads train-heads stored beside "
                    + "the model, else 'copy'); 'copy' (untrained copies of the final norm and classifier after every "
                    + "layer but the last) or 'copy:1,3,5' (after those layers).")
    public String heads;

    @Option(names = "--calibration", paramLabel = "FILE",
            description = "Calibration file (default: calibration-<heads>.json in the model's heads directory).")
    Path calibration;

    @Option(names = "--metric", paramLabel = "M",
            description = "Confidence metric: max-prob (the default), entropy (minus the entropy) or margin (p1 - p2); "
                    + "calibrate stores all three unless one is given.")
    public String metric;

    @Option(names = "--consult", defaultValue = "auto", paramLabel = "C",
            description = "Early exit: which heads to ask: auto (the default: the set of heads with the least expected "
                    + "time per token, from the costs calibrate measured on this machine and each head's calibrated "
                    + "coverage), all (every head that can exit at this epsilon) or layers, e.g. 4,5.")
    public String consult;

    @Option(names = "--rule", defaultValue = "guarantee", paramLabel = "R",
            description = "Threshold rule: guarantee (the default: Clopper-Pearson lower bound on the exiting tokens' "
                    + "agreement >= epsilon with probability 1 - delta, Learn-then-Test from the confident end) or "
                    + "paper (the paper's empirical rule, no guarantee).")
    String rule;

    @Option(names = "--delta", defaultValue = "0.1", paramLabel = "D",
            description = "The guarantee's failure probability, in (0, 1) (default 0.1).")
    Double delta;

    /** The threshold rule chosen by --rule and --delta. */
    public ThresholdRule rule() {
        return ThresholdRule.parse(rule == null ? "guarantee" : rule, delta == null ? ThresholdRule.DEFAULT_DELTA : delta);
    }

    /** The thresholds of the heads to consult at ε (+∞ for the others), by --consult. */
    public double[] thresholds(Calibration cal, HeadSet heads, LoadedModel model, String metricId, double epsilon) {
        ThresholdRule r = rule();
        double[] tau = cal.thresholds(metricId, epsilon, r);
        if (r.kind() == ThresholdRule.Kind.GUARANTEE) {
            double[] paper = cal.thresholds(metricId, epsilon, ThresholdRule.PAPER);
            List<Integer> never = new ArrayList<>();
            for (int k = 0; k < tau.length; k++) {
                if (Double.isInfinite(tau[k]) && !Double.isInfinite(paper[k])) {
                    never.add(heads.layers()[k]);
                }
            }
            if (!never.isEmpty()) {
                System.err.println("note: at epsilon " + epsilon + " no threshold of the head(s) at layer(s) " + never
                        + " meets the guarantee (delta " + r.delta() + "): they never exit (--rule paper would let "
                        + "them, without a guarantee)");
            }
        }
        String spec = consult.trim();
        if (spec.equals("all")) {
            return tau;
        }
        if (spec.equals("auto")) {
            double[] coverage = new double[heads.size()];
            long[] bytes = new long[heads.size()];
            for (int k = 0; k < heads.size(); k++) {
                coverage[k] = cal.curve(metricId, k).coverage(epsilon, r);
                bytes[k] = heads.head(k).bytesPerCall();
            }
            Optional<MeasuredCosts> measured = MeasuredCosts.from(cal.info());
            if (measured.isPresent()) {
                return ConsultPolicy.fastest(tau, coverage, heads.layers(), measured.get(), model.config().layers());
            }
            // A calibration from before costs were stored: weigh bytes read instead.
            LayerWeights l0 = model.weights().layers()[0];
            long layerBytes = l0.wqkv().bytes() + l0.wo().bytes() + l0.wUp().bytes() + l0.wDown().bytes();
            return ConsultPolicy.worthwhile(tau, coverage, heads.layers(), bytes, layerBytes,
                    model.weights().classifier().bytes(), model.config().layers());
        }
        int[] layers;
        try {
            layers = Arrays.stream(spec.split(",")).map(String::trim).mapToInt(Integer::parseInt).toArray();
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--consult takes all, auto or comma-separated layers, got '" + spec + "'");
        }
        for (int l : layers) {
            if (Arrays.stream(heads.layers()).noneMatch(h -> h == l)) {
                throw new IllegalArgumentException("--consult " + l + ": there is no head at layer " + l + " (heads at "
                        + Arrays.toString(heads.layers()) + ")");
            }
        }
        return ConsultPolicy.only(tau, heads.layers(), layers);
    }

    /** DSSD's maximum draft when drafting at the ε thresholds and none is given. */
    public static final int EPSILON_DRAFT_DEFAULT_MAX = 4;

    /**
     * DSSD's drafting heads and rule: the calibration's draft plan for the metric (planned, the default),
     * or the heads' early-exit thresholds at ε (the paper's DSSD). A calibration made before draft plans
     * were stored falls back to ε with a note. Empty when no head can draft (every token then comes from
     * the full model).
     *
     * @param maxDraft null: the plan's own (or {@link #EPSILON_DRAFT_DEFAULT_MAX} at ε); else at most this
     */
    public Optional<CalibratedDraft> dssdDraft(Calibration cal, HeadSet heads, LoadedModel model,
                                               ConfidenceMetric metric, boolean planned, double epsilon,
                                               Integer maxDraft) {
        if (planned) {
            Optional<DraftPlan> plan = cal.draftPlan(metric.id());
            if (plan.isPresent()) {
                CalibratedDraft draft = CalibratedDraft.planned(heads, cal, plan.get(), metric);
                return Optional.of(maxDraft == null ? draft : draft.capped(maxDraft));
            }
            System.err.println("note: this calibration has no DSSD draft plan (it was made before calibrate stored "
                    + "one); drafting at the epsilon " + epsilon + " thresholds instead: run calibrate again for the "
                    + "planned default");
        }
        double[] tau = thresholds(cal, heads, model, metric.id(), epsilon);
        return CalibratedDraft.of(heads, tau, metric, maxDraft == null ? EPSILON_DRAFT_DEFAULT_MAX : maxDraft);
    }

    /**
     * Where heads come from: a trained heads file, copied heads, or (auto) the model's trained heads in
     * their default place ({@link ExitHeads#findDefault}) and copied heads when there are none.
     */
    ExitHeadProvider provider(LoadedModel model) {
        String spec = heads.trim();
        if (spec.equals("auto")) {
            Optional<Path> trained = ExitHeads.findDefault(model.source());
            if (trained.isPresent()) {
                System.err.println("heads auto: " + trained.get().getFileName() + " (stored kinds are tried in the order "
                        + ExitHeads.AUTO_PREFERENCE.stream().map(k -> k.cliName()).toList()
                        + ": subset heads cost a fraction of a layer per call, full heads the whole classifier)");
            }
            return trained.isPresent() ? trainedHeads(trained.get()) : ExitHeadProvider.copiedEveryLayer();
        }
        if (spec.equals("copy")) {
            return ExitHeadProvider.copiedEveryLayer();
        }
        if (spec.startsWith("copy:")) {
            int[] layers;
            try {
                layers = Arrays.stream(spec.substring(5).split(",")).map(String::trim).mapToInt(Integer::parseInt)
                        .toArray();
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--heads copy:LAYERS takes comma-separated layer numbers, got '"
                        + spec + "'");
            }
            return ExitHeadProvider.copied(layers);
        }
        Path file = Path.of(spec);
        if (!Files.exists(file)) {
            throw new ModelFormatException("exit heads not found: " + spec + " (train them with train-heads, or use "
                    + "--heads copy)");
        }
        return trainedHeads(file);
    }

    private static ExitHeadProvider trainedHeads(Path file) {
        return (c, w) -> {
            ExitHeads trained = ExitHeads.load(file, c, w, ModelFingerprint.of(c, w));
            return HeadSet.fromFile(trained.kind().cliName(), file, trained.heads());
        };
    }

    public HeadSet headSet(LoadedModel model) throws IOException {
        return provider(model).heads(model.config(), model.weights());
    }

    public ConfidenceMetric metric() {
        return ConfidenceMetric.byName(metric == null ? "max-prob" : metric);
    }

    Path calibrationPath(LoadedModel model, HeadSet heads) {
        return calibration != null ? calibration : Calibration.defaultPath(model.source(), heads.name());
    }

    /** The calibration for these heads and this model, or a clear error (missing, other model, other heads). */
    public Calibration loadCalibration(LoadedModel model, HeadSet heads, String fingerprint) throws IOException {
        Path p = calibrationPath(model, heads);
        if (!Files.isRegularFile(p)) {
            throw new ModelFormatException("no calibration for these heads at " + p + ": run ./earlyexit calibrate"
                    + " --model " + model.source() + (calibration != null ? " --out " + p : "") + " first");
        }
        Calibration cal = Calibration.load(p);
        cal.requireFor(fingerprint, heads, p);
        metric(); // an unknown metric is reported before a missing curve
        return cal;
    }

    public static String fingerprint(LoadedModel model) {
        return ModelFingerprint.of(model.config(), model.weights());
    }

    /** --mode values. */
    enum Mode {
        FULL, EARLY_EXIT, DSSD, LAYERSKIP;

        static Mode parse(String s) {
            return switch (s) {
                case "full" -> FULL;
                case "early-exit" -> EARLY_EXIT;
                case "dssd" -> DSSD;
                case "layerskip" -> LAYERSKIP;
                default -> throw new IllegalArgumentException("unknown mode '" + s
                        + "' (full, early-exit, dssd or layerskip)");
            };
        }

        /** Modes whose heads must be calibrated (ε picks the thresholds). */
        boolean calibrated() {
            return this == EARLY_EXIT || this == DSSD;
        }
    }

    public static EarlyExitDecoder.KvFill parseKvFill(String s) {
        return switch (s) {
            case "exact" -> EarlyExitDecoder.KvFill.EXACT;
            case "copy" -> EarlyExitDecoder.KvFill.COPY_HIDDEN;
            default -> throw new IllegalArgumentException("unknown KV fill '" + s + "' (exact or copy)");
        };
    }

    static final class KvFillConverter implements picocli.CommandLine.ITypeConverter<EarlyExitDecoder.KvFill> {
        @Override
        public EarlyExitDecoder.KvFill convert(String value) {
            return parseKvFill(value);
        }
    }

    static final class ModeConverter implements picocli.CommandLine.ITypeConverter<Mode> {
        @Override
        public Mode convert(String value) {
            return Mode.parse(value);
        }
    }
}
