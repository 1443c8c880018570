package dev.earlyexit.cli;

import dev.earlyexit.bench.*;
import dev.earlyexit.calibration.Calibration;
import dev.earlyexit.calibration.ConfidenceMetric;
import dev.earlyexit.decoding.EarlyExitDecoder;
import dev.earlyexit.decoding.EarlyExitResult;
import dev.earlyexit.decoding.CalibratedDraft;
import dev.earlyexit.decoding.GenerationResult;
import dev.earlyexit.decoding.Generator;
import dev.earlyexit.decoding.SamplingOptions;
import dev.earlyexit.decoding.SelfSpeculativeDecoder;
import dev.earlyexit.decoding.SpeculativeResult;
import dev.earlyexit.exits.ExitHeads;
import dev.earlyexit.exits.HeadKind;
import dev.earlyexit.exits.HeadSet;
import dev.earlyexit.model.Transformer;
import dev.earlyexit.store.LoadedModel;
import dev.earlyexit.tensor.ThreadPool;
import dev.earlyexit.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;

/**
 * The one-command tour: the default model, its exit heads (trained on first use), their calibration
 * (made on first use), then one story three ways: the full model, early exit, and self-speculative
 * decoding, with speeds, speed-ups and a report folder.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Train (once) and calibrate exit heads, then generate one story with the full model, with early "
                + "exits and with self-speculative decoding; prints speeds and writes a report folder.")
final class DemoCommand implements Callable<Integer> {
    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--prompt", defaultValue = "Once upon a time", paramLabel = "TEXT",
            description = "Story prompt (default: ${DEFAULT-VALUE}).")
    String prompt;

    @Option(names = "--max-tokens", defaultValue = "200", paramLabel = "N", description = "Tokens per story (default: ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--epsilon", defaultValue = "0.9", paramLabel = "E",
            description = "Early exit: calibrated agreement level (default: ${DEFAULT-VALUE}).")
    double epsilon;

    // DSSD's output is the full model's whatever the draft; by default it drafts by the plan calibrate chose
    // from this machine's costs (CalibratedDraft.planned), which bench --mode dssd compares with the
    // ε-threshold drafts and the fixed-layer baseline.
    @Option(names = "--dssd-epsilon", paramLabel = "E",
            description = "DSSD: draft at this epsilon's early-exit thresholds instead of the calibrated draft plan.")
    Double dssdEpsilon;

    @Option(names = "--max-draft", paramLabel = "N",
            description = "DSSD: most tokens drafted per verification (default: the plan's; with --dssd-epsilon 12).")
    Integer maxDraft;

    @Option(names = "--out", paramLabel = "DIR", description = "Report folder (default: reports/demo-<time>).")
    Path out;

    @Override
    public Integer call() throws Exception {
        Calibration.checkEpsilon(epsilon);
        if (dssdEpsilon != null) {
            Calibration.checkEpsilon(dssdEpsilon);
        }
        if (maxDraft != null && maxDraft < 1) {
            throw new IllegalArgumentException("--max-draft must be >= 1, got " + maxDraft);
        }
        if (maxTokens < 2) {
            throw new IllegalArgumentException("--max-tokens must be >= 2, got " + maxTokens);
        }
        PrintStream stdout = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        LoadedModel model = modelOptions.load();
        String source = model.source().toString();
        List<String> common = new ArrayList<>(List.of("--model", source, "--dtype", modelOptions.dtype.cliName()));
        if (modelOptions.threads != null) {
            common.addAll(List.of("--threads", modelOptions.threads.toString()));
        }

        Path dir = out != null ? out : ReportFolder.timestamped("demo");
        Files.createDirectories(dir);

        // 1. Heads: reuse what train-heads stored beside the model, else train the cheap subset kind once.
        Path headsFile = ExitHeads.findDefault(model.source()).orElse(null);
        if (headsFile == null) {
            stdout.println("== training exit heads (once; later runs reuse them; log: " + dir.resolve("train-heads.log") + ")");
            run(dir.resolve("train-heads.log"), "train-heads", common); // the defaults: what a user gets
            headsFile = ExitHeads.defaultPath(model.source(), HeadKind.SUBSET);
        } else {
            stdout.println("== exit heads: " + headsFile);
        }
        ExitOptions exitOptions = new ExitOptions();
        exitOptions.heads = headsFile.toString();
        exitOptions.consult = "auto";
        HeadSet heads = exitOptions.headSet(model);
        // 2. Calibration: one per heads file; made once.
        Path calibration = exitOptions.calibrationPath(model, heads);
        if (!Files.isRegularFile(calibration)) {
            stdout.println("== calibrating exit thresholds (once; coverage per head and the held-out check: "
                    + dir.resolve("calibrate.log") + ")");
            run(dir.resolve("calibrate.log"), "calibrate", common, "--heads", headsFile.toString());
        } else {
            stdout.println("== calibration: " + calibration);
        }
        ConfidenceMetric metric = exitOptions.metric();
        Calibration cal = exitOptions.loadCalibration(model, heads, ExitOptions.fingerprint(model));
        double[] tau = exitOptions.thresholds(cal, heads, model, metric.id(), epsilon);
        Optional<CalibratedDraft> drafting = dssdEpsilon == null
                ? exitOptions.dssdDraft(cal, heads, model, metric, true, 0.95, maxDraft)
                : exitOptions.dssdDraft(cal, heads, model, metric, false, dssdEpsilon, maxDraft == null ? 12 : maxDraft);

        // 3. One story, three ways (greedy, so DSSD must reproduce the full model's text exactly).
        Tokenizer tok = model.requireTokenizer();
        int[] ids = GenerateCommand.encodePrompt(model, prompt);
        Generator.checkPrompt(ids, model.config());
        int L = model.config().layers();
        Map<String, Object> report = new LinkedHashMap<>();
        try (ThreadPool pool = modelOptions.pool()) {
            Transformer tf = new Transformer(model.config(), model.weights(), pool);
            Generator full = new Generator(tf);
            EarlyExitDecoder early = new EarlyExitDecoder(tf, heads, tau, metric);
            SelfSpeculativeDecoder dssd = drafting.map(d -> d.decoder(tf)).orElse(null);
            // Warm the JIT on every path first, so that the speeds compare the methods, not the compiler.
            full.generate(ids, maxTokens, SamplingOptions.GREEDY, null);
            early.generate(ids, maxTokens, SamplingOptions.GREEDY, null);
            if (dssd != null) {
                dssd.generate(ids, maxTokens, SamplingOptions.GREEDY, null);
            }

            // The three in alternating rounds, each its run of median speed: timed one after another, the
            // full model measured ~15% slower than alternating and every speed-up came out that much high.
            List<GenerationResult> fullRuns = new ArrayList<>();
            List<EarlyExitResult> earlyRuns = new ArrayList<>();
            List<SpeculativeResult> dssdRuns = new ArrayList<>();
            for (int round = 0; round < TIMED_RUNS; round++) {
                fullRuns.add(full.generate(ids, maxTokens, SamplingOptions.GREEDY, null));
                earlyRuns.add(early.generate(ids, maxTokens, SamplingOptions.GREEDY, null));
                if (dssd != null) {
                    dssdRuns.add(dssd.generate(ids, maxTokens, SamplingOptions.GREEDY, null));
                }
            }

            stdout.println("\n== full model");
            GenerationResult f = BenchCommand.medianBy(fullRuns, GenerationResult::decodeTokensPerSecond);
            String fullText = GenerateCommand.continuation(tok, ids, f.ids());
            stdout.println(prompt + fullText);
            stdout.printf("   %.1f tokens/s%n", f.decodeTokensPerSecond());

            stdout.println("\n== early exit (epsilon " + epsilon + ", heads at layers "
                    + java.util.Arrays.toString(early.consultedLayers()) + ")");
            EarlyExitResult e = BenchCommand.medianBy(earlyRuns, r -> r.generation().decodeTokensPerSecond());
            boolean colour = ExitColours.stdoutIsTerminal();
            if (colour) {
                stdout.println(ExitColours.legend(early.consultedLayers(), L));
            }
            stdout.println(prompt + colouredText(tok, ids, e, colour, L));
            double eTps = e.generation().decodeTokensPerSecond();
            int[] eIds = e.generation().ids();
            int same = 0;
            while (same < Math.min(eIds.length, f.ids().length) && eIds[same] == f.ids()[same]) {
                same++;
            }
            stdout.printf("   %.1f tokens/s (%.2fx), mean layers %.2f of %d, first %d tokens identical to the full model%n",
                    eTps, eTps / f.decodeTokensPerSecond(), e.meanLayers(), L, same);

            Map<String, Object> dssdRow = null;
            if (dssd != null) {
                stdout.println("\n== self-speculative decoding (" + drafting.get().description() + ")");
                SpeculativeResult s = BenchCommand.medianBy(dssdRuns, SpeculativeResult::tokensPerSecond);
                boolean identical = java.util.Arrays.equals(s.ids(), f.ids());
                stdout.println(prompt + GenerateCommand.continuation(tok, ids, s.ids()));
                stdout.printf("   %.1f tokens/s (%.2fx), drafted %d, accepted %d (%.0f%%), output %s the full model's%n",
                        s.tokensPerSecond(), s.tokensPerSecond() / f.decodeTokensPerSecond(), s.drafted(), s.accepted(),
                        100 * s.acceptanceRate(), identical ? "identical to" : "DIFFERENT from");
                if (!identical) {
                    throw new IllegalStateException("self-speculative decoding changed the greedy output: a bug");
                }
                dssdRow = row("dssd", s.tokensPerSecond(), f.decodeTokensPerSecond());
                dssdRow.put("draft", drafting.get().description());
                if (dssdEpsilon != null) {
                    dssdRow.put("epsilon", dssdEpsilon);
                }
                dssdRow.put("max_draft", drafting.get().maxDraft());
                dssdRow.put("drafted", s.drafted());
                dssdRow.put("accepted", s.accepted());
                dssdRow.put("acceptance_rate", GenerateCommand.round(s.acceptanceRate()));
            }
            report.put("model", source);
            report.put("heads", headsFile.toString());
            report.put("calibration", calibration.toString());
            report.put("prompt", prompt);
            report.put("epsilon", epsilon);
            report.put("threads", pool.threads());
            report.put("text", fullText);
            List<Map<String, Object>> rows = new ArrayList<>();
            rows.add(row("full", f.decodeTokensPerSecond(), f.decodeTokensPerSecond()));
            Map<String, Object> eRow = row("early-exit", eTps, f.decodeTokensPerSecond());
            eRow.put("mean_layers", GenerateCommand.round(e.meanLayers()));
            eRow.put("identical_prefix", same);
            eRow.put("exit_layers", e.exitLayers());
            rows.add(eRow);
            if (dssdRow != null) {
                rows.add(dssdRow);
            }
            report.put("modes", rows);
        }
        writeReport(dir, report, headsFile);
        stdout.println("\n== summary (" + report.get("threads") + " threads, greedy, median of " + TIMED_RUNS + " runs)");
        stdout.print(summaryTable(report));
        stdout.println("\nreport: " + dir.resolve("report.md"));
        return 0;
    }

    private static Map<String, Object> row(String mode, double tps, double fullTps) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("mode", mode);
        m.put("tokens_per_s", GenerateCommand.round(tps));
        m.put("speedup", GenerateCommand.round(tps / fullTps));
        return m;
    }

    /** The generated text, each token coloured by the layer it left at (plain when not a terminal). */
    private static String colouredText(Tokenizer tok, int[] prompt, EarlyExitResult r, boolean colour, int L) {
        if (!colour) {
            return GenerateCommand.continuation(tok, prompt, r.generation().ids());
        }
        Tokenizer.StreamDecoder s = tok.streamDecoder();
        for (int id : prompt) {
            s.push(id);
        }
        StringBuilder sb = new StringBuilder();
        int[] ids = r.generation().ids();
        for (int i = 0; i < ids.length; i++) {
            sb.append(ExitColours.paint(s.push(ids[i]), r.exitLayers()[i], L));
        }
        return sb.append(s.flush()).toString();
    }

    /** Runs a subcommand with its standard output in {@code log} (progress bars stay on standard error). */
    private void run(Path log, String command, List<String> common, String... extra) throws IOException {
        List<String> args = new ArrayList<>();
        args.add(command);
        args.addAll(common);
        args.addAll(List.of(extra));
        PrintStream console = System.out;
        int code;
        try (PrintStream file = new PrintStream(Files.newOutputStream(log), true, StandardCharsets.UTF_8)) {
            System.setOut(file);
            code = Main.run(args.toArray(new String[0]));
        } finally {
            System.setOut(console);
        }
        if (code != 0) {
            throw new IllegalStateException(command + " failed (exit " + code + "); its output: " + log);
        }
    }

    /** The modes' table, as report.md has it. */
    private static String summaryTable(Map<String, Object> report) {
        StringBuilder md = new StringBuilder("| mode | tokens/s | speed-up | notes |\n| --- | --- | --- | --- |\n");
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> rows = (List<Map<String, Object>>) report.get("modes");
        for (Map<String, Object> r : rows) {
            String notes = switch ((String) r.get("mode")) {
                case "early-exit" -> "mean layers " + r.get("mean_layers") + ", first " + r.get("identical_prefix")
                        + " tokens identical to the full model";
                case "dssd" -> "drafted " + r.get("drafted") + ", accepted " + r.get("accepted")
                        + "; output identical to the full model";
                default -> "every layer for every token";
            };
            md.append("| ").append(r.get("mode")).append(" | ").append(r.get("tokens_per_s")).append(" | ")
                    .append(r.get("speedup")).append("x | ").append(notes).append(" |\n");
        }
        return md.toString();
    }

    private void writeReport(Path dir, Map<String, Object> report, Path headsFile) throws Exception {
        Files.writeString(dir.resolve("results.json"), Json.write(report));
        Path plot = headsFile.resolveSibling(headsFile.getFileName().toString().replaceFirst("\\.safetensors$", ".png"));
        boolean hasPlot = Files.isRegularFile(plot);
        if (hasPlot) {
            Files.copy(plot, dir.resolve("heads-training.png"), StandardCopyOption.REPLACE_EXISTING);
        }
        StringBuilder md = new StringBuilder("# earlyexit demo\n\n");
        md.append("Model `").append(report.get("model")).append("`, heads `").append(report.get("heads"))
                .append("`, ε ").append(report.get("epsilon")).append(", ").append(report.get("threads"))
                .append(" threads, greedy.\n\nPrompt: ").append(report.get("prompt")).append("\n\n");
        md.append(summaryTable(report));
        md.append("\nFull-model story: ").append(report.get("prompt")).append(report.get("text")).append("\n");
        if (hasPlot) {
            md.append("\n![Exit heads' agreement and entropy during training](heads-training.png)\n");
        }
        md.append("\nAll figures: `results.json`.\n");
        if (Files.isRegularFile(dir.resolve("calibrate.log"))) {
            md.append("\nCalibration (coverage per head under both rules, AUROC, held-out check): `calibrate.log`.\n");
        }
        Files.writeString(dir.resolve("report.md"), md.toString());
    }

    /**
     * Rounds timed per mode, greedy (every run has the same output): one run of a 200-token story is too
     * short to time alone on a shared machine (DSSD measured 0.6x and 1.3x in consecutive demos).
     */
    private static final int TIMED_RUNS = 3;

}
