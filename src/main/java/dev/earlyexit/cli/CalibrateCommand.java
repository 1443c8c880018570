package dev.earlyexit.cli;

import dev.earlyexit.calibration.Calibration;
import dev.earlyexit.calibration.Calibrator;
import dev.earlyexit.calibration.ConfidenceMetric;
import dev.earlyexit.calibration.DraftPlan;
import dev.earlyexit.calibration.ThresholdCurve;
import dev.earlyexit.calibration.ThresholdRule;
import dev.earlyexit.calibration.MeasuredCosts;
import dev.earlyexit.exits.HeadSet;
import dev.earlyexit.model.Transformer;
import dev.earlyexit.store.LoadedModel;
import dev.earlyexit.tensor.ThreadPool;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "calibrate", mixinStandardHelpOptions = true,
        description = "Calibrate exit thresholds: the model writes a calibration set from calibration prompts, each "
                + "head's confidence curve is stored beside the model (any epsilon can then be used), and the "
                + "promise is checked on held-out prompts.")
final class CalibrateCommand implements Callable<Integer> {
    @Mixin
    ModelOptions modelOptions;

    @Mixin
    ExitOptions exitOptions;

    @Option(names = "--prompts", paramLabel = "FILE",
            description = "A file of extra calibration prompts, one per line (repeatable); added to the paper's five.")
    List<Path> promptFiles = new ArrayList<>();

    @Option(names = "--samples", defaultValue = "4", paramLabel = "N",
            description = "Sampled continuations per prompt (default: ${DEFAULT-VALUE}).")
    int samples;

    @Option(names = "--tokens", defaultValue = "128", paramLabel = "N",
            description = "Most tokens per continuation (default: ${DEFAULT-VALUE}).")
    int tokens;

    @Option(names = "--temperature", defaultValue = "1.0", paramLabel = "T",
            description = "Sampling temperature of the calibration set (default: ${DEFAULT-VALUE}).")
    float temperature;

    @Option(names = "--seed", defaultValue = "1234", paramLabel = "S", description = "Seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--held-out-samples", defaultValue = "2", paramLabel = "N",
            description = "Continuations per held-out prompt for the check; 0 skips the check (default: ${DEFAULT-VALUE}).")
    int heldOutSamples;

    @Option(names = "--out", paramLabel = "FILE", description = "Where to write the calibration (default: as --calibration).")
    Path out;

    @Option(names = "--json", description = "Print one JSON object.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        if (samples < 1 || tokens < 1 || heldOutSamples < 0) {
            throw new IllegalArgumentException("--samples and --tokens must be >= 1, --held-out-samples >= 0");
        }
        List<ConfidenceMetric> metrics = exitOptions.metric == null ? ConfidenceMetric.builtIns()
                : List.of(exitOptions.metric());
        List<String> prompts = new ArrayList<>(Calibrator.CALIBRATION_PROMPTS);
        for (Path f : promptFiles) {
            for (String line : Files.readAllLines(f, StandardCharsets.UTF_8)) {
                if (!line.isBlank()) {
                    prompts.add(line.strip());
                }
            }
        }
        long t0 = System.nanoTime();
        LoadedModel model = modelOptions.load();
        ThresholdRule rule = exitOptions.rule(); // bad --rule / --delta fail before any work
        HeadSet heads = exitOptions.headSet(model);
        String fingerprint = ExitOptions.fingerprint(model);
        Path file = out != null ? out : exitOptions.calibrationPath(model, heads);
        Calibration cal;
        List<DraftPlan> plans;
        Calibrator.CheckReport[] checks = new Calibrator.CheckReport[metrics.size()];
        int heldOutPositions = 0;
        try (ThreadPool pool = modelOptions.pool()) {
            Transformer tf = new Transformer(model.config(), model.weights(), pool);
            Calibrator.SetOptions so = new Calibrator.SetOptions(samples, tokens, temperature, 0.95f, seed);
            List<Calibrator.Sequence> set = Calibrator.generate(tf, encode(model, prompts), so);
            Calibrator.Collected collected = Calibrator.collect(tf, heads, metrics, set);
            Map<String, Object> info = new LinkedHashMap<>();
            info.put("prompts", prompts);
            info.put("samples_per_prompt", samples);
            info.put("max_tokens", tokens);
            info.put("temperature", temperature);
            info.put("top_p", 0.95);
            info.put("seed", seed);
            info.put("heads_name", heads.name());
            // A few hundred ms: the per-layer, per-head, classifier and block-row costs that --consult auto
            // and the DSSD draft plan weigh.
            MeasuredCosts costs = MeasuredCosts.measure(tf, heads, metrics.get(0),
                    encode(model, List.of(Calibrator.CALIBRATION_PROMPTS.get(0))).get(0), 48);
            costs.putInto(info);
            cal = Calibrator.calibrate(collected, heads, fingerprint, model.source().getFileName().toString(), info);
            plans = Calibrator.planDrafts(cal, collected, costs, model.config().layers());
            if (heldOutSamples > 0) {
                Calibrator.SetOptions ho = new Calibrator.SetOptions(heldOutSamples, tokens, temperature, 0.95f, seed + 7919);
                List<Calibrator.Sequence> held = Calibrator.generate(tf, encode(model, Calibrator.HELD_OUT_PROMPTS), ho);
                Calibrator.Collected hc = Calibrator.collect(tf, heads, metrics, held);
                heldOutPositions = hc.positions();
                for (int m = 0; m < metrics.size(); m++) {
                    checks[m] = Calibrator.check(cal, metrics.get(m).id(), hc, Calibrator.CHECK_EPSILONS,
                            model.config().layers(), rule);
                }
            }
        }
        cal.save(file);
        double seconds = (System.nanoTime() - t0) / 1e9;

        Map<String, Object> o = new LinkedHashMap<>();
        o.put("calibration", file.toString());
        o.put("model_fingerprint", fingerprint);
        o.put("heads", heads.name());
        o.put("heads_identity", heads.identity());
        o.put("layers", heads.layers());
        o.put("tokens", cal.tokens());
        o.put("rule", rule.id());
        if (rule.kind() == ThresholdRule.Kind.GUARANTEE) {
            o.put("delta", rule.delta());
        }
        o.put("seconds", GenerateCommand.round(seconds));
        Map<String, Object> perMetric = new LinkedHashMap<>();
        ThresholdRule guarantee = rule.kind() == ThresholdRule.Kind.GUARANTEE ? rule : ThresholdRule.DEFAULT;
        Map<String, List<Map<String, Object>>> summary = cal.summary(Calibration.REPORTED_EPSILONS, guarantee);
        for (ConfidenceMetric metric : metrics) {
            List<Map<String, Object>> rows = new ArrayList<>();
            for (int k = 0; k < heads.size(); k++) {
                ThresholdCurve c = cal.curve(metric.id(), k);
                Map<String, Object> row = new LinkedHashMap<>(summary.get(metric.id()).get(k));
                Map<String, Object> thr = new LinkedHashMap<>();
                Map<String, Object> cov = new LinkedHashMap<>();
                for (double eps : Calibration.REPORTED_EPSILONS) {
                    thr.put(Double.toString(eps), finite(c.threshold(eps, rule)));
                    cov.put(Double.toString(eps), GenerateCommand.round(c.coverage(eps, rule)));
                }
                row.put("threshold", thr);
                row.put("coverage", cov);
                rows.add(row);
            }
            perMetric.put(metric.id(), rows);
        }
        o.put("metrics", perMetric);
        Map<String, Object> dssd = new LinkedHashMap<>();
        for (DraftPlan p : plans) {
            dssd.put(p.metric(), planJson(p));
        }
        o.put("dssd_plan", dssd);
        if (heldOutSamples > 0) {
            Map<String, Object> ho = new LinkedHashMap<>();
            ho.put("prompts", Calibrator.HELD_OUT_PROMPTS);
            ho.put("positions", heldOutPositions);
            for (int m = 0; m < metrics.size(); m++) {
                ho.put(metrics.get(m).id(), checkJson(checks[m], heads, model.config().layers()));
            }
            o.put("held_out", ho);
        }
        if (json) {
            System.out.println(Json.write(o));
        } else {
            printText(o, metrics, checks, heads, rule, plans);
        }
        return 0;
    }

    static Map<String, Object> planJson(DraftPlan p) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("layers", p.layers());
        m.put("draft_threshold", p.draftThreshold());
        m.put("continue_threshold", p.continueThreshold());
        m.put("max_draft", p.maxDraft());
        m.put("predicted_speedup", GenerateCommand.round(p.predictedSpeedup()));
        m.put("predicted_acceptance", GenerateCommand.round(p.acceptance()));
        m.put("predicted_accepted_per_verification", GenerateCommand.round(p.acceptedPerVerification()));
        m.put("predicted_best_fixed_speedup", GenerateCommand.round(p.fullMsPerToken() / p.fixedMsPerToken()));
        m.put("predicted_oracle_speedup", GenerateCommand.round(p.fullMsPerToken() / p.oracleMsPerToken()));
        return m;
    }

    static Map<String, Object> checkJson(Calibrator.CheckReport r, HeadSet heads, int modelLayers) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("passed", r.passed());
        List<Map<String, Object>> hs = new ArrayList<>();
        for (Calibrator.HeadCheck h : r.heads()) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("epsilon", h.epsilon());
            row.put("layer", h.layer());
            row.put("threshold", finite(h.threshold()));
            row.put("exits", h.exits());
            row.put("agreement", finite(h.agreement()));
            row.put("tolerance", GenerateCommand.round(h.tolerance()));
            row.put("ok", h.ok());
            hs.add(row);
        }
        m.put("heads", hs);
        List<Map<String, Object>> cs = new ArrayList<>();
        for (Calibrator.CascadeCheck c : r.cascade()) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("epsilon", c.epsilon());
            row.put("agreement", GenerateCommand.round(c.agreement()));
            row.put("mean_layers", GenerateCommand.round(c.meanLayers()));
            Map<String, Object> exits = new LinkedHashMap<>();
            Map<String, Object> agree = new LinkedHashMap<>();
            String[] labels = HeadSet.exitLabels(heads.layers(), modelLayers);
            for (int k = 0; k <= heads.size(); k++) {
                String key = labels[k];
                exits.put(key, c.exitsPerHead()[k]);
                agree.put(key, finite(c.agreementPerHead()[k]));
            }
            row.put("exits_per_layer", exits);
            row.put("agreement_per_layer", agree);
            cs.add(row);
        }
        m.put("cascade", cs);
        return m;
    }

    private void printText(Map<String, Object> o, List<ConfidenceMetric> metrics, Calibrator.CheckReport[] checks,
                           HeadSet heads, ThresholdRule rule, List<DraftPlan> plans) {
        System.out.printf("calibrated %s heads at layers %s on %s tokens in %s s; saved %s%n", heads.name(),
                java.util.Arrays.toString(heads.layers()), o.get("tokens"), o.get("seconds"), o.get("calibration"));
        for (int m = 0; m < metrics.size(); m++) {
            System.out.printf("%s: coverage (share of tokens that would exit) per head at epsilon %s, "
                            + "paper's rule / guarantee%n", metrics.get(m).id(),
                    java.util.Arrays.toString(Calibration.REPORTED_EPSILONS));
            @SuppressWarnings("unchecked")
            List<Map<String, Object>> rows = (List<Map<String, Object>>) ((Map<String, Object>) o.get("metrics"))
                    .get(metrics.get(m).id());
            for (Map<String, Object> row : rows) {
                System.out.printf("  layer %s  agreement %s  AUROC %s  coverage %s / %s%n", row.get("layer"),
                        row.get("accuracy"), row.get("auroc"), ((Map<?, ?>) row.get("coverage_paper")).values(),
                        ((Map<?, ?>) row.get("coverage_guarantee")).values());
            }
            System.out.printf("  DSSD draft plan: %s%n", plans.get(m).describe());
            System.out.printf("    %s%n", plans.get(m).bounds());
            if (checks[m] != null) {
                System.out.printf("  held-out check, %s thresholds (%d positions): %s%n", rule, checks[m].positions(),
                        checks[m].passed() ? "every judged head kept its promise" : "SOME HEADS FELL SHORT");
                for (Calibrator.HeadCheck h : checks[m].heads()) {
                    if (h.exits() > 0) {
                        System.out.printf("    eps %.2f layer %d: %d exits, %.3f agree (need >= %.3f)%s%n", h.epsilon(),
                                h.layer(), h.exits(), h.agreement(), h.epsilon() - h.tolerance(),
                                h.ok() == null ? " (too few to judge)" : h.ok() ? "" : "  FAIL");
                    }
                }
                for (Calibrator.CascadeCheck c : checks[m].cascade()) {
                    System.out.printf("    eps %.2f cascade: agreement %.3f, mean layers %.2f%n", c.epsilon(),
                            c.agreement(), c.meanLayers());
                }
            }
        }
    }

    static Object finite(double v) {
        return Double.isFinite(v) ? (Object) v : null;
    }

    static List<int[]> encode(LoadedModel model, List<String> prompts) {
        List<int[]> ids = new ArrayList<>();
        for (String p : prompts) {
            ids.add(GenerateCommand.encodePrompt(model, p));
        }
        return ids;
    }
}
