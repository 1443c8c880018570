package dev.earlyexit.cli;

import dev.earlyexit.exits.ExitHeads;
import dev.earlyexit.exits.HeadDataset;
import dev.earlyexit.exits.HeadInit;
import dev.earlyexit.exits.HeadKind;
import dev.earlyexit.exits.HeadMetrics;
import dev.earlyexit.exits.HeadTraining;
import dev.earlyexit.exits.TrainableHead;
import dev.earlyexit.exits.TrainingOptions;
import dev.earlyexit.exits.TrainingPlot;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.Transformer;
import dev.earlyexit.store.LoadedModel;
import dev.earlyexit.tensor.ThreadPool;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "train-heads", mixinStandardHelpOptions = true,
        description = "Train self-supervised early-exit heads on the model's own generations and store them "
                + "beside the model (metrics as JSON, CSV and a PNG plot next to the heads file).")
final class TrainHeadsCommand implements Callable<Integer> {
    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--layers", split = ",", paramLabel = "L",
            description = "Head layers (1-based counts of blocks); default: every layer but the last for up to 8 "
                    + "layers, else 4 evenly spaced; --kind subset adds the last layer (a cheap stand-in for the "
                    + "model's classifier). Only a subset head may sit after the last layer.")
    int[] layers;

    @Option(names = "--kind", defaultValue = "subset", paramLabel = "K",
            description = "subset (norm + linear to the most predicted tokens; the default: the fastest kind, a call "
                    + "costs a fraction of a layer), full (the paper's heads: norm + linear to the whole vocabulary) or "
                    + "adapter (norm + low-rank adapter before the model's classifier) (default: ${DEFAULT-VALUE}).")
    String kind;

    @Option(names = "--init", defaultValue = "copy", paramLabel = "I",
            description = "random, or copy of the model's final norm and classifier (default: ${DEFAULT-VALUE}).")
    String init;

    @Option(names = "--lambda", defaultValue = "0.1", paramLabel = "L",
            description = "Entropy penalty weight in [0, 1) (default: ${DEFAULT-VALUE}).")
    float lambda;

    @Option(names = "--steps", defaultValue = "150", paramLabel = "N", description = "Optimizer steps (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--batch", defaultValue = "64", paramLabel = "B", description = "Positions per step (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--lr", paramLabel = "LR",
            description = "Peak learning rate (default: 0.001 for --init copy, 0.01 for --init random).")
    Float lrOption;

    float lr;

    @Option(names = "--weight-decay", defaultValue = "0.01", paramLabel = "WD", description = "AdamW weight decay (default: ${DEFAULT-VALUE}).")
    float weightDecay;

    @Option(names = "--warmup", defaultValue = "10", paramLabel = "N", description = "Warm-up steps (default: ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--seed", defaultValue = "1", paramLabel = "S", description = "Seed of data, initialisation and order (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--prompts", paramLabel = "FILE", description = "More training prompts, one per line (added to the paper's five).")
    Path promptsFile;

    @Option(names = "--text", paramLabel = "FILE",
            description = "A text file to add, teacher-forced in context-sized chunks (first 50000 tokens).")
    Path textFile;

    // 24, not 6: the subset is the tokens the model predicted in the data, and with 6 it covered 83% of the
    // model's predictions on held-out text (train: 97%), so the last-layer head could exit few tokens at
    // ε 0.95; with 24 it covers 91% (bench --mode early-exit --epsilon 0.95: 1.37x -> 2.40-3.04x).
    @Option(names = "--samples", defaultValue = "24", paramLabel = "N", description = "Continuations per training prompt (default: ${DEFAULT-VALUE}).")
    int samples;

    @Option(names = "--max-new-tokens", defaultValue = "200", paramLabel = "N", description = "Longest continuation (default: ${DEFAULT-VALUE}).")
    int maxNewTokens;

    @Option(names = "--held-out-samples", defaultValue = "2", paramLabel = "N",
            description = "Continuations per held-out prompt (default: ${DEFAULT-VALUE}).")
    int heldOutSamples;

    @Option(names = "--temperature", defaultValue = "1", paramLabel = "T", description = "Sampling temperature of the data (default: ${DEFAULT-VALUE}).")
    float temperature;

    @Option(names = "--vocab", defaultValue = "0", paramLabel = "N", description = "Subset size for --kind subset; 0 chooses it by --coverage.")
    int vocab;

    @Option(names = "--coverage", defaultValue = "0.97", paramLabel = "F",
            description = "For --kind subset: smallest set of tokens covering this fraction of the model's predictions on the training data (default: ${DEFAULT-VALUE}).")
    double coverage;

    @Option(names = "--rank", defaultValue = "32", paramLabel = "R", description = "Adapter rank for --kind adapter (default: ${DEFAULT-VALUE}).")
    int rank;

    @Option(names = "--out", paramLabel = "PATH", description = "Heads file (default: beside the model, <model>.heads/<kind>.safetensors).")
    Path out;

    @Option(names = "--no-progress", description = "No progress bar.")
    boolean noProgress;

    @Option(names = "--json", description = "Print one JSON object with the results.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        HeadKind headKind = HeadKind.parse(kind);
        HeadInit headInit = HeadInit.parse(init);
        lr = lrOption != null ? lrOption : defaultLr(headInit);
        TrainingOptions training = new TrainingOptions(lambda, steps, batch, lr, weightDecay, Math.min(warmup, steps),
                0.1f, seed);
        if (samples < 1 || heldOutSamples < 1 || maxNewTokens < 1) {
            throw new IllegalArgumentException("--samples, --held-out-samples and --max-new-tokens must be >= 1");
        }
        if (headKind == HeadKind.SUBSET && vocab <= 0 && !(coverage > 0 && coverage <= 1)) {
            throw new IllegalArgumentException("--coverage must be in (0, 1], got " + coverage);
        }
        List<String> prompts = new ArrayList<>(HeadDataset.TRAIN_PROMPTS);
        if (promptsFile != null) {
            for (String line : Files.readAllLines(promptsFile, StandardCharsets.UTF_8)) {
                if (!line.isBlank()) {
                    prompts.add(line.strip());
                }
            }
        }
        List<String> texts = textFile == null ? List.of() : List.of(Files.readString(textFile, StandardCharsets.UTF_8));

        long start = System.nanoTime();
        LoadedModel model = modelOptions.load();
        ModelConfig c = model.config();
        int[] headLayers = layers != null ? layers.clone() : HeadTraining.defaultLayers(c.layers(), headKind);
        java.util.Arrays.sort(headLayers);
        // A head after the last layer only pays when it reads less than the classifier it stands in for.
        int top = headKind == HeadKind.SUBSET ? c.layers() : c.layers() - 1;
        for (int i = 0; i < headLayers.length; i++) {
            if (headLayers[i] < 1 || headLayers[i] > top || (i > 0 && headLayers[i] == headLayers[i - 1])) {
                throw new IllegalArgumentException("--layers must be distinct layers in [1, " + top
                        + "] for --kind " + kind + " (the model has " + c.layers() + "), got "
                        + java.util.Arrays.toString(layers));
            }
        }
        Path target = out != null ? out : ExitHeads.defaultPath(model.source(), headKind);
        PrintStream stdout = new PrintStream(System.out, true, StandardCharsets.UTF_8);

        try (ThreadPool pool = modelOptions.pool()) {
            Transformer transformer = new Transformer(c, model.weights(), pool);
            long d0 = System.nanoTime();
            HeadDataset train = buildData(transformer, model, headLayers, new HeadDataset.Spec(prompts, samples,
                    maxNewTokens, temperature, seed, texts, 50_000), "data");
            HeadDataset heldOut = buildData(transformer, model, headLayers, new HeadDataset.Spec(
                    HeadDataset.HELD_OUT_PROMPTS, heldOutSamples, maxNewTokens, temperature, seed + 7919, List.of(), 0),
                    "held-out");
            double dataSeconds = (System.nanoTime() - d0) / 1e9;

            HeadTraining.Setup setup = new HeadTraining.Setup(headKind, headInit, headLayers, rank, coverage, vocab, training);
            HeadTraining.Result result;
            try (Progress bar = Progress.start(!noProgress, "train " + headKind.cliName(), steps)) {
                result = HeadTraining.run(transformer, setup, train, heldOut, (step, total, rate, agree, ent, loss) -> {
                    bar.stepTo(step + 1);
                    bar.message(running(headLayers, agree, ent));
                });
            }
            result.heads().save(target);
            String stem = target.getFileName().toString().replaceFirst("\\.safetensors$", "");
            Path metricsJson = target.resolveSibling(stem + ".metrics.json");
            Path metricsCsv = target.resolveSibling(stem + ".metrics.csv");
            Path plot = target.resolveSibling(stem + ".png");
            result.history().writeCsv(metricsCsv);
            TrainingPlot.write(result.history(), headKind.cliName() + "/" + headInit.cliName() + ", λ=" + lambda, plot);
            double seconds = (System.nanoTime() - start) / 1e9;

            Map<String, Object> report = report(result, headKind, headInit, train, heldOut, seconds, dataSeconds, target);
            Map<String, Object> full = new LinkedHashMap<>(report);
            full.put("history", result.history().toJson());
            Files.writeString(metricsJson, Json.write(full), StandardCharsets.UTF_8);
            if (json) {
                stdout.println(Json.write(report));
            } else {
                stdout.printf(Locale.ROOT, "trained %d %s heads (%s init, λ=%.2f, %d steps × %d) in %.1f s "
                                + "(data %.1f s, training %.1f s, %.0f positions/s)%n",
                        headLayers.length, headKind.cliName(), headInit.cliName(), lambda, steps, batch, seconds,
                        dataSeconds, result.trainSeconds(), result.tokensPerSecond());
                stdout.printf(Locale.ROOT, "the model's own mean entropy on the held-out set: %.3f nats%n", result.modelEntropy());
                stdout.println("held-out (" + heldOut.size() + " positions):  layer  agreement  entropy  (untrained agreement)  MB/call");
                for (int i = 0; i < result.after().size(); i++) {
                    HeadMetrics m = result.after().get(i);
                    TrainableHead h = result.heads().head(i);
                    stdout.printf(Locale.ROOT, "  %5d  %9.3f  %7.3f  (%.3f)  %.2f%n", m.layer(), m.agreement(), m.entropy(),
                            result.before().get(i).agreement(), h.bytesPerCall() / 1e6);
                }
                stdout.println("saved " + target + " (metrics: " + metricsJson.getFileName() + ", "
                        + metricsCsv.getFileName() + ", " + plot.getFileName() + ")");
            }
        }
        return 0;
    }

    private HeadDataset buildData(Transformer t, LoadedModel model, int[] headLayers, HeadDataset.Spec spec, String name) {
        int total = spec.prompts().size() * spec.samplesPerPrompt() + spec.texts().size();
        try (Progress bar = Progress.start(!noProgress, name, total)) {
            return HeadDataset.build(t, model.requireTokenizer(), headLayers, spec, (done, all) -> bar.stepTo(done));
        }
    }

    private static String running(int[] layers, float[] agree, float[] ent) {
        StringBuilder sb = new StringBuilder("agree");
        for (float a : agree) {
            sb.append(String.format(Locale.ROOT, " %.2f", a));
        }
        sb.append(" | H");
        for (float e : ent) {
            sb.append(String.format(Locale.ROOT, " %.1f", e));
        }
        return sb.toString();
    }

    private Map<String, Object> report(HeadTraining.Result r, HeadKind k, HeadInit i, HeadDataset train,
                                       HeadDataset heldOut, double seconds, double dataSeconds, Path target) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("seconds", round(seconds));
        m.put("data_seconds", round(dataSeconds));
        m.put("train_seconds", round(r.trainSeconds()));
        m.put("eval_seconds", round(r.evalSeconds()));
        m.put("train_tokens_per_s", round(r.tokensPerSecond()));
        m.put("kind", k.cliName());
        m.put("init", i.cliName());
        m.put("lambda", lambda);
        m.put("steps", steps);
        m.put("batch", batch);
        m.put("lr", lr);
        m.put("seed", seed);
        m.put("out", target.toString());
        m.put("train_data", train.summary().toMap());
        m.put("held_out_data", heldOut.summary().toMap());
        m.put("held_out_model_entropy", round(r.modelEntropy()));
        if (r.subset() != null) {
            m.put("vocab_subset_size", r.subset().size());
        }
        List<Map<String, Object>> heads = new ArrayList<>();
        for (int h = 0; h < r.after().size(); h++) {
            Map<String, Object> hm = r.after().get(h).toMap();
            hm.put("untrained_agreement", round(r.before().get(h).agreement()));
            hm.put("untrained_entropy", round(r.before().get(h).entropy()));
            hm.put("bytes_per_call", r.heads().head(h).bytesPerCall());
            hm.put("trainable_parameters", r.heads().head(h).trainableParameters());
            heads.add(hm);
        }
        m.put("heads", heads);
        return m;
    }

    /** A copied head starts near its optimum and needs small steps; a random one needs larger ones. */
    static float defaultLr(HeadInit init) {
        return init == HeadInit.COPY ? 1e-3f : 1e-2f;
    }

    private static double round(double v) {
        return Math.round(v * 1000.0) / 1000.0;
    }
}
