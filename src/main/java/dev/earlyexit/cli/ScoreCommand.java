package dev.earlyexit.cli;

import dev.earlyexit.calibration.Calibration;
import dev.earlyexit.calibration.ConfidenceMetric;
import dev.earlyexit.decoding.TeacherForcedExit;
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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "score", mixinStandardHelpOptions = true,
        description = "Score a text teacher-forced: agreement of the chosen token with the full model's argmax, "
                + "perplexity of the text under the distribution used at each position, mean layers per token.")
final class ScoreCommand implements Callable<Integer> {
    @Mixin
    ModelOptions modelOptions;

    @Mixin
    ExitOptions exitOptions;

    @Option(names = "--mode", defaultValue = "full", converter = ExitOptions.ModeConverter.class, paramLabel = "MODE",
            description = "full (the default) or early-exit.")
    ExitOptions.Mode mode;

    @Option(names = "--epsilon", defaultValue = "0.9", paramLabel = "E",
            description = "Early exit: target agreement of exited tokens, in (0, 1] (default: ${DEFAULT-VALUE}).")
    double epsilon;

    @Option(names = "--text-file", required = true, paramLabel = "F", description = "The text to score (UTF-8).")
    Path textFile;

    @Option(names = "--json", description = "Print one JSON object.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        boolean early = mode == ExitOptions.Mode.EARLY_EXIT;
        if (early) {
            Calibration.checkEpsilon(epsilon);
        }
        ConfidenceMetric metric = exitOptions.metric();
        String text = Files.readString(textFile, StandardCharsets.UTF_8);
        LoadedModel model = modelOptions.load();
        int[] ids = GenerateCommand.encodePrompt(model, text);
        if (ids.length < 2) {
            throw new IllegalArgumentException(textFile + ": the text is too short to score (it needs at least one token)");
        }
        int L = model.config().layers();
        HeadSet heads = new HeadSet("none", "none", List.of());
        double[] tau = new double[0];
        if (early) {
            heads = exitOptions.headSet(model);
            Calibration cal = exitOptions.loadCalibration(model, heads, ExitOptions.fingerprint(model));
            tau = exitOptions.thresholds(cal, heads, model, metric.id(), epsilon);
        }
        // The early-exit thresholds and, scored on the same probe, none at all: the full model's perplexity.
        List<Map<String, Object>> scores;
        try (ThreadPool pool = modelOptions.pool()) {
            Transformer tf = new Transformer(model.config(), model.weights(), pool);
            scores = TeacherForcedScoring.score(tf, heads, metric, ids, List.of(tau, TeacherForcedExit.FULL_MODEL),
                    Progress.start(false, "score", 0));
        }
        Map<String, Object> chosen = scores.get(0);
        Map<String, Object> o = new LinkedHashMap<>();
        o.put("mode", early ? "early-exit" : "full");
        if (early) {
            o.put("epsilon", epsilon);
            o.put("metric", metric.id());
            o.put("heads", heads.name());
        }
        o.put("tokens", chosen.get("tokens"));
        o.put("agreement", chosen.get("agreement"));
        o.put("perplexity", chosen.get("perplexity"));
        o.put("full_perplexity", scores.get(1).get("perplexity"));
        o.put("mean_layers", chosen.get("mean_layers"));
        Object perLayer = chosen.get("exits_per_layer");
        o.put("exits_per_layer", perLayer);
        o.put("uncovered_tokens", chosen.get("uncovered_tokens"));
        if (json) {
            System.out.println(Json.write(o));
        } else {
            System.out.printf("%s tokens (%s): agreement with the full model %s, perplexity %s (full model %s), "
                            + "mean layers %s of %d, exits per layer %s%n", o.get("tokens"), o.get("mode"), o.get("agreement"),
                    o.get("perplexity"), o.get("full_perplexity"), o.get("mean_layers"), L, perLayer);
        }
        return 0;
    }
}
