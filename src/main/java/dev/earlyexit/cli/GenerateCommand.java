package dev.earlyexit.cli;

import dev.earlyexit.calibration.Calibration;
import dev.earlyexit.calibration.ConfidenceMetric;
import dev.earlyexit.decoding.EarlyExitDecoder;
import dev.earlyexit.decoding.EarlyExitResult;
import dev.earlyexit.decoding.GenerationResult;
import dev.earlyexit.decoding.Generator;
import dev.earlyexit.decoding.CalibratedDraft;
import dev.earlyexit.decoding.SamplingOptions;
import dev.earlyexit.decoding.SelfSpeculativeDecoder;
import dev.earlyexit.decoding.SpeculativeResult;
import dev.earlyexit.exits.HeadSet;
import dev.earlyexit.model.Transformer;
import dev.earlyexit.store.LoadedModel;
import dev.earlyexit.tensor.ThreadPool;
import dev.earlyexit.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Optional;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Generate text from a prompt, streamed to the terminal (or one JSON object with --json).")
public final class GenerateCommand implements Callable<Integer> {
    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--prompt", paramLabel = "TEXT", description = "Prompt text (BOS is prepended when the model uses one).")
    String prompt;

    @Option(names = "--prompt-ids", split = ",", paramLabel = "IDS",
            description = "Prompt as comma-separated token ids, used exactly as given (no BOS added).")
    int[] promptIds;

    @Option(names = "--max-tokens", defaultValue = "256", paramLabel = "N",
            description = "Most tokens to generate (default: ${DEFAULT-VALUE}); generation also stops at EOS or a full context.")
    int maxTokens;

    @Option(names = "--temperature", defaultValue = "0", paramLabel = "T",
            description = "Sampling temperature; 0 is greedy (default: ${DEFAULT-VALUE}).")
    float temperature;

    @Option(names = "--top-k", defaultValue = "0", paramLabel = "K", description = "Keep the K most likely tokens; 0 keeps all.")
    int topK;

    @Option(names = "--top-p", defaultValue = "1", paramLabel = "P",
            description = "Nucleus sampling: keep the smallest set of tokens with probability mass >= P (default: ${DEFAULT-VALUE}).")
    float topP;

    @Option(names = "--seed", defaultValue = "42", paramLabel = "S", description = "Random seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--json", description = "Print one JSON object instead of streaming text.")
    boolean json;

    @Option(names = "--mode", defaultValue = "full", converter = ExitOptions.ModeConverter.class, paramLabel = "MODE",
            description = "full (every layer for every token; the default), early-exit (calibrated exit heads; lossy, "
                    + "controlled by --epsilon), dssd (heads draft, the full model verifies: the full model's output) "
                    + "or layerskip (the baseline: one fixed exit layer and draft length).")
    ExitOptions.Mode mode;

    @Option(names = "--epsilon", paramLabel = "E",
            description = "Early exit: the share of exited tokens that must agree with the full model, in (0, 1] "
                    + "(default 0.9). dssd --draft epsilon: heads draft at that epsilon's thresholds.")
    Double epsilonOption;

    double epsilon;

    @Option(names = "--draft", defaultValue = "plan", paramLabel = "D",
            description = "dssd: plan (the default: the draft plan calibrate chose from this machine's costs and "
                    + "the heads' calibrated acceptance) or epsilon (the paper's DSSD: heads draft at the early-exit "
                    + "thresholds of --epsilon). The output is the full model's either way.")
    String draft;

    @Option(names = {"--compare", "--compare-full"}, negatable = true, defaultValue = "false",
            description = "early-exit, dssd, layerskip: also run the full model on the same prompt and length, first, "
                    + "each after the same short warm-up, and report the speed-up. Off by default: generate runs "
                    + "only what was asked for.")
    boolean compareFull;

    /** Tokens each side of a --compare generates untimed first, so neither is timed cold. */
    static final int COMPARE_WARMUP_TOKENS = 16;

    @Option(names = "--kv-fill", defaultValue = "exact", converter = ExitOptions.KvFillConverter.class, paramLabel = "F",
            description = "Early exit: exact (skipped layers' KV entries computed exactly, batched with a later token; "
                    + "the default) or copy (CALM's approximation from the exit hidden state).")
    EarlyExitDecoder.KvFill kvFill;

    @Option(names = "--max-draft", paramLabel = "N",
            description = "dssd: most tokens drafted before the full model verifies (default: the plan's; "
                    + "--draft epsilon: 4).")
    Integer maxDraft;

    @Option(names = "--exit-layer", paramLabel = "L", description = "layerskip: the layer whose head drafts every token.")
    Integer exitLayer;

    @Option(names = "--draft-length", defaultValue = "3", paramLabel = "N",
            description = "layerskip: tokens drafted per verification (default: ${DEFAULT-VALUE}).")
    int draftLength;

    @Mixin
    ExitOptions exitOptions;

    @Override
    public Integer call() throws Exception {
        if ((prompt == null) == (promptIds == null)) {
            throw new IllegalArgumentException("give exactly one of --prompt or --prompt-ids");
        }
        SamplingOptions sampling = new SamplingOptions(temperature, topK, topP, seed);
        if (maxTokens < 1) {
            throw new IllegalArgumentException("--max-tokens must be >= 1, got " + maxTokens);
        }
        epsilon = epsilonOption == null ? 0.9 : epsilonOption;
        if (mode.calibrated()) {
            Calibration.checkEpsilon(epsilon);
            exitOptions.metric();
        }
        if (!draft.equals("plan") && !draft.equals("epsilon")) {
            throw new IllegalArgumentException("--draft takes plan or epsilon, got '" + draft + "'");
        }
        if (mode == ExitOptions.Mode.DSSD && maxDraft != null && maxDraft < 1) {
            throw new IllegalArgumentException("--max-draft must be >= 1, got " + maxDraft);
        }
        if (mode == ExitOptions.Mode.DSSD && draft.equals("plan") && epsilonOption != null) {
            System.err.println("note: --epsilon does not change DSSD's draft plan (the output is the full model's "
                    + "whatever the draft); --draft epsilon drafts at that epsilon's thresholds");
        }
        if (mode == ExitOptions.Mode.LAYERSKIP && (exitLayer == null || draftLength < 1)) {
            throw new IllegalArgumentException("--mode layerskip needs --exit-layer L and --draft-length >= 1");
        }
        long l0 = System.nanoTime();
        LoadedModel model = modelOptions.load();
        loadMs = (System.nanoTime() - l0) / 1e6;
        int[] ids = promptIds != null ? promptIds : encodePrompt(model, prompt);
        Generator.checkPrompt(ids, model.config());
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        if (mode == ExitOptions.Mode.EARLY_EXIT) {
            return earlyExit(model, ids, sampling, out);
        }
        if (mode == ExitOptions.Mode.DSSD || mode == ExitOptions.Mode.LAYERSKIP) {
            return speculative(model, ids, sampling, out);
        }
        try (ThreadPool pool = modelOptions.pool()) {
            Generator generator = new Generator(new Transformer(model.config(), model.weights(), pool));
            long w0 = System.nanoTime();
            GenerationResult r = generator.generate(ids, maxTokens, sampling, streaming(model, ids, out));
            report(model, ids, r, out, Map.of("wall_ms", round((System.nanoTime() - w0) / 1e6)));
        }
        return 0;
    }

    /** dssd and layerskip: heads draft, the full model verifies; the output is the full model's. */
    private int speculative(LoadedModel model, int[] ids, SamplingOptions sampling, PrintStream out) throws Exception {
        HeadSet heads = exitOptions.headSet(model);
        try (ThreadPool pool = modelOptions.pool()) {
            Transformer tf = new Transformer(model.config(), model.weights(), pool);
            SelfSpeculativeDecoder decoder;
            String drafts;
            if (mode == ExitOptions.Mode.LAYERSKIP) {
                int k = Arrays.stream(heads.layers()).boxed().toList().indexOf(exitLayer);
                if (k < 0) {
                    throw new IllegalArgumentException("--exit-layer " + exitLayer + ": there is no head at that layer"
                            + " (heads at " + Arrays.toString(heads.layers()) + ")");
                }
                decoder = SelfSpeculativeDecoder.layerSkip(tf, heads.head(k), draftLength);
                drafts = "layer " + exitLayer + ", length " + draftLength;
            } else {
                ConfidenceMetric metric = exitOptions.metric();
                Calibration cal = exitOptions.loadCalibration(model, heads, ExitOptions.fingerprint(model));
                Optional<CalibratedDraft> drafting = exitOptions.dssdDraft(cal, heads, model, metric,
                        draft.equals("plan"), epsilon, maxDraft);
                if (drafting.isEmpty()) {
                    // No head is trusted at this ε: every token comes from the full model.
                    GenerationResult r = new Generator(tf).generate(ids, maxTokens, sampling, streaming(model, ids, out));
                    report(model, ids, r, out, Map.of("mode", "dssd", "drafted", 0, "accepted", 0));
                    return 0;
                }
                drafts = drafting.get().description();
                System.err.println("dssd: " + drafts);
                decoder = drafting.get().decoder(tf);
            }
            GenerationResult full = compareFull ? warmFull(tf, ids, sampling) : null;
            if (compareFull) {
                decoder.generate(ids, Math.min(COMPARE_WARMUP_TOKENS, maxTokens), sampling, null);
            }
            long w0 = System.nanoTime();
            SpeculativeResult r = decoder.generate(ids, maxTokens, sampling, streaming(model, ids, out));
            double wallMs = (System.nanoTime() - w0) / 1e6;
            Map<String, Object> extra = new LinkedHashMap<>(r.toJson());
            extra.put("draft", drafts);
            extra.put("wall_ms", round(wallMs));
            putComparison(extra, r.generation(), full);
            report(model, ids, r.generation(), out, extra);
            if (!json) {
                System.err.printf("%s: drafted %d, accepted %d (%.0f%%), %.2f accepted per verification%n", r.mode(),
                        r.drafted(), r.accepted(), 100 * r.acceptanceRate(), r.meanAcceptedPerVerification());
            }
        }
        return 0;
    }

    private Tokenizer.StreamDecoder stream;

    /** The listener that streams text (or ids) to the terminal; null with --json. */
    private Generator.TokenListener streaming(LoadedModel model, int[] ids, PrintStream out) {
        Tokenizer tok = model.tokenizerOrNull();
        if (json) {
            return null;
        }
        if (tok == null) {
            return id -> out.print(id + " ");
        }
        Tokenizer.StreamDecoder s = echoPrompt(tok, ids, out);
        stream = s;
        return id -> out.print(s.push(id));
    }

    /**
     * Prints the prompt (as typed, or decoded from --prompt-ids) and returns a stream decoder that has
     * seen its ids, so the continuation decodes with the right spacing.
     */
    private Tokenizer.StreamDecoder echoPrompt(Tokenizer tok, int[] ids, PrintStream out) {
        Tokenizer.StreamDecoder decoder = tok.streamDecoder();
        StringBuilder echo = new StringBuilder();
        for (int id : ids) {
            echo.append(decoder.push(id));
        }
        out.print(prompt != null ? prompt : echo);
        return decoder;
    }

    /** --json: the generation's fields plus the mode's; else the end of the stream and a summary line. */
    private double loadMs;

    private void report(LoadedModel model, int[] ids, GenerationResult r, PrintStream out, Map<String, Object> extra) {
        if (json) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("load_ms", round(loadMs)); // reading the model (and its tokenizer) until it can decode
            m.putAll(extra);
            m.putAll(toJson(r, model.tokenizerOrNull()));
            out.println(Json.write(m));
            return;
        }
        if (stream != null) {
            out.print(stream.flush());
        }
        out.println();
        System.err.printf("%d prompt tokens, %d generated (%s), prefill %.1f ms, decode %.1f tokens/s%s%n",
                ids.length, r.ids().length, r.stopReason().name().toLowerCase(), r.prefillMs(), r.decodeTokensPerSecond(),
                extra.containsKey("speedup") ? String.format(" (full model %.1f tokens/s: %.2fx)",
                        extra.get("full_tokens_per_s"), extra.get("speedup")) : "");
    }

    private int earlyExit(LoadedModel model, int[] ids, SamplingOptions sampling, PrintStream out) throws Exception {
        ConfidenceMetric metric = exitOptions.metric();
        HeadSet heads = exitOptions.headSet(model);
        Calibration cal = exitOptions.loadCalibration(model, heads, ExitOptions.fingerprint(model));
        double[] tau = exitOptions.thresholds(cal, heads, model, metric.id(), epsilon);
        int L = model.config().layers();
        try (ThreadPool pool = modelOptions.pool()) {
            Transformer tf = new Transformer(model.config(), model.weights(), pool);
            EarlyExitDecoder decoder = new EarlyExitDecoder(tf, heads, tau, metric, kvFill);
            Tokenizer tok = model.tokenizerOrNull();
            EarlyExitDecoder.TokenListener listener = null;
            Tokenizer.StreamDecoder stream = null;
            boolean colour = ExitColours.stdoutIsTerminal();
            if (!json) {
                if (colour) {
                    out.println(ExitColours.legend(decoder.consultedLayers(), L));
                }
                if (tok != null) {
                    stream = echoPrompt(tok, ids, out);
                    Tokenizer.StreamDecoder s = stream;
                    listener = (id, layer) -> out.print(colour ? ExitColours.paint(s.push(id), layer, L) : s.push(id));
                } else {
                    listener = (id, layer) -> out.print(colour ? ExitColours.paint(id + " ", layer, L) : id + " ");
                }
            }
            GenerationResult full = compareFull ? warmFull(tf, ids, sampling) : null;
            if (compareFull) {
                decoder.generate(ids, Math.min(COMPARE_WARMUP_TOKENS, maxTokens), sampling, null);
            }
            long w0 = System.nanoTime();
            EarlyExitResult r = decoder.generate(ids, maxTokens, sampling, listener);
            double wallMs = (System.nanoTime() - w0) / 1e6;
            Map<String, Object> stats = exitStats(r, full, metric, heads);
            if (json) {
                Map<String, Object> m = toJson(r.generation(), tok);
                m.put("mode", "early-exit");
                m.put("epsilon", epsilon);
                m.put("load_ms", round(loadMs));
                m.put("wall_ms", round(wallMs));
                m.putAll(stats);
                out.println(Json.write(m));
            } else {
                if (stream != null) {
                    out.print(stream.flush());
                }
                out.println();
                GenerationResult g = r.generation();
                System.err.printf("%d prompt tokens, %d generated (%s), prefill %.1f ms, decode %.1f tokens/s%s%n",
                        ids.length, g.ids().length, g.stopReason().name().toLowerCase(), g.prefillMs(),
                        g.decodeTokensPerSecond(), full == null ? "" : String.format(
                                " (full model %.1f tokens/s: %.2fx)", full.decodeTokensPerSecond(), stats.get("speedup")));
                System.err.printf("early exit at epsilon %s (%s, %s heads): mean %.2f of %d layers per token, exits %s%n",
                        epsilon, metric.id(), heads.name(), r.meanLayers(), L, stats.get("exits_per_layer"));
            }
        }
        return 0;
    }

    /**
     * --compare: the full model first, after its warm-up, for the same number of tokens the mode may
     * generate (maxTokens; both stop early only at the same end-of-text when sampling agrees).
     */
    private GenerationResult warmFull(Transformer tf, int[] ids, SamplingOptions sampling) {
        Generator g = new Generator(tf);
        g.generate(ids, Math.min(COMPARE_WARMUP_TOKENS, maxTokens), sampling, null, false);
        return g.generate(ids, maxTokens, sampling, null, false);
    }

    private static void putComparison(Map<String, Object> m, GenerationResult mine, GenerationResult full) {
        if (full != null) {
            double f = full.decodeTokensPerSecond();
            m.put("full_tokens_per_s", round(f));
            m.put("speedup", f > 0 ? round(mine.decodeTokensPerSecond() / f) : 0.0);
        }
    }

    /** The early-exit fields of generate's JSON (also used by bench). */
    static Map<String, Object> exitStats(EarlyExitResult r, GenerationResult full, ConfidenceMetric metric, HeadSet heads) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("metric", metric.id());
        m.put("heads", heads.name());
        m.put("consulted_layers", r.headLayers());
        m.put("exit_layers", r.exitLayers());
        Map<String, Integer> exits = new LinkedHashMap<>();
        int[] counts = r.exitsPerHead();
        String[] labels = HeadSet.exitLabels(r.headLayers(), r.modelLayers());
        for (int i = 0; i < counts.length; i++) {
            exits.put(labels[i], counts[i]);
        }
        m.put("exits_per_layer", exits);
        m.put("mean_layers", round(r.meanLayers()));
        m.put("layer_ms", round(r.layerMs()));
        m.put("head_ms", round(r.headMs()));
        m.put("classifier_ms", round(r.classifierMs()));
        m.put("kv_copy_ms", round(r.kvCopyMs()));
        m.put("kv_fill_rows", r.fillRows());
        m.put("head_calls", r.headCalls());
        if (full != null) {
            m.put("full_tokens_per_s", round(full.decodeTokensPerSecond()));
            double f = full.decodeTokensPerSecond();
            m.put("speedup", f > 0 ? round(r.generation().decodeTokensPerSecond() / f) : 0.0);
        }
        return m;
    }

    /**
     * Prompt ids for text: BOS followed by the encoded text when the tokenizer prepends one (Llama's
     * do; GPT-2's, GPT-NeoX's and Qwen's do not, whatever config.json names as bos_token_id).
     */
    public static int[] encodePrompt(LoadedModel model, String text) {
        Tokenizer tok = model.requireTokenizer();
        int[] body = tok.encode(text);
        int bos = tok.bosId();
        if (bos < 0) {
            return body;
        }
        int[] ids = new int[body.length + 1];
        ids[0] = bos;
        System.arraycopy(body, 0, ids, 1, body.length);
        return ids;
    }

    static Map<String, Object> toJson(GenerationResult r, Tokenizer tok) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("prompt_ids", r.promptIds());
        m.put("ids", r.ids());
        if (tok != null) {
            m.put("text", continuation(tok, r.promptIds(), r.ids()));
        }
        m.put("prompt_tokens", r.promptIds().length);
        m.put("generated_tokens", r.ids().length);
        m.put("stop_reason", r.stopReason().name().toLowerCase());
        m.put("prefill_ms", round(r.prefillMs()));
        m.put("decode_ms", round(r.decodeMs()));
        m.put("tokens_per_s", round(r.decodeTokensPerSecond()));
        m.put("decode_tokens_per_s", round(r.decodeTokensPerSecond()));
        return m;
    }

    /** The text the generated ids add after the prompt, decoded in context. */
    static String continuation(Tokenizer tok, int[] promptIds, int[] ids) {
        int[] all = new int[promptIds.length + ids.length];
        System.arraycopy(promptIds, 0, all, 0, promptIds.length);
        System.arraycopy(ids, 0, all, promptIds.length, ids.length);
        String full = tok.decode(all);
        String before = tok.decode(promptIds);
        return full.startsWith(before) ? full.substring(before.length()) : tok.decode(ids);
    }

    public static double round(double v) {
        return Math.round(v * 1000.0) / 1000.0;
    }

}
