package dev.earlyexit.cli;

import dev.earlyexit.calibration.Calibration;
import dev.earlyexit.calibration.ConfidenceMetric;
import dev.earlyexit.eval.DatasetReader;
import dev.earlyexit.eval.Evaluator;
import dev.earlyexit.eval.Example;
import dev.earlyexit.eval.LabelsFile;
import dev.earlyexit.eval.ModelScorer;
import dev.earlyexit.eval.PairTokenizer;
import dev.earlyexit.eval.Row;
import dev.earlyexit.eval.SettingResult;
import dev.earlyexit.eval.Task;
import dev.earlyexit.exits.HeadSet;
import dev.earlyexit.model.Transformer;
import dev.earlyexit.store.LoadedModel;
import dev.earlyexit.tensor.ThreadPool;
import dev.earlyexit.tokenizer.Tokenizer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "Zero-shot multiple-choice and cloze evaluation with lm-evaluation-harness's prompts and "
                + "metrics (hellaswag, winogrande, mmlu, arc, piqa, lambada), with the full model or with early "
                + "exits at one or more epsilon.")
final class EvalCommand implements Callable<Integer> {
    /** Runs shorter than this show no progress bar. */
    private static final long PROGRESS_AFTER_MS = 2000;

    @Mixin
    ModelOptions modelOptions;

    @Mixin
    ExitOptions exitOptions;

    @Option(names = "--task", required = true, converter = TaskConverter.class, paramLabel = "TASK",
            description = "hellaswag, winogrande, mmlu, arc, piqa or lambada.")
    Task task;

    @Option(names = "--data", required = true, paramLabel = "FILE",
            description = "The data set: .jsonl/.json (JSON lines or one array), .csv (with a header; MMLU's "
                    + "original headerless CSVs too) or .parquet.")
    Path data;

    @Option(names = "--labels", paramLabel = "FILE",
            description = "PIQA: labels one per line (the original release's *-labels.lst).")
    Path labels;

    @Option(names = "--limit", defaultValue = "0", paramLabel = "N",
            description = "Only the first N examples (default: all).")
    int limit;

    @Option(names = "--mode", defaultValue = "full", converter = ExitOptions.ModeConverter.class, paramLabel = "MODE",
            description = "full (the default) or early-exit (adds a row per epsilon beside the full model's).")
    ExitOptions.Mode mode;

    @Option(names = "--epsilon", defaultValue = "0.9", paramLabel = "E[,E...]",
            description = "Early exit: target agreement of exited tokens, in (0, 1]; several share one model run "
                    + "per request (default: ${DEFAULT-VALUE}).")
    String epsilons;

    @Option(names = "--json", description = "Print one JSON object.")
    boolean json;

    @Option(names = "--no-progress", description = "No progress bar.")
    boolean noProgress;

    @Override
    public Integer call() throws Exception {
        if (mode != ExitOptions.Mode.FULL && mode != ExitOptions.Mode.EARLY_EXIT) {
            throw new IllegalArgumentException("eval runs --mode full or early-exit");
        }
        boolean early = mode == ExitOptions.Mode.EARLY_EXIT;
        double[] eps = early ? parseEpsilons(epsilons) : new double[0];
        if (limit < 0) {
            throw new IllegalArgumentException("--limit must be >= 0 (0: all), got " + limit);
        }
        if (labels != null && !task.takesLabelsFile()) {
            throw new IllegalArgumentException("--labels is for piqa (its original release keeps labels apart); "
                    + task.cliName() + " reads labels from the data");
        }
        ConfidenceMetric metric = exitOptions.metric();
        // Every row is read and checked before the model loads, so bad data fails fast.
        DatasetReader.Rows rows = DatasetReader.read(data, task, limit);
        if (rows.rows().isEmpty()) {
            throw new IllegalArgumentException(data + ": no rows");
        }
        List<Row> labelRows = labels == null ? null : LabelsFile.matching(LabelsFile.read(labels), labels, data, rows);
        List<Example> examples = task.examples(rows.rows(), labelRows);
        int requests = examples.stream().mapToInt(e -> e.requests().size()).sum();

        LoadedModel model = modelOptions.load();
        Tokenizer tok = model.requireTokenizer();
        PairTokenizer pairs = new PairTokenizer(tok, tok.bosId(), model.config().maxSeqLen());
        HeadSet heads = null;
        List<double[]> thresholds = new ArrayList<>();
        if (early) {
            heads = exitOptions.headSet(model);
            Calibration cal = exitOptions.loadCalibration(model, heads, ExitOptions.fingerprint(model));
            for (double e : eps) {
                thresholds.add(exitOptions.thresholds(cal, heads, model, metric.id(), e));
            }
        }
        long t0 = System.nanoTime();
        List<SettingResult> results;
        int[] exitLayers;
        try (ThreadPool pool = modelOptions.pool(); LazyProgress progress = new LazyProgress(noProgress, task.cliName())) {
            Transformer tf = new Transformer(model.config(), model.weights(), pool);
            ModelScorer scorer = early ? new ModelScorer(tf, pairs, heads, metric, thresholds)
                    : ModelScorer.full(tf, pairs, metric);
            exitLayers = scorer.exitLayers();
            results = Evaluator.run(task, examples, scorer, progress);
        }
        double seconds = (System.nanoTime() - t0) / 1e9;

        Map<String, Object> o = new LinkedHashMap<>();
        o.put("task", task.cliName());
        o.put("harness_task", task.harnessName());
        o.put("file", data.toString());
        o.put("examples", examples.size());
        o.put("requests", requests);
        o.put("mode", early ? "early-exit" : "full");
        if (early) {
            o.put("metric", metric.id());
            o.put("heads", heads.name());
            o.put("consult", exitOptions.consult);
        }
        List<Map<String, Object>> rowsJson = new ArrayList<>();
        for (int s = 0; s < results.size(); s++) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("mode", s == 0 ? "full" : "early-exit");
            if (s > 0) {
                row.put("epsilon", eps[s - 1]);
            }
            row.putAll(results.get(s).toJson(task, exitLayers));
            rowsJson.add(row);
        }
        o.put("rows", rowsJson);
        o.put("seconds", GenerateCommand.round(seconds));
        if (json) {
            System.out.println(Json.write(o));
        } else {
            printTable(examples.size(), requests, results, exitLayers, eps, seconds);
        }
        return 0;
    }

    private void printTable(int examples, int requests, List<SettingResult> results, int[] exitLayers, double[] eps,
                            double seconds) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "%s (harness task %s) on %s: %d examples, %d requests, %.1f s%n",
                task.cliName(), task.harnessName(), data, examples, requests, seconds));
        String head = task.isCloze() ? "perplexity" : task.reportsAccNorm() ? "acc_norm" : "";
        sb.append(String.format(Locale.ROOT, "%-12s %-17s %-17s %-12s %s%n", "mode", "acc", head, "mean layers",
                "agreement (examples / tokens)"));
        for (int s = 0; s < results.size(); s++) {
            SettingResult r = results.get(s);
            Map<String, Object> j = r.toJson(task, exitLayers);
            String second = task.isCloze() ? String.format(Locale.ROOT, "%.3f", r.perplexity())
                    : task.reportsAccNorm() ? withError(j.get("acc_norm"), j.get("acc_norm_stderr")) : "";
            String agreement = s == 0 ? "-" : String.format(Locale.ROOT, "%.3f / %.3f",
                    (double) r.exampleAgreement() / r.examples(), (Double) j.get("token_agreement"));
            sb.append(String.format(Locale.ROOT, "%-12s %-17s %-17s %-12.2f %s%n",
                    s == 0 ? "full" : String.format(Locale.ROOT, "eps %.3g", eps[s - 1]),
                    withError(j.get("acc"), j.get("acc_stderr")), second, r.meanLayers(), agreement));
        }
        System.out.print(sb);
    }

    private static String withError(Object value, Object stderr) {
        return stderr == null ? String.format(Locale.ROOT, "%.4f", (Double) value)
                : String.format(Locale.ROOT, "%.4f ± %.4f", (Double) value, (Double) stderr);
    }

    static double[] parseEpsilons(String spec) {
        double[] eps;
        try {
            eps = Arrays.stream(spec.split(",")).map(String::trim).mapToDouble(Double::parseDouble).toArray();
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--epsilon takes numbers separated by commas, got '" + spec + "'");
        }
        for (double e : eps) {
            Calibration.checkEpsilon(e);
        }
        return eps;
    }

    /** A progress bar on standard error that appears only once a run has taken a couple of seconds. */
    private static final class LazyProgress implements Evaluator.Progress, AutoCloseable {
        private final boolean disabled;
        private final String name;
        private final long start = System.nanoTime();
        private ProgressBar bar;

        LazyProgress(boolean disabled, String name) {
            this.disabled = disabled;
            this.name = name;
        }

        @Override
        public void update(int done, int total) {
            if (disabled) {
                return;
            }
            if (bar == null && (System.nanoTime() - start) / 1_000_000 >= PROGRESS_AFTER_MS && done < total) {
                bar = new ProgressBarBuilder().setTaskName(name).setInitialMax(total).setStyle(ProgressBarStyle.ASCII)
                        .setUpdateIntervalMillis(500).setMaxRenderedLength(120).build();
            }
            if (bar != null) {
                bar.stepTo(done);
            }
        }

        @Override
        public void close() {
            if (bar != null) {
                bar.close();
            }
        }
    }

    static final class TaskConverter implements ITypeConverter<Task> {
        @Override
        public Task convert(String value) {
            return Task.byName(value);
        }
    }
}
