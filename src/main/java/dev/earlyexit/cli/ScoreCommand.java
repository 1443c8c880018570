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

    @Option(names = "--text-file", paramLabel = "F", description = "The text to score (UTF-8).")
    Path textFile;

    @Option(names = "--ids", paramLabel = "I,J,...", split = ",",
            description = "Score these token ids (as given: no BOS is added) instead of a text.")
    int[] idsOption;

    @Option(names = "--ids-file", paramLabel = "F",
            description = "Score token ids from F: one JSON array of ids per line, each scored on its own.")
    Path idsFile;

    @Option(names = "--top", paramLabel = "K", defaultValue = "0",
            description = "Print, for every position, the K most probable next tokens under the full model and their "
                    + "probabilities (softmax at temperature 1) instead of the summary.")
    int top;

    @Option(names = "--json", description = "Print one JSON object.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        boolean early = mode == ExitOptions.Mode.EARLY_EXIT;
        if (early) {
            Calibration.checkEpsilon(epsilon);
        }
        ConfidenceMetric metric = exitOptions.metric();
        int given = (textFile != null ? 1 : 0) + (idsOption != null ? 1 : 0) + (idsFile != null ? 1 : 0);
        if (given != 1) {
            throw new IllegalArgumentException("give exactly one of --text-file, --ids and --ids-file");
        }
        if (top < 0) {
            throw new IllegalArgumentException("--top " + top + ": must be at least 1");
        }
        List<int[]> sequences = idSequences();
        LoadedModel model = modelOptions.load();
        for (int[] seq : sequences) {
            for (int id : seq) {
                if (id < 0 || id >= model.config().vocabSize()) {
                    throw new IllegalArgumentException("token id " + id + " is outside the vocabulary (0.."
                            + (model.config().vocabSize() - 1) + ")");
                }
            }
            if (seq.length > model.config().maxSeqLen()) {
                throw new IllegalArgumentException(seq.length + " tokens are more than the context of "
                        + model.config().maxSeqLen() + " positions (raise it with --context)");
            }
        }
        if (top > 0) {
            try (ThreadPool pool = modelOptions.pool()) {
                Transformer tf = new Transformer(model.config(), model.weights(), pool);
                for (int[] seq : sequences) {
                    printTop(tf, seq);
                }
            }
            return 0;
        }
        if (sequences.size() != 1) {
            throw new IllegalArgumentException("--ids-file with several lines needs --top (the summary scores one sequence)");
        }
        int[] ids = textFile != null ? GenerateCommand.encodePrompt(model, text) : sequences.get(0);
        if (ids.length < 2) {
            throw new IllegalArgumentException("the input is too short to score (it needs at least two tokens)");
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

    private String text;

    /** The sequences to score; for --text-file one placeholder (encoded once the tokenizer is loaded). */
    private List<int[]> idSequences() throws java.io.IOException {
        if (textFile != null) {
            text = Files.readString(textFile, StandardCharsets.UTF_8);
            return List.of(new int[0]);
        }
        if (idsOption != null) {
            return List.of(idsOption);
        }
        List<int[]> out = new java.util.ArrayList<>();
        com.fasterxml.jackson.databind.ObjectMapper om = new com.fasterxml.jackson.databind.ObjectMapper();
        int lineNo = 0;
        for (String line : Files.readAllLines(idsFile, StandardCharsets.UTF_8)) {
            lineNo++;
            if (line.isBlank()) {
                continue;
            }
            com.fasterxml.jackson.databind.JsonNode a;
            try {
                a = om.readTree(line);
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                throw new IllegalArgumentException(idsFile + ":" + lineNo + ": not JSON: " + e.getOriginalMessage());
            }
            if (a == null || !a.isArray() || a.isEmpty()) {
                throw new IllegalArgumentException(idsFile + ":" + lineNo + ": expected a non-empty JSON array of token ids");
            }
            int[] ids = new int[a.size()];
            for (int i = 0; i < ids.length; i++) {
                if (!a.get(i).canConvertToInt()) {
                    throw new IllegalArgumentException(idsFile + ":" + lineNo + ": " + a.get(i) + " is not a token id");
                }
                ids[i] = a.get(i).asInt();
            }
            out.add(ids);
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException(idsFile + ": no id sequences");
        }
        return out;
    }

    /** One line per sequence: for each position, the K most probable next tokens. */
    private void printTop(Transformer tf, int[] seq) {
        var c = tf.config();
        int n = seq.length;
        int vocab = c.vocabSize();
        float[] x = new float[n * c.dim()];
        float[] logits = new float[n * vocab];
        tf.embed(seq, 0, n, 0, x);
        tf.forward(x, n, 0, c.layers(), new dev.earlyexit.model.KVCache(c));
        tf.logitsBlock(x, n, logits);
        int k = Math.min(top, vocab);
        List<List<List<Object>>> positions = new java.util.ArrayList<>();
        StringBuilder text = new StringBuilder();
        for (int p = 0; p < n; p++) {
            dev.earlyexit.tensor.Kernels.softmax(logits, p * vocab, vocab);
            Integer[] order = new Integer[vocab];
            for (int v = 0; v < vocab; v++) {
                order[v] = v;
            }
            int base = p * vocab;
            java.util.Arrays.sort(order, (a, b) -> Float.compare(logits[base + b], logits[base + a]));
            List<List<Object>> best = new java.util.ArrayList<>();
            text.append(p).append(':');
            for (int i = 0; i < k; i++) {
                best.add(List.of(order[i], (double) logits[base + order[i]]));
                text.append(' ').append(order[i]).append(String.format(" %.4f", logits[base + order[i]]));
            }
            text.append('\n');
            positions.add(best);
        }
        if (json) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("ids", seq);
            o.put("top", positions);
            System.out.println(Json.write(o));
        } else {
            System.out.print(text);
        }
    }
}
