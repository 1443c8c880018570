package dev.earlyexit.bench;

import dev.earlyexit.cli.*;

import dev.earlyexit.calibration.Calibration;
import dev.earlyexit.calibration.ConfidenceMetric;
import dev.earlyexit.calibration.ThresholdRule;
import dev.earlyexit.decoding.EarlyExitDecoder;
import dev.earlyexit.decoding.GenerationResult;
import dev.earlyexit.decoding.Generator;
import dev.earlyexit.decoding.SamplingOptions;
import dev.earlyexit.decoding.TeacherForcedExit;
import dev.earlyexit.exits.HeadSet;
import dev.earlyexit.model.KVCache;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.Transformer;
import dev.earlyexit.store.LoadedModel;
import dev.earlyexit.store.ModelCache;
import dev.earlyexit.store.ModelResolver;
import dev.earlyexit.tensor.DType;
import dev.earlyexit.tensor.Kernels;
import dev.earlyexit.tensor.ThreadPool;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Measure decode speed (median of runs) and peak memory; with exit heads, speed-up against "
                + "agreement with the full model over epsilon, self-speculative decoding, and a report folder.")
public final class BenchCommand implements Callable<Integer> {
    /** Default timed runs of the full and early-exit modes, and of the many-setting speculative sweeps. */
    private static final int RUNS = 7;
    private static final int SWEEP_RUNS = 3;

    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--prompt", defaultValue = "Once upon a time", paramLabel = "TEXT",
            description = "Prompt (default: ${DEFAULT-VALUE}).")
    String prompt;

    @Option(names = "--tokens", defaultValue = "256", paramLabel = "N",
            description = "Greedy tokens per run, at most what the context leaves after the prompt; stop tokens do "
                    + "not end a run (default: ${DEFAULT-VALUE}; 32 with --quick).")
    int tokens;

    @Option(names = "--runs", paramLabel = "R",
            description = "Timed runs; the median is reported (default: " + RUNS + "; " + SWEEP_RUNS + " for the dssd and "
                    + "layerskip sweeps, which time many settings; 1 with --quick).")
    Integer runs;

    @Option(names = "--warmup", defaultValue = "3", paramLabel = "W",
            description = "Untimed runs first, for the JIT (default: ${DEFAULT-VALUE}; 1 with --quick).")
    int warmup;

    @Option(names = "--json", description = "Print one JSON object.")
    boolean json;

    @Option(names = "--mode", defaultValue = "full", converter = BenchModeConverter.class, paramLabel = "MODE",
            description = "full (the default); early-exit: speed-up against the full model on held-out prompts "
                    + "(or --prompt), token agreement and sequence match, and where the time goes; dssd: "
                    + "self-speculative decoding over --epsilon x --max-draft and the layerskip baseline over "
                    + "layer x --draft-length; all: early-exit and dssd at 1 and 2 threads (unless --threads), "
                    + "--text-file scored, one report.")
    BenchMode mode;

    @Option(names = "--epsilon", split = ",", defaultValue = "0.8,0.9,0.95", paramLabel = "E",
            description = "Early exit and dssd: epsilons to measure, comma-separated (default: ${DEFAULT-VALUE}; "
                    + "0.8,0.95 with --quick).")
    double[] epsilons;

    @Option(names = "--kv-fill", split = ",", defaultValue = "exact", paramLabel = "F",
            description = "Early exit: exact, copy (CALM's approximation) or both, comma-separated (default: ${DEFAULT-VALUE}).")
    List<String> kvFills;

    @Option(names = "--max-draft", split = ",", defaultValue = "2,4,8", paramLabel = "N[,N...]",
            description = "dssd: maximum draft lengths to sweep (default: ${DEFAULT-VALUE}; 2,4 with --quick).")
    int[] maxDrafts;

    @Option(names = "--draft-length", split = ",", defaultValue = "1,2,3,4,6,8", paramLabel = "N[,N...]",
            description = "dssd: the layerskip baseline's draft lengths to sweep, at every head's layer "
                    + "(default: ${DEFAULT-VALUE}; 1,2 with --quick).")
    int[] draftLengths;

    @Option(names = "--text-file", paramLabel = "F",
            description = "early-exit and all: also score this text teacher-forced at every epsilon, as score does: "
                    + "perplexity under the distribution used at each position, agreement with the full model's "
                    + "argmax, mean layers, exits per head.")
    Path textFile;

    @Option(names = "--text-tokens", defaultValue = "4096", paramLabel = "N",
            description = "Score only the first N tokens of --text-file (default: ${DEFAULT-VALUE}; 512 with --quick).")
    int textTokens;

    @Option(names = "--quick", description = "A CI-sized run: 2 prompts x 32 tokens, 1 run after 1 warm-up, epsilon "
            + "0.8,0.95, --max-draft 2,4, --draft-length 1,2, --text-tokens 512 (options given explicitly still win).")
    boolean quick;

    @Option(names = "--report", paramLabel = "DIR",
            description = "Write a report folder: report.md (Markdown tables and the machine), one CSV per table, "
                    + "results.json with every figure's data, PNG plots (dssd: also dssd.json). --mode all writes one "
                    + "to reports/bench-<time> when not given.")
    Path report;

    @Option(names = "--no-progress", description = "No progress bars on standard error.")
    boolean noProgress;

    @Mixin
    ExitOptions exitOptions;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    /** What bench measures. */
    enum BenchMode {
        FULL, EARLY_EXIT, DSSD, ALL;

        static BenchMode parse(String s) {
            return switch (s) {
                case "full" -> FULL;
                case "early-exit" -> EARLY_EXIT;
                case "dssd" -> DSSD;
                case "all" -> ALL;
                case "layerskip" -> throw new IllegalArgumentException(
                        "bench --mode dssd measures the layerskip baseline beside DSSD");
                default -> throw new IllegalArgumentException("unknown mode '" + s + "' (full, early-exit, dssd or all)");
            };
        }

        boolean earlyExit() {
            return this == EARLY_EXIT || this == ALL;
        }

        boolean speculative() {
            return this == DSSD || this == ALL;
        }
    }

    static final class BenchModeConverter implements picocli.CommandLine.ITypeConverter<BenchMode> {
        @Override
        public BenchMode convert(String value) {
            return BenchMode.parse(value);
        }
    }

    @Override
    public Integer call() throws Exception {
        applyQuick();
        if (tokens < 2 || (runs != null && runs < 1) || warmup < 0) {
            throw new IllegalArgumentException("--tokens must be >= 2, --runs >= 1 and --warmup >= 0");
        }
        if (textTokens < 1) {
            throw new IllegalArgumentException("--text-tokens must be >= 1, got " + textTokens);
        }
        if (textFile != null) {
            if (!mode.earlyExit()) {
                throw new IllegalArgumentException("--text-file is scored by bench --mode early-exit and --mode all");
            }
            if (!Files.isRegularFile(textFile)) {
                throw new IllegalArgumentException("--text-file " + textFile + ": no such file");
            }
        }
        return mode == BenchMode.FULL ? full() : exitModes();
    }

    /** --quick's CI-sized settings, for every option not given explicitly. */
    private void applyQuick() {
        if (!quick) {
            return;
        }
        if (!given("--tokens")) {
            tokens = 32;
        }
        if (!given("--runs")) {
            runs = 1;
        }
        if (!given("--warmup")) {
            warmup = 1;
        }
        if (!given("--epsilon")) {
            epsilons = new double[] {0.8, 0.95};
        }
        if (!given("--max-draft")) {
            maxDrafts = new int[] {2, 4};
        }
        if (!given("--draft-length")) {
            draftLengths = new int[] {1, 2};
        }
        if (!given("--text-tokens")) {
            textTokens = 512;
        }
    }

    private boolean given(String option) {
        return spec != null && spec.commandLine().getParseResult().hasMatchedOption(option);
    }

    private int runs(boolean sweep) {
        return runs != null ? runs : sweep ? SWEEP_RUNS : RUNS;
    }

    private int full() throws Exception {
        long rssBeforeLoadMb = rssMb("VmRSS:");
        LoadedModel model = modelOptions.load();
        int[] promptIds = GenerateCommand.encodePrompt(model, prompt);
        Generator.checkPrompt(promptIds, model.config());
        // As llama2.c's "-n 256" on a 256-position model: the run ends when the context is full.
        int tokens = Math.min(this.tokens, model.config().maxSeqLen() - promptIds.length);
        int runs = runs(false);
        int[] threadCounts = modelOptions.threads != null ? new int[] {modelOptions.threads} : new int[] {1, 2};
        List<Map<String, Object>> results = new ArrayList<>();
        int[] generated = null;
        try (Progress progress = Progress.start(!noProgress, "full model", (long) threadCounts.length * (warmup + runs))) {
            for (int threads : threadCounts) {
                try (ThreadPool pool = new ThreadPool(threads)) {
                    Generator g = new Generator(new Transformer(model.config(), model.weights(), pool));
                    for (int i = 0; i < warmup; i++) {
                        g.generate(promptIds, tokens, SamplingOptions.GREEDY, null, false);
                        progress.step();
                    }
                    double[] tps = new double[runs];
                    double[] prefill = new double[runs];
                    for (int i = 0; i < runs; i++) {
                        GenerationResult r = g.generate(promptIds, tokens, SamplingOptions.GREEDY, null, false);
                        tps[i] = r.decodeTokensPerSecond();
                        prefill[i] = r.prefillMs();
                        generated = r.ids();
                        progress.step();
                    }
                    Map<String, Object> row = new LinkedHashMap<>();
                    row.put("threads", threads);
                    row.put("tokens_per_s", GenerateCommand.round(median(tps)));
                    row.put("min_tokens_per_s", GenerateCommand.round(Arrays.stream(tps).min().orElse(0)));
                    row.put("max_tokens_per_s", GenerateCommand.round(Arrays.stream(tps).max().orElse(0)));
                    row.put("prefill_ms", GenerateCommand.round(median(prefill)));
                    results.add(row);
                }
            }
        }
        long peakRssMb = peakRssMb(); // before the block timings, whose extra cache no user run has
        List<Map<String, Object>> blocks = blockScaling(model, threadCounts, Math.max(3, runs));
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("model", model.source().toString());
        out.put("dtype", weightsLabel(model));
        out.put("prompt_tokens", promptIds.length);
        out.put("tokens", tokens);
        out.put("runs", runs);
        out.put("tokens_per_s", results.get(results.size() - 1).get("tokens_per_s"));
        out.put("results", results);
        if (!blocks.isEmpty()) {
            out.put("block_scaling", blocks);
        }
        out.put("weights_mb", GenerateCommand.round(model.weights().bytes() / 1e6));
        out.put("peak_rss_mb", peakRssMb);
        out.put("rss_before_load_mb", rssBeforeLoadMb);
        if (modelOptions.dtype != DType.F32) {
            out.putAll(agreementWithF32(model, promptIds, generated));
        }
        Path reportFile = null;
        if (report != null) {
            ReportTable speed = new ReportTable("speed", "Decode speed, full model (median of runs)")
                    .column("threads", "threads").column("tokens_per_s", "tokens/s")
                    .column("min_tokens_per_s", "min tokens/s").column("max_tokens_per_s", "max tokens/s")
                    .column("prefill_ms", "prefill ms");
            for (Map<String, Object> r : results) {
                speed.row(r.get("threads"), r.get("tokens_per_s"), r.get("min_tokens_per_s"), r.get("max_tokens_per_s"),
                        r.get("prefill_ms"));
            }
            List<String> setup = new ArrayList<>(List.of(
                    "model `" + model.source() + "`, weights " + modelOptions.dtype.cliName() + " (" + out.get("weights_mb")
                            + " MB)",
                    tokens + " greedy tokens after \"" + prompt + "\" (" + promptIds.length + " prompt tokens), median of "
                            + count(runs, "run") + " after " + count(warmup, "warm-up"),
                    memoryLine(peakRssMb, rssBeforeLoadMb)));
            if (out.containsKey("f32_token_agreement")) {
                setup.add("agreement with float32's greedy output: " + out.get("f32_token_agreement")
                        + " of tokens (teacher-forced), first " + out.get("f32_prefix_match") + " tokens identical");
            }
            List<ReportTable> tables = new ArrayList<>(List.of(speed));
            if (!blocks.isEmpty()) {
                ReportTable scaling = new ReportTable("block_scaling", "One forward through every layer of a block of "
                        + "T positions at position " + BlockScaling.SHALLOW + " (ms, median), and a decode step deep in "
                        + "the context").column("threads", "threads");
                for (int T : BlockScaling.BLOCKS) {
                    scaling.column("t" + T + "_ms", "T=" + T + " ms");
                }
                scaling.column("t8_vs_t1", "T=8 / T=1").column("deep_position", "deep position")
                        .column("deep_ms", "T=1 ms there").column("deep_speed_ratio", "speed there / at " + BlockScaling.SHALLOW);
                for (Map<String, Object> b : blocks) {
                    List<Object> cells = new ArrayList<>(List.of(b.get("threads")));
                    for (int T : BlockScaling.BLOCKS) {
                        cells.add(b.get("t" + T + "_ms"));
                    }
                    cells.addAll(List.of(b.get("t8_vs_t1"), b.get("deep_position"), b.get("deep_ms"), b.get("deep_speed_ratio")));
                    scaling.row(cells);
                }
                tables.add(scaling);
            }
            reportFile = BenchReport.write(report, "earlyexit bench: full model", setup, out, tables, List.of());
            out.put("report", report.toString());
        }
        if (json) {
            System.out.println(Json.write(out));
        } else {
            System.out.printf("model %s, weights %s (%.1f MB), %d greedy tokens after %d prompt tokens, median of %d runs%n",
                    model.source(), weightsLabel(model), model.weights().bytes() / 1e6, tokens, promptIds.length,
                    runs);
            for (Map<String, Object> r : results) {
                System.out.printf("  threads %s: %s tokens/s (min %s, max %s), prefill %s ms%n", r.get("threads"),
                        r.get("tokens_per_s"), r.get("min_tokens_per_s"), r.get("max_tokens_per_s"), r.get("prefill_ms"));
            }
            for (Map<String, Object> b : blocks) {
                StringBuilder line = new StringBuilder("  threads " + b.get("threads") + ": one forward of T positions:");
                for (int T : BlockScaling.BLOCKS) {
                    line.append(" T=").append(T).append(' ').append(b.get("t" + T + "_ms")).append(" ms");
                }
                System.out.printf("%s (T=8 / T=1 %sx); decode at position %s %s ms (%sx the speed at %d)%n", line,
                        b.get("t8_vs_t1"), b.get("deep_position"), b.get("deep_ms"), b.get("deep_speed_ratio"),
                        BlockScaling.SHALLOW);
            }
            System.out.printf("  peak RSS %d MB (%d MB before loading the model)%n", peakRssMb, rssBeforeLoadMb);
            if (out.containsKey("f32_token_agreement")) {
                System.out.printf("  agreement with f32 greedy: %s of tokens (teacher-forced), first %s tokens identical%n",
                        out.get("f32_token_agreement"), out.get("f32_prefix_match"));
            }
            printReportPath(reportFile);
        }
        return 0;
    }

    /** {@link BlockScaling} per thread count; none for a context too short to hold it. */
    private static List<Map<String, Object>> blockScaling(LoadedModel model, int[] threadCounts, int reps) {
        List<Map<String, Object>> rows = new ArrayList<>();
        if (!BlockScaling.fits(model.config())) {
            return rows;
        }
        for (int threads : threadCounts) {
            try (ThreadPool pool = new ThreadPool(threads)) {
                BlockScaling.Result r = BlockScaling.measure(new Transformer(model.config(), model.weights(), pool),
                        model.config(), reps);
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("threads", threads);
                for (int i = 0; i < BlockScaling.BLOCKS.length; i++) {
                    row.put("t" + BlockScaling.BLOCKS[i] + "_ms", GenerateCommand.round(r.blockMs()[i]));
                }
                row.put("t8_vs_t1", GenerateCommand.round(r.block8Ratio()));
                row.put("deep_position", r.deepPosition());
                row.put("deep_ms", GenerateCommand.round(r.deepMs()));
                row.put("deep_speed_ratio", GenerateCommand.round(r.deepSpeedRatio()));
                rows.add(row);
            }
        }
        return rows;
    }

    /**
     * early-exit, dssd and all: each thread count's sweeps, then the text (with the most threads), then
     * the output: the mode's own JSON and console lines, or (all) the report's tables.
     */
    private int exitModes() throws Exception {
        for (double e : epsilons) {
            Calibration.checkEpsilon(e);
        }
        if (Arrays.stream(maxDrafts).anyMatch(d -> d < 1) || Arrays.stream(draftLengths).anyMatch(d -> d < 1)) {
            throw new IllegalArgumentException("--max-draft and --draft-length values must be >= 1");
        }
        List<EarlyExitDecoder.KvFill> fills = new ArrayList<>();
        for (String f : kvFills) {
            fills.add(ExitOptions.parseKvFill(f.trim()));
        }
        exitOptions.metric();
        long rssBeforeLoadMb = rssMb("VmRSS:");
        LoadedModel model = modelOptions.load();
        int[] textIds = textFile == null ? null : textIds(model);
        List<String> prompts = exitPrompts();
        int[] threadCounts = mode == BenchMode.ALL && modelOptions.threads == null ? new int[] {1, 2}
                : new int[] {modelOptions.threadCount()};
        List<BenchReport.ThreadRun> measured = new ArrayList<>();
        Map<String, Object> text = null;
        for (int threads : threadCounts) {
            try (ThreadPool pool = new ThreadPool(threads)) {
                Map<String, Object> ee = mode.earlyExit() ? EarlyExitBench.run(model, prompts, tokens, runs(false),
                        warmup, epsilons, fills, exitOptions, pool, !noProgress) : null;
                Map<String, Object> sp = mode.speculative() ? SpeculativeBench.run(model, prompts, tokens, epsilons,
                        maxDrafts, draftLengths, runs(true), exitOptions, pool, !noProgress) : null;
                measured.add(new BenchReport.ThreadRun(threads, ee, sp));
                if (textIds != null && threads == threadCounts[threadCounts.length - 1]) {
                    text = scoreText(model, textIds, pool);
                }
            }
        }
        long peakRssMb = peakRssMb();
        Map<String, List<Map<String, Object>>> calibration = calibrationSummary(model);

        BenchReport.ThreadRun only = measured.get(0);
        Map<String, Object> out = switch (mode) {
            case EARLY_EXIT -> only.earlyExit();
            case DSSD -> only.speculative();
            default -> allJson(model, prompts, measured);
        };
        out.put("dtype", weightsLabel(model));
        if (text != null) {
            out.put("text", text);
        }
        out.put("calibration", calibration);
        out.put("peak_rss_mb", peakRssMb);
        out.put("rss_before_load_mb", rssBeforeLoadMb);
        Path reportDir = report != null ? report : mode == BenchMode.ALL ? ReportFolder.timestamped("bench") : null;
        Path reportFile = null;
        List<ReportTable> tables = new ArrayList<>(BenchReport.tables(measured, text));
        tables.add(BenchReport.calibration(calibration, epsilons));
        String heads = (String) (only.earlyExit() != null ? only.earlyExit() : only.speculative()).get("heads");
        List<String> setup = setup(model, heads, prompts, threadCounts, textIds, peakRssMb, rssBeforeLoadMb);
        String heading = "earlyexit bench --mode " + mode.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
        if (reportDir != null) {
            out.put("report", reportDir.toString());
            reportFile = BenchReport.write(reportDir, heading, setup, out, tables, BenchReport.figures(measured, text));
            if (mode == BenchMode.DSSD) {
                Files.writeString(reportDir.resolve("dssd.json"), Json.write(out)); // the file this mode always wrote
            }
        }
        if (json) {
            System.out.println(Json.write(out));
            return 0;
        }
        switch (mode) {
            case EARLY_EXIT -> printEarlyExit(out, prompts.size());
            case DSSD -> printSpeculative(out, prompts.size());
            default -> System.out.print(BenchReport.markdown(heading, setup, tables));
        }
        if (text != null && mode != BenchMode.ALL) {
            printText(text);
        }
        printReportPath(reportFile);
        return 0;
    }

    /** --mode all's JSON: the setup, then each thread count's early-exit and speculative results. */
    private Map<String, Object> allJson(LoadedModel model, List<String> prompts, List<BenchReport.ThreadRun> measured) {
        Map<String, Object> out = new LinkedHashMap<>();
        Map<String, Object> first = measured.get(0).earlyExit();
        out.put("mode", "all");
        out.put("model", model.source().toString());
        out.put("heads", first.get("heads"));
        out.put("metric", first.get("metric"));
        out.put("consult", exitOptions.consult);
        out.put("prompts", prompts);
        out.put("tokens", tokens);
        out.put("runs", runs(false));
        out.put("sweep_runs", runs(true));
        out.put("warmup", warmup);
        out.put("epsilons", epsilons);
        out.put("max_drafts", maxDrafts);
        out.put("draft_lengths", draftLengths);
        out.put("quick", quick);
        out.put("threads", measured.stream().mapToInt(BenchReport.ThreadRun::threads).toArray());
        out.put("weights_mb", GenerateCommand.round(model.weights().bytes() / 1e6));
        List<Map<String, Object>> speed = new ArrayList<>();
        for (BenchReport.ThreadRun r : measured) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("threads", r.threads());
            m.put("early_exit", r.earlyExit());
            m.put("speculative", r.speculative());
            speed.add(m);
        }
        out.put("speed", speed);
        return out;
    }

    private List<String> setup(LoadedModel model, String heads, List<String> prompts, int[] threadCounts,
                               int[] textIds, long peakRssMb, long rssBeforeLoadMb) {
        List<String> lines = new ArrayList<>();
        lines.add("model `" + model.source() + "`, weights " + modelOptions.dtype.cliName() + ", heads " + heads
                + " (--heads " + exitOptions.heads + "), metric " + exitOptions.metric().id() + ", consult " + exitOptions.consult);
        lines.add("threads: " + Arrays.toString(threadCounts).replaceAll("[\\[\\]]", ""));
        lines.add(count(prompts.size(), "prompt") + " x up to " + tokens + " greedy tokens; per setting the median of "
                + count(runs(false), "timed run") + " after " + count(warmup, "warm-up") + (mode.speculative()
                ? " (dssd and layerskip sweeps: " + count(runs(true), "timed run") + " after one warm-up pass)" : "")
                + "; epsilon " + Arrays.toString(epsilons));
        lines.add(memoryLine(peakRssMb, rssBeforeLoadMb));
        if (textIds != null) {
            lines.add("text: `" + textFile + "`, the first " + (textIds.length - 1) + " tokens scored teacher-forced");
        }
        if (quick) {
            lines.add("--quick: a CI-sized run; its numbers are too small a sample for conclusions");
        }
        return lines;
    }

    /** "1 run", "3 runs". */
    static String count(int n, String noun) {
        return n + " " + noun + (n == 1 ? "" : "s");
    }

    private static String memoryLine(long peakRssMb, long rssBeforeLoadMb) {
        return "peak RSS " + peakRssMb + " MB (" + rssBeforeLoadMb + " MB before loading the model)";
    }

    private static void printReportPath(Path reportFile) {
        if (reportFile != null) {
            System.out.println("report: " + reportFile);
        }
    }

    /**
     * BOS and the first --text-tokens tokens of --text-file. Tokenizing a whole book to keep its start is
     * slow, so a prefix is tokenized, grown until it holds the tokens plus a margin (a cut mid-word changes
     * only the last few tokens).
     */
    private int[] textIds(LoadedModel model) throws IOException {
        String text = Files.readString(textFile, StandardCharsets.UTF_8);
        int margin = 16;
        for (int chars = 8 * (textTokens + margin); ; chars *= 2) {
            boolean whole = chars >= text.length();
            int[] ids = GenerateCommand.encodePrompt(model, whole ? text : text.substring(0, chars));
            if (whole || ids.length > textTokens + 1 + margin) {
                if (ids.length < 2) {
                    throw new IllegalArgumentException("--text-file " + textFile + ": the text is too short to score "
                            + "(it needs at least one token)");
                }
                return Arrays.copyOf(ids, Math.min(ids.length, textTokens + 1));
            }
        }
    }

    /**
     * The calibration the exit modes ran with, per metric and head: AUROC and the coverage at the bench's
     * ε under the paper's rule and under the guarantee (at --delta), side by side.
     */
    private Map<String, List<Map<String, Object>>> calibrationSummary(LoadedModel model) throws IOException {
        HeadSet heads = exitOptions.headSet(model);
        Calibration cal = exitOptions.loadCalibration(model, heads, ExitOptions.fingerprint(model));
        ThresholdRule rule = exitOptions.rule();
        ThresholdRule guarantee = rule.kind() == ThresholdRule.Kind.GUARANTEE ? rule : ThresholdRule.DEFAULT;
        return cal.summary(epsilons, guarantee);
    }

    /** The text scored under the full model and at every ε, in one pass of model and heads per window. */
    private Map<String, Object> scoreText(LoadedModel model, int[] ids, ThreadPool pool) throws IOException {
        ConfidenceMetric metric = exitOptions.metric();
        HeadSet heads = exitOptions.headSet(model);
        Calibration cal = exitOptions.loadCalibration(model, heads, ExitOptions.fingerprint(model));
        List<double[]> thresholds = new ArrayList<>();
        thresholds.add(TeacherForcedExit.FULL_MODEL);
        for (double eps : epsilons) {
            thresholds.add(exitOptions.thresholds(cal, heads, model, metric.id(), eps));
        }
        Transformer tf = new Transformer(model.config(), model.weights(), pool);
        List<Map<String, Object>> scores;
        try (Progress progress = Progress.start(!noProgress, "text",
                TeacherForcedScoring.windows(ids.length, model.config().maxSeqLen()))) {
            scores = TeacherForcedScoring.score(tf, heads, metric, ids, thresholds, progress);
        }
        Map<String, Object> text = new LinkedHashMap<>();
        text.put("file", textFile.toString());
        text.put("tokens", scores.get(0).get("tokens"));
        text.put("full", scores.get(0));
        List<Map<String, Object>> results = new ArrayList<>();
        for (int i = 0; i < epsilons.length; i++) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("epsilon", epsilons[i]);
            row.putAll(scores.get(i + 1));
            results.add(row);
        }
        text.put("results", results);
        return text;
    }

    /** Exit-mode benchmarks run on the held-out prompts (the first two with --quick) unless --prompt names one. */
    private List<String> exitPrompts() {
        if (given("--prompt")) {
            return List.of(prompt);
        }
        List<String> heldOut = EarlyExitBench.defaultPrompts();
        return quick ? heldOut.subList(0, 2) : heldOut;
    }

    private void printEarlyExit(Map<String, Object> out, int prompts) {
        System.out.printf("early exit (%s heads, %s), %d threads, %s, %d held-out prompts, median of %d runs: "
                        + "full model %s tokens/s%n", out.get("heads"), out.get("metric"), out.get("threads"),
                modelOptions.dtype.cliName(), prompts, runs(false), out.get("full_tokens_per_s"));
        for (Map<String, Object> r : BenchReport.list(out, "results")) {
            System.out.printf("  eps %s, kv fill %s: %s tokens/s (%sx), token agreement %s, sequence match %s, mean layers %s, "
                            + "exits %s, time %s, KV fill rows %s%n", r.get("epsilon"), r.get("kv_fill"), r.get("tokens_per_s"),
                    r.get("speedup"), r.get("token_agreement"), r.get("sequence_match"), r.get("mean_layers"),
                    r.get("exits_per_layer"), r.get("time"), r.get("kv_fill_rows"));
        }
        System.out.printf("  bytes per layer %s, per head call %s%n", out.get("bytes_per_layer"),
                out.get("bytes_per_head_call"));
    }

    private void printSpeculative(Map<String, Object> out, int prompts) {
        System.out.printf("self-speculative decoding (%s heads, %s), %d threads, %s, %d held-out prompts x %s tokens, "
                        + "median of %s runs: full model %s tokens/s%n", out.get("heads"), out.get("metric"),
                out.get("threads"), modelOptions.dtype.cliName(), prompts, out.get("tokens_per_prompt"), out.get("runs"),
                out.get("full_tokens_per_s"));
        if (out.get("dssd_plan") instanceof Map<?, ?> p) {
            System.out.printf("  dssd plan (the defaults: %s)%n", p.get("description"));
        }
        for (String key : List.of("dssd_plan", "dssd", "layerskip")) {
            for (Map<String, Object> r : BenchReport.rowsOf(out, key)) {
                System.out.printf("  %-9s %-32s %8s tokens/s (%sx)  acceptance %s  accepted/verification %s%n",
                        key.equals("dssd_plan") ? "dssd" : key, r.get("setting"), r.get("tokens_per_s"), r.get("speedup"),
                        r.get("acceptance_rate"), r.get("accepted_per_verification"));
            }
        }
        if (out.containsKey("dssd_vs_best_layerskip_speed")) {
            System.out.printf("  DSSD (%s) / best LayerSkip (%s): %sx tokens/s, %sx acceptance rate, %sx accepted "
                            + "tokens per verification%n", out.get("compared_dssd"),
                    BenchReport.map(out, "fastest_layerskip").get("setting"), out.get("dssd_vs_best_layerskip_speed"),
                    out.get("acceptance_rate_ratio"), out.get("accepted_per_verification_ratio"));
        }
    }

    private static void printText(Map<String, Object> text) {
        Map<String, Object> full = BenchReport.map(text, "full");
        System.out.printf("  text %s, %s tokens teacher-forced: full model perplexity %s%n", text.get("file"),
                text.get("tokens"), full.get("perplexity"));
        for (Map<String, Object> r : BenchReport.list(text, "results")) {
            System.out.printf("    eps %s: perplexity %s, agreement %s, mean layers %s, exits %s%n", r.get("epsilon"),
                    r.get("perplexity"), r.get("agreement"), r.get("mean_layers"), r.get("exits_per_layer"));
        }
    }

    /**
     * How far reduced-precision greedy output stays with float32's: the identical prefix of the two greedy
     * runs, and the share of positions where float32, fed the reduced model's own text, picks the same token.
     * Measured after peak RSS was read, since it loads the float32 weights too.
     */
    private Map<String, Object> agreementWithF32(LoadedModel reduced, int[] promptIds, int[] reducedIds) throws IOException {
        LoadedModel f32 = new ModelResolver(ModelCache.defaultCache(), System.err::println)
                .load(modelOptions.model, modelOptions.tokenizer, DType.F32);
        ModelConfig c = f32.config();
        try (ThreadPool pool = modelOptions.pool()) {
            Transformer tf = new Transformer(c, f32.weights(), pool);
            int n = promptIds.length + reducedIds.length;
            int[] seq = new int[n];
            System.arraycopy(promptIds, 0, seq, 0, promptIds.length);
            System.arraycopy(reducedIds, 0, seq, promptIds.length, reducedIds.length);
            float[] x = new float[n * c.dim()];
            tf.embed(seq, 0, n, 0, x);
            tf.forward(x, n, 0, c.layers(), new KVCache(c));
            float[] logits = new float[c.vocabSize()];
            int agree = 0;
            int prefix = -1;
            for (int i = 0; i < reducedIds.length; i++) {
                tf.logits(x, promptIds.length - 1 + i, logits);
                boolean same = Kernels.argmax(logits, 0, c.vocabSize()) == reducedIds[i];
                if (same) {
                    agree++;
                } else if (prefix < 0) {
                    prefix = i;
                }
            }
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("f32_token_agreement", GenerateCommand.round((double) agree / reducedIds.length));
            m.put("f32_prefix_match", prefix < 0 ? reducedIds.length : prefix);
            return m;
        }
    }

    /**
     * The run of median speed (the lower middle one for an even count): a real run, so its other figures
     * (acceptance, timings, output) stay consistent with its speed.
     */
    public static <R> R medianBy(List<R> runs, java.util.function.ToDoubleFunction<R> speed) {
        List<R> sorted = new ArrayList<>(runs);
        sorted.sort(java.util.Comparator.comparingDouble(speed));
        return sorted.get((sorted.size() - 1) / 2);
    }

    static double median(double[] values) {
        double[] s = values.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }

    /** Peak resident set size of this process (VmHWM), or -1 where /proc is unavailable. */
    static long peakRssMb() {
        return rssMb("VmHWM:");
    }

    /** A memory line of /proc/self/status in MB, or -1 where /proc is unavailable. */
    static long rssMb(String key) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(key)) {
                    String kb = line.replaceAll("[^0-9]", "");
                    return Long.parseLong(kb) / 1024;
                }
            }
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }

    /** What the weights are stored as: --dtype, or for a GGUF file its own types (--dtype does not apply). */
    private String weightsLabel(LoadedModel model) {
        return model.source().getFileName().toString().endsWith(".gguf") ? "gguf" : modelOptions.dtype.cliName();
    }
}
