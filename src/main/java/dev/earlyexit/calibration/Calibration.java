package dev.earlyexit.calibration;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.earlyexit.exits.ExitHeads;
import dev.earlyexit.exits.HeadSet;
import dev.earlyexit.format.ModelFormatException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Calibrated thresholds for one set of heads on one model: per metric, per head, the whole
 * {@link ThresholdCurve}, so that ε is chosen at generation time. Saved as JSON together with the
 * model's fingerprint and the heads' identity; {@link #requireFor} refuses any other model or heads.
 */
public final class Calibration {
    public static final String FORMAT = "earlyexit-calibration";
    public static final int FORMAT_VERSION = 1;
    /** The ε values whose coverage is written out for reading by people (any ε works from the curves). */
    public static final double[] REPORTED_EPSILONS = {0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99};

    private static final ObjectMapper MAPPER = new ObjectMapper();

    private final String modelFingerprint;
    private final String modelName;
    private final String headsIdentity;
    private final int[] layers;
    private final int tokens;
    private final Map<String, ThresholdCurve[]> curves;
    private final Map<String, Object> info;

    /**
     * @param curves metric id to one curve per head, in the heads' (ascending layer) order
     * @param info   free-form description of how the calibration set was made (prompts, samples, seed)
     */
    public Calibration(String modelFingerprint, String modelName, String headsIdentity, int[] layers, int tokens,
                       Map<String, ThresholdCurve[]> curves, Map<String, Object> info) {
        this.modelFingerprint = modelFingerprint;
        this.modelName = modelName;
        this.headsIdentity = headsIdentity;
        this.layers = layers.clone();
        this.tokens = tokens;
        this.curves = new LinkedHashMap<>(curves);
        this.info = new LinkedHashMap<>(info);
        for (ThresholdCurve[] c : curves.values()) {
            if (c.length != layers.length) {
                throw new IllegalArgumentException("one curve per head is needed");
            }
        }
    }

    public String modelFingerprint() {
        return modelFingerprint;
    }

    public String modelName() {
        return modelName;
    }

    public String headsIdentity() {
        return headsIdentity;
    }

    public int[] layers() {
        return layers.clone();
    }

    /** Calibration tokens per head. */
    public int tokens() {
        return tokens;
    }

    public List<String> metrics() {
        return new ArrayList<>(curves.keySet());
    }

    public Map<String, Object> info() {
        return info;
    }

    public ThresholdCurve curve(String metric, int head) {
        return curvesFor(metric)[head];
    }

    /** How likely head k's choice is to be the model's, by confidence under this metric. */
    public AcceptanceModel acceptance(String metric, int head) {
        return AcceptanceModel.of(curve(metric, head));
    }

    /** DSSD's stored default draft plan for this metric; empty for calibrations made before plans were. */
    public Optional<DraftPlan> draftPlan(String metric) {
        return DraftPlan.from(info, metric);
    }

    private ThresholdCurve[] curvesFor(String metric) {
        ThresholdCurve[] c = curves.get(metric);
        if (c == null) {
            throw new IllegalArgumentException("the calibration has no curves for metric '" + metric + "' (it has "
                    + String.join(", ", curves.keySet()) + "): run calibrate with --metric " + metric);
        }
        return c;
    }

    /**
     * Per metric, one row per head: its layer, the share of tokens where it agrees with the model
     * ({@code accuracy}), the AUROC of confidence against agreement, and the coverage (share of tokens
     * that would exit) at each ε under the paper's rule and under {@code guarantee}, side by side.
     * {@code calibrate} prints it and {@code bench} puts it in its report.
     */
    public Map<String, List<Map<String, Object>>> summary(double[] epsilons, ThresholdRule guarantee) {
        Map<String, List<Map<String, Object>>> perMetric = new LinkedHashMap<>();
        for (String metric : metrics()) {
            List<Map<String, Object>> rows = new ArrayList<>();
            for (int k = 0; k < layers.length; k++) {
                ThresholdCurve c = curve(metric, k);
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("layer", layers[k]);
                row.put("accuracy", round4(c.accuracy()));
                double auroc = c.auroc();
                row.put("auroc", Double.isNaN(auroc) ? null : round4(auroc));
                Map<String, Object> paper = new LinkedHashMap<>();
                Map<String, Object> guaranteed = new LinkedHashMap<>();
                for (double eps : epsilons) {
                    paper.put(Double.toString(eps), round4(c.coverage(eps)));
                    guaranteed.put(Double.toString(eps), round4(c.coverage(eps, guarantee)));
                }
                row.put("coverage_paper", paper);
                row.put("coverage_guarantee", guaranteed);
                rows.add(row);
            }
            perMetric.put(metric, rows);
        }
        return perMetric;
    }

    private static double round4(double v) {
        return Math.round(v * 1e4) / 1e4;
    }

    /** τ per head for ε by the paper's rule: exit at head k when confidence >= τ[k]; +∞ never exits. */
    public double[] thresholds(String metric, double epsilon) {
        return thresholds(metric, epsilon, ThresholdRule.PAPER);
    }

    /** τ per head for ε under a rule; +∞ for a head that never exits. */
    public double[] thresholds(String metric, double epsilon, ThresholdRule rule) {
        checkEpsilon(epsilon);
        ThresholdCurve[] c = curvesFor(metric);
        double[] t = new double[c.length];
        for (int k = 0; k < c.length; k++) {
            t[k] = c[k].threshold(epsilon, rule);
        }
        return t;
    }

    /** Throws the CLI's error for an ε outside (0, 1]. */
    public static void checkEpsilon(double epsilon) {
        if (!(epsilon > 0.0 && epsilon <= 1.0)) {
            throw new IllegalArgumentException("epsilon must be in (0, 1], got " + epsilon);
        }
    }

    /** Refuses a calibration made for another model or other heads, with a message saying what to do. */
    public void requireFor(String fingerprint, HeadSet heads, Path file) {
        if (!modelFingerprint.equals(fingerprint)) {
            throw new IllegalArgumentException(file + ": this calibration was made for another model ("
                    + shortFp(modelFingerprint) + ", " + modelName + "); this model is " + shortFp(fingerprint)
                    + ": run calibrate for it");
        }
        if (!headsIdentity.equals(heads.identity()) || !Arrays.equals(layers, heads.layers())) {
            throw new IllegalArgumentException(file + ": this calibration was made for other exit heads (" + headsIdentity
                    + "), not for " + heads.identity() + ": run calibrate with these heads");
        }
    }

    private static String shortFp(String fp) {
        return fp.length() > 19 ? fp.substring(0, 19) + "..." : fp;
    }

    /** Where the calibration of a set of heads lives beside a model (in the heads' directory of that model). */
    public static Path defaultPath(Path modelSource, String headsName) {
        return ExitHeads.directory(modelSource).resolve("calibration-" + headsName + ".json");
    }

    // ---- JSON ----

    public ObjectNode toJson() {
        ObjectNode root = MAPPER.createObjectNode();
        root.put("format", FORMAT);
        root.put("format_version", FORMAT_VERSION);
        root.put("model_fingerprint", modelFingerprint);
        root.put("model", modelName);
        root.put("heads_identity", headsIdentity);
        ArrayNode l = root.putArray("layers");
        for (int v : layers) {
            l.add(v);
        }
        root.put("tokens", tokens);
        root.set("info", MAPPER.valueToTree(info));
        ObjectNode metrics = root.putObject("metrics");
        for (Map.Entry<String, ThresholdCurve[]> e : curves.entrySet()) {
            ArrayNode heads = metrics.putArray(e.getKey());
            for (int k = 0; k < layers.length; k++) {
                ThresholdCurve c = e.getValue()[k];
                ObjectNode h = heads.addObject();
                h.put("layer", layers[k]);
                h.put("accuracy", c.accuracy());
                ObjectNode cov = h.putObject("coverage");
                ObjectNode thr = h.putObject("threshold");
                for (double eps : REPORTED_EPSILONS) {
                    cov.put(Double.toString(eps), c.coverage(eps));
                    double t = c.threshold(eps);
                    if (Double.isInfinite(t)) {
                        thr.putNull(Double.toString(eps));
                    } else {
                        thr.put(Double.toString(eps), t);
                    }
                }
                // The same at the default guarantee (δ = 0.1), side by side with the paper's rule.
                ObjectNode gCov = h.putObject("coverage_guarantee");
                ObjectNode gThr = h.putObject("threshold_guarantee");
                for (double eps : REPORTED_EPSILONS) {
                    gCov.put(Double.toString(eps), c.coverage(eps, ThresholdRule.DEFAULT));
                    double t = c.threshold(eps, ThresholdRule.DEFAULT);
                    if (Double.isInfinite(t)) {
                        gThr.putNull(Double.toString(eps));
                    } else {
                        gThr.put(Double.toString(eps), t);
                    }
                }
                ArrayNode values = h.putArray("values");
                ArrayNode acc = h.putArray("suffix_accuracy");
                for (int j = 0; j < c.size(); j++) {
                    values.add(c.value(j));
                    acc.add(c.suffixAccuracy(j));
                }
            }
        }
        return root;
    }

    public void save(Path file) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        Path tmp = file.resolveSibling(file.getFileName() + ".partial");
        MAPPER.writeValue(tmp.toFile(), toJson());
        Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    public static Calibration load(Path file) throws IOException {
        JsonNode root;
        try {
            root = MAPPER.readTree(file.toFile());
        } catch (java.io.FileNotFoundException | NoSuchFileException e) {
            throw new ModelFormatException("no calibration at " + file + ": run ./earlyexit calibrate first");
        } catch (IOException e) {
            throw new ModelFormatException(file + " is not a calibration file: " + e.getMessage());
        }
        if (root == null || !FORMAT.equals(root.path("format").asText())) {
            throw new ModelFormatException(file + " is not an earlyexit calibration file");
        }
        if (root.path("format_version").asInt() != FORMAT_VERSION) {
            throw new ModelFormatException(file + ": unsupported calibration format version "
                    + root.path("format_version").asText());
        }
        try {
            int[] layers = new int[root.get("layers").size()];
            for (int i = 0; i < layers.length; i++) {
                layers[i] = root.get("layers").get(i).asInt();
            }
            Map<String, ThresholdCurve[]> curves = new LinkedHashMap<>();
            var it = root.get("metrics").fields();
            while (it.hasNext()) {
                var e = it.next();
                ThresholdCurve[] c = new ThresholdCurve[layers.length];
                for (int k = 0; k < layers.length; k++) {
                    JsonNode h = e.getValue().get(k);
                    c[k] = new ThresholdCurve(doubles(h.get("values")), doubles(h.get("suffix_accuracy")));
                }
                curves.put(e.getKey(), c);
            }
            @SuppressWarnings("unchecked")
            Map<String, Object> info = MAPPER.convertValue(root.path("info"), Map.class);
            return new Calibration(root.get("model_fingerprint").asText(), root.path("model").asText(),
                    root.get("heads_identity").asText(), layers, root.path("tokens").asInt(), curves,
                    info == null ? Map.of() : info);
        } catch (RuntimeException e) {
            throw new ModelFormatException(file + ": malformed calibration file (" + e.getMessage() + ")");
        }
    }

    private static double[] doubles(JsonNode a) {
        double[] d = new double[a.size()];
        for (int i = 0; i < d.length; i++) {
            d[i] = a.get(i).asDouble();
        }
        return d;
    }
}
