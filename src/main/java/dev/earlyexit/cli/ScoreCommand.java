package dev.earlyexit.cli;

import dev.earlyexit.calibration.Calibration;
import dev.earlyexit.calibration.ConfidenceMetric;
import dev.earlyexit.calibration.SequenceProbe;
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
        int K = heads.size();
        int[] exits = new int[K + 1];
        long scored = 0;
        long agree = 0;
        long layers = 0;
        long uncovered = 0;
        double nll = 0;
        double fullNll = 0;
        int window = model.config().maxSeqLen();
        try (ThreadPool pool = modelOptions.pool()) {
            Transformer tf = new Transformer(model.config(), model.weights(), pool);
            SequenceProbe probe = new SequenceProbe(tf, heads, List.of(metric));
            // Windows of the context length overlapping by one token, so every token after the first is predicted once.
            for (int start = 0; start < ids.length - 1; start += window - 1) {
                int end = Math.min(ids.length, start + window);
                int[] w = java.util.Arrays.copyOfRange(ids, start, end);
                SequenceProbe.Result r = probe.run(w);
                for (int t = 0; t < w.length - 1; t++) {
                    // Full mode has no thresholds, so the full model answers everywhere.
                    TeacherForcedExit.Position p = TeacherForcedExit.at(r, r.confidence()[0], t, tau, heads, L);
                    if (p.uncovered()) {
                        uncovered++;
                    }
                    nll -= p.logProb();
                    fullNll -= r.modelLogProb()[t];
                    exits[p.head() < 0 ? K : p.head()]++;
                    layers += p.layers();
                    if (p.chosen() == r.modelArgmax()[t]) {
                        agree++;
                    }
                    scored++;
                }
            }
        }
        Map<String, Object> o = new LinkedHashMap<>();
        o.put("mode", early ? "early-exit" : "full");
        if (early) {
            o.put("epsilon", epsilon);
            o.put("metric", metric.id());
            o.put("heads", heads.name());
        }
        o.put("tokens", scored);
        o.put("agreement", GenerateCommand.round((double) agree / scored));
        o.put("perplexity", GenerateCommand.round(Math.exp(nll / scored)));
        o.put("full_perplexity", GenerateCommand.round(Math.exp(fullNll / scored)));
        o.put("mean_layers", GenerateCommand.round((double) layers / scored));
        Map<String, Integer> perLayer = new LinkedHashMap<>();
        for (int k = 0; k <= K; k++) {
            perLayer.put(k < K ? HeadSet.exitLabel(heads.head(k).layer(), L, true) : Integer.toString(L), exits[k]);
        }
        o.put("exits_per_layer", perLayer);
        o.put("uncovered_tokens", uncovered);
        if (json) {
            System.out.println(Json.write(o));
        } else {
            System.out.printf("%d tokens (%s): agreement with the full model %s, perplexity %s (full model %s), "
                            + "mean layers %s of %d, exits per layer %s%n", scored, o.get("mode"), o.get("agreement"),
                    o.get("perplexity"), o.get("full_perplexity"), o.get("mean_layers"), L, perLayer);
        }
        return 0;
    }
}
