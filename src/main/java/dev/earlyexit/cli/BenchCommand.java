package dev.earlyexit.cli;

import dev.earlyexit.decoding.GenerationResult;
import dev.earlyexit.decoding.Generator;
import dev.earlyexit.decoding.SamplingOptions;
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
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Measure decode speed: greedy tokens from a prompt, median of several runs, and peak memory.")
final class BenchCommand implements Callable<Integer> {
    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--prompt", defaultValue = "Once upon a time", paramLabel = "TEXT",
            description = "Prompt (default: ${DEFAULT-VALUE}).")
    String prompt;

    @Option(names = "--tokens", defaultValue = "256", paramLabel = "N",
            description = "Greedy tokens per run, at most what the context leaves after the prompt; stop tokens do "
                    + "not end a run (default: ${DEFAULT-VALUE}).")
    int tokens;

    @Option(names = "--runs", defaultValue = "7", paramLabel = "R", description = "Timed runs (default: ${DEFAULT-VALUE}).")
    int runs;

    @Option(names = "--warmup", defaultValue = "3", paramLabel = "W",
            description = "Untimed runs first, for the JIT (default: ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--json", description = "Print one JSON object.")
    boolean json;

    @Option(names = "--mode", defaultValue = "full", converter = ExitOptions.ModeConverter.class, paramLabel = "MODE",
            description = "full (the default); early-exit: speed-up against the full model on held-out prompts "
                    + "(or --prompt), token agreement and sequence match, and where the time goes; dssd: "
                    + "self-speculative decoding over --epsilon x --max-draft and the layerskip baseline over "
                    + "layer x --draft-length.")
    ExitOptions.Mode mode;

    @Option(names = "--epsilon", split = ",", defaultValue = "0.8,0.9,0.95", paramLabel = "E",
            description = "Early exit: epsilons to measure, comma-separated (default: ${DEFAULT-VALUE}).")
    double[] epsilons;

    @Option(names = "--kv-fill", split = ",", defaultValue = "exact", paramLabel = "F",
            description = "Early exit: exact, copy (CALM's approximation) or both, comma-separated (default: ${DEFAULT-VALUE}).")
    List<String> kvFills;

    @Option(names = "--max-draft", split = ",", defaultValue = "2,4,8", paramLabel = "N[,N...]",
            description = "dssd: maximum draft lengths to sweep (default: ${DEFAULT-VALUE}).")
    int[] maxDrafts;

    @Option(names = "--draft-length", split = ",", defaultValue = "1,2,3,4", paramLabel = "N[,N...]",
            description = "dssd: the layerskip baseline's draft lengths to sweep, at every head's layer "
                    + "(default: ${DEFAULT-VALUE}).")
    int[] draftLengths;

    @Option(names = "--report", paramLabel = "DIR",
            description = "dssd: also write dssd.json, dssd.csv and dssd.png (acceptance vs draft length) here.")
    Path report;

    @Mixin
    ExitOptions exitOptions;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (tokens < 2 || runs < 1 || warmup < 0) {
            throw new IllegalArgumentException("--tokens must be >= 2, --runs >= 1 and --warmup >= 0");
        }
        if (mode == ExitOptions.Mode.EARLY_EXIT) {
            return earlyExit();
        }
        if (mode == ExitOptions.Mode.DSSD) {
            return speculative();
        }
        if (mode == ExitOptions.Mode.LAYERSKIP) {
            throw new IllegalArgumentException("bench --mode dssd measures the layerskip baseline beside DSSD");
        }
        long rssBeforeLoadMb = rssMb("VmRSS:");
        LoadedModel model = modelOptions.load();
        int[] promptIds = GenerateCommand.encodePrompt(model, prompt);
        Generator.checkPrompt(promptIds, model.config());
        // As llama2.c's "-n 256" on a 256-position model: the run ends when the context is full.
        int tokens = Math.min(this.tokens, model.config().maxSeqLen() - promptIds.length);
        int[] threadCounts = modelOptions.threads != null ? new int[] {modelOptions.threads} : new int[] {1, 2};
        List<Map<String, Object>> results = new ArrayList<>();
        int[] generated = null;
        for (int threads : threadCounts) {
            try (ThreadPool pool = new ThreadPool(threads)) {
                Generator g = new Generator(new Transformer(model.config(), model.weights(), pool));
                for (int i = 0; i < warmup; i++) {
                    g.generate(promptIds, tokens, SamplingOptions.GREEDY, null, false);
                }
                double[] tps = new double[runs];
                double[] prefill = new double[runs];
                for (int i = 0; i < runs; i++) {
                    GenerationResult r = g.generate(promptIds, tokens, SamplingOptions.GREEDY, null, false);
                    tps[i] = r.decodeTokensPerSecond();
                    prefill[i] = r.prefillMs();
                    generated = r.ids();
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
        long peakRssMb = peakRssMb();
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("model", model.source().toString());
        out.put("dtype", modelOptions.dtype.cliName());
        out.put("prompt_tokens", promptIds.length);
        out.put("tokens", tokens);
        out.put("runs", runs);
        out.put("tokens_per_s", results.get(results.size() - 1).get("tokens_per_s"));
        out.put("results", results);
        out.put("weights_mb", GenerateCommand.round(model.weights().bytes() / 1e6));
        out.put("peak_rss_mb", peakRssMb);
        out.put("rss_before_load_mb", rssBeforeLoadMb);
        if (modelOptions.dtype != DType.F32) {
            out.putAll(agreementWithF32(model, promptIds, generated));
        }
        if (json) {
            System.out.println(Json.write(out));
        } else {
            System.out.printf("model %s, weights %s (%.1f MB), %d greedy tokens after %d prompt tokens, median of %d runs%n",
                    model.source(), modelOptions.dtype.cliName(), model.weights().bytes() / 1e6, tokens, promptIds.length,
                    runs);
            for (Map<String, Object> r : results) {
                System.out.printf("  threads %s: %s tokens/s (min %s, max %s), prefill %s ms%n", r.get("threads"),
                        r.get("tokens_per_s"), r.get("min_tokens_per_s"), r.get("max_tokens_per_s"), r.get("prefill_ms"));
            }
            System.out.printf("  peak RSS %d MB (%d MB before loading the model)%n", peakRssMb, rssBeforeLoadMb);
            if (out.containsKey("f32_token_agreement")) {
                System.out.printf("  agreement with f32 greedy: %s of tokens (teacher-forced), first %s tokens identical%n",
                        out.get("f32_token_agreement"), out.get("f32_prefix_match"));
            }
        }
        return 0;
    }

    private int speculative() throws Exception {
        checkEpsilons();
        if (java.util.Arrays.stream(maxDrafts).anyMatch(d -> d < 1) || java.util.Arrays.stream(draftLengths).anyMatch(d -> d < 1)) {
            throw new IllegalArgumentException("--max-draft and --draft-length values must be >= 1");
        }
        exitOptions.metric();
        LoadedModel model = modelOptions.load();
        List<String> prompts = exitPrompts();
        Map<String, Object> out;
        try (ThreadPool pool = modelOptions.pool()) {
            out = SpeculativeBench.run(model, prompts, tokens, epsilons, maxDrafts, draftLengths, exitOptions, pool, report);
        }
        out.put("dtype", modelOptions.dtype.cliName());
        if (json) {
            System.out.println(Json.write(out));
            return 0;
        }
        System.out.printf("self-speculative decoding (%s heads, %s), %d threads, %s, %d held-out prompts x %s tokens: "
                        + "full model %s tokens/s%n", out.get("heads"), out.get("metric"), out.get("threads"),
                modelOptions.dtype.cliName(), prompts.size(), out.get("tokens_per_prompt"), out.get("full_tokens_per_s"));
        for (String key : List.of("dssd", "layerskip")) {
            @SuppressWarnings("unchecked")
            List<Map<String, Object>> rows = (List<Map<String, Object>>) out.get(key);
            for (Map<String, Object> r : rows) {
                System.out.printf("  %-9s %-24s %8s tokens/s (%sx)  acceptance %s  accepted/verification %s%n", key,
                        r.get("setting"), r.get("tokens_per_s"), r.get("speedup"), r.get("acceptance_rate"),
                        r.get("accepted_per_verification"));
            }
        }
        if (out.containsKey("accepted_per_verification_ratio")) {
            System.out.printf("  DSSD / best LayerSkip: %sx accepted tokens per verification, %sx acceptance rate "
                    + "(fastest settings)%n", out.get("accepted_per_verification_ratio"), out.get("acceptance_rate_ratio"));
        }
        if (out.containsKey("report")) {
            System.out.println("  report: " + out.get("report"));
        }
        return 0;
    }

    private void checkEpsilons() {
        for (double e : epsilons) {
            dev.earlyexit.calibration.Calibration.checkEpsilon(e);
        }
    }

    /** Exit-mode benchmarks run on the held-out prompts unless --prompt names one. */
    private List<String> exitPrompts() {
        boolean promptGiven = spec != null && spec.commandLine().getParseResult().hasMatchedOption("--prompt");
        return promptGiven ? List.of(prompt) : EarlyExitBench.defaultPrompts();
    }

    private int earlyExit() throws Exception {
        checkEpsilons();
        exitOptions.metric();
        LoadedModel model = modelOptions.load();
        List<String> prompts = exitPrompts();
        Map<String, Object> out;
        try (ThreadPool pool = modelOptions.pool()) {
            List<dev.earlyexit.decoding.EarlyExitDecoder.KvFill> fills = new ArrayList<>();
            for (String f : kvFills) {
                fills.add(ExitOptions.parseKvFill(f.trim()));
            }
            out = EarlyExitBench.run(model, prompts, tokens, runs, warmup, epsilons, fills, exitOptions, pool);
        }
        out.put("dtype", modelOptions.dtype.cliName());
        if (json) {
            System.out.println(Json.write(out));
            return 0;
        }
        System.out.printf("early exit (%s heads, %s), %d threads, %s, %d held-out prompts, median of %d runs: "
                        + "full model %s tokens/s%n", out.get("heads"), out.get("metric"), out.get("threads"),
                modelOptions.dtype.cliName(), prompts.size(), runs, out.get("full_tokens_per_s"));
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> rows = (List<Map<String, Object>>) out.get("results");
        for (Map<String, Object> r : rows) {
            System.out.printf("  eps %s, kv fill %s: %s tokens/s (%sx), token agreement %s, sequence match %s, mean layers %s, "
                            + "exits %s, time %s, KV fill rows %s%n", r.get("epsilon"), r.get("kv_fill"), r.get("tokens_per_s"),
                    r.get("speedup"), r.get("token_agreement"), r.get("sequence_match"), r.get("mean_layers"),
                    r.get("exits_per_layer"), r.get("time"), r.get("kv_fill_rows"));
        }
        System.out.printf("  bytes per layer %s, per head call %s%n", out.get("bytes_per_layer"),
                out.get("bytes_per_head_call"));
        return 0;
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
}
