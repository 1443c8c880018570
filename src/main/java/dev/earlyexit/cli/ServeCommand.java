package dev.earlyexit.cli;

import dev.earlyexit.calibration.Calibration;
import dev.earlyexit.calibration.ConfidenceMetric;
import dev.earlyexit.calibration.DraftPlan;
import dev.earlyexit.decoding.CalibratedDraft;
import dev.earlyexit.exits.HeadSet;
import dev.earlyexit.model.Transformer;
import dev.earlyexit.server.ChatTemplate;
import dev.earlyexit.server.Engine;
import dev.earlyexit.server.ExitModes;
import dev.earlyexit.server.ExitSpec;
import dev.earlyexit.server.Metrics;
import dev.earlyexit.server.OpenAiServer;
import dev.earlyexit.server.ServerOptions;
import dev.earlyexit.store.LoadedModel;
import dev.earlyexit.tensor.ThreadPool;
import dev.earlyexit.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "An OpenAI-compatible HTTP server (completions, chat completions, streaming) with early exit "
                + "and DSSD; full-model requests are decoded together, one block per step.")
final class ServeCommand implements Callable<Integer> {
    @Mixin
    ModelOptions modelOptions;

    @Mixin
    ExitOptions exitOptions;

    @Option(names = "--host", defaultValue = "127.0.0.1", paramLabel = "HOST",
            description = "Address to bind (default: ${DEFAULT-VALUE}; 0.0.0.0 for every interface).")
    String host;

    @Option(names = "--port", defaultValue = "8080", paramLabel = "PORT", description = "Port (default: ${DEFAULT-VALUE}; 0: any free port).")
    int port;

    @Option(names = "--slots", defaultValue = "4", paramLabel = "N",
            description = "Requests decoded at once (default: ${DEFAULT-VALUE}).")
    int slots;

    @Option(names = "--queue", defaultValue = "16", paramLabel = "N",
            description = "Requests that may wait for a slot; more get 429 (default: ${DEFAULT-VALUE}).")
    int queue;

    @Option(names = "--mode", defaultValue = "full", paramLabel = "MODE",
            description = "Default decoding of requests without an early_exit object: full, early-exit or dssd "
                    + "(default: ${DEFAULT-VALUE}).")
    String mode;

    @Option(names = "--epsilon", defaultValue = "0.9", paramLabel = "E",
            description = "Default epsilon of early exit and DSSD (default: ${DEFAULT-VALUE}).")
    double epsilon;

    @Option(names = "--max-draft", defaultValue = "16", paramLabel = "N",
            description = "Default cap on DSSD's draft length (default: ${DEFAULT-VALUE}, no cap on the calibrated "
                    + "draft plan, which drafts at most 16).")
    int maxDraft;

    @Option(names = "--api-key", paramLabel = "KEY",
            description = "Require 'Authorization: Bearer KEY' on every endpoint but /health (default: the "
                    + "EARLYEXIT_API_KEY environment variable, else none).")
    String apiKey;

    @Option(names = "--max-body-bytes", defaultValue = "1048576", paramLabel = "N",
            description = "Largest request body; larger ones get 413 (default: ${DEFAULT-VALUE}).")
    int maxBodyBytes;

    @Option(names = "--chat-template", paramLabel = "FILE",
            description = "Jinja chat template to use instead of the model's (tokenizer_config.json chat_template).")
    Path chatTemplate;

    @Option(names = "--model-name", paramLabel = "NAME",
            description = "The model id clients see and send (default: the alias, or the model's file/directory name).")
    String modelName;

    @Option(names = "--grace-seconds", defaultValue = "10", paramLabel = "S",
            description = "On SIGTERM, how long running requests may finish before they are cancelled (default: ${DEFAULT-VALUE}).")
    int graceSeconds;

    @Override
    public Integer call() throws Exception {
        ExitSpec.Mode defaultMode = ExitSpec.Mode.parse(mode);
        Calibration.checkEpsilon(epsilon);
        if (maxDraft < 1) {
            throw new IllegalArgumentException("--max-draft must be >= 1, got " + maxDraft);
        }
        if (slots < 1) {
            throw new IllegalArgumentException("--slots must be >= 1, got " + slots);
        }
        if (maxBodyBytes < 1024) {
            throw new IllegalArgumentException("--max-body-bytes must be >= 1024, got " + maxBodyBytes);
        }
        String key = apiKey != null ? apiKey : System.getenv("EARLYEXIT_API_KEY");
        if (key != null && key.isBlank()) {
            throw new IllegalArgumentException("--api-key is empty");
        }
        String template = null;
        if (chatTemplate != null) {
            if (!Files.isRegularFile(chatTemplate)) {
                throw new IllegalArgumentException("--chat-template: file not found: " + chatTemplate);
            }
            template = Files.readString(chatTemplate);
        }
        ServerOptions options = new ServerOptions(host, port, key, maxBodyBytes,
                new ExitSpec(defaultMode, epsilon, maxDraft), graceSeconds * 1000L);
        OpenAiServer server = new OpenAiServer(options);
        server.start(); // /health answers 503 while the model loads
        System.err.printf("earlyexit: listening on http://%s:%d (loading %s)%n", host, server.port(), modelOptions.model);

        LoadedModel model = modelOptions.load();
        Tokenizer tok = model.tokenizerOrNull();
        if (tok == null) {
            server.close();
            throw new IllegalArgumentException("serve needs a model with a tokenizer (give one with --tokenizer)");
        }
        ThreadPool pool = modelOptions.pool();
        Transformer tf = new Transformer(model.config(), model.weights(), pool);
        ExitModes exits = exitModes(model, defaultMode);
        if (template == null) {
            template = model.chatTemplate().orElse(null);
        }
        ChatTemplate chat = template == null ? null : new ChatTemplate(template, specialToken(model, "bos_token",
                tok.bosId() >= 0 ? "<s>" : ""), specialToken(model, "eos_token", tok.eosId() >= 0 ? "</s>" : ""));
        Metrics metrics = new Metrics(model.config().layers());
        Engine engine = new Engine(tf, slots, queue, exits, metrics);
        String id = modelName != null ? modelName : modelId(model);
        server.ready(new OpenAiServer.Backend(engine, tok, chat, id, metrics));
        System.err.printf("earlyexit: serving %s (%d slots, default mode %s%s%s)%n", id, slots, defaultMode.id(),
                chat == null ? ", no chat template" : "", exits.available() ? "" : ", no early exit: "
                        + exitsUnavailable);

        // SIGTERM / SIGINT: stop accepting, let streams finish (then cancel them), exit 0.
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.err.println("earlyexit: shutting down");
            try {
                server.close();
                pool.close();
            } catch (Exception e) {
                System.err.println("earlyexit: error while stopping: " + e);
            }
            stopped.countDown();
            Runtime.getRuntime().halt(0); // an orderly stop on a signal is a success, not 143
        }, "earlyexit-shutdown"));
        stopped.await();
        return 0;
    }

    private String exitsUnavailable;

    /**
     * Heads and calibration for early exit and DSSD. With --mode full their absence only disables those
     * modes (requests asking for them get 400 with the reason); as the default mode it is an error.
     */
    private ExitModes exitModes(LoadedModel model, ExitSpec.Mode defaultMode) throws Exception {
        try {
            ConfidenceMetric metric = exitOptions.metric();
            HeadSet heads = exitOptions.headSet(model);
            Calibration cal = exitOptions.loadCalibration(model, heads, ExitOptions.fingerprint(model));
            cal.thresholds(metric.id(), epsilon); // the metric's curves exist
            java.util.function.DoubleFunction<double[]> thresholds =
                    eps -> exitOptions.thresholds(cal, heads, model, metric.id(), eps);
            Optional<DraftPlan> plan = cal.draftPlan(metric.id());
            if (plan.isEmpty()) {
                System.err.println("note: the calibration has no DSSD draft plan (made before calibrate stored one): "
                        + "DSSD requests draft at the epsilon thresholds; run calibrate again for the planned default");
                return new ExitModes(heads, metric, thresholds);
            }
            CalibratedDraft planned = CalibratedDraft.planned(heads, cal, plan.get(), metric); // once, not per request
            return new ExitModes(heads, metric, thresholds, (eps, cap) -> Optional.of(planned.capped(cap)));
        } catch (Exception e) {
            if (defaultMode != ExitSpec.Mode.FULL) {
                throw e;
            }
            exitsUnavailable = Errors.describe(e);
            return ExitModes.unavailable(exitsUnavailable);
        }
    }

    /** A special token's text for templates: tokenizer_config.json's, else the given fallback. */
    private static String specialToken(LoadedModel model, String field, String fallback) {
        Path cfg = model.source().resolve("tokenizer_config.json");
        if (Files.isDirectory(model.source()) && Files.isRegularFile(cfg)) {
            try {
                var node = new com.fasterxml.jackson.databind.ObjectMapper().readTree(cfg.toFile()).get(field);
                if (node != null && node.isTextual()) {
                    return node.asText();
                }
                if (node != null && node.path("content").isTextual()) {
                    return node.get("content").asText();
                }
            } catch (java.io.IOException e) {
                return fallback;
            }
        }
        return fallback;
    }

    private String modelId(LoadedModel model) {
        if (ModelOptions.isAlias(modelOptions.model)) {
            return modelOptions.model;
        }
        // A directory's name; for a file, its name without the extension, or its directory's name when the
        // file has a generic name (llama2.c's model.bin).
        Path source = model.source().toAbsolutePath();
        String name = source.getFileName().toString();
        if (Files.isDirectory(source)) {
            return name;
        }
        String stem = name.contains(".") ? name.substring(0, name.lastIndexOf('.')) : name;
        return stem.equals("model") && source.getParent() != null ? source.getParent().getFileName().toString() : stem;
    }
}
