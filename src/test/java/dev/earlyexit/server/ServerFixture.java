package dev.earlyexit.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.earlyexit.calibration.Calibration;
import dev.earlyexit.calibration.ConfidenceMetric;
import dev.earlyexit.decoding.EarlyExitDecoder;
import dev.earlyexit.decoding.EarlyExitResult;
import dev.earlyexit.decoding.GenerationResult;
import dev.earlyexit.decoding.Generator;
import dev.earlyexit.decoding.SamplingOptions;
import dev.earlyexit.exits.ExitHeadProvider;
import dev.earlyexit.exits.HeadSet;
import dev.earlyexit.model.Transformer;
import dev.earlyexit.store.LoadedModel;
import dev.earlyexit.store.ModelCache;
import dev.earlyexit.store.ModelResolver;
import dev.earlyexit.tensor.DType;
import dev.earlyexit.tensor.ThreadPool;
import dev.earlyexit.testutil.TestModels;
import dev.earlyexit.tokenizer.Tokenizer;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * A running server on loopback over the real stories15M, and the reference it is checked against:
 * {@link Generator} alone, with the text decoded as generate prints it.
 */
final class ServerFixture implements AutoCloseable {
    static final ObjectMapper JSON = new ObjectMapper();
    /** A template in Hugging Face's style for a model without one: the user turns' text after BOS. */
    static final String TEMPLATE = "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'system' %}"
            + "{{ raise_exception('no system messages') }}{% endif %}{{ m['content'] | trim }}{% endfor %}";

    private static LoadedModel model;

    final OpenAiServer server;
    final Engine engine;
    final ThreadPool pool;
    final Metrics metrics;
    final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

    static synchronized LoadedModel model() throws Exception {
        if (model == null) {
            Path bin = TestModels.stories15M();
            model = new ModelResolver(new ModelCache(Files.createTempDirectory("ee-cache")), s -> { })
                    .load(bin.toString(), null, DType.F32);
        }
        return model;
    }

    ServerFixture(int slots, int queue, String apiKey, ExitModes exits) throws Exception {
        this(slots, queue, apiKey, exits, 1 << 20);
    }

    ServerFixture(int slots, int queue, String apiKey, ExitModes exits, int maxBody) throws Exception {
        this(slots, queue, apiKey, exits, maxBody, model());
    }

    /** A model of its own: weights (their matmul scratch) serve one engine thread at a time. */
    static LoadedModel freshModel() throws Exception {
        return new ModelResolver(new ModelCache(Files.createTempDirectory("ee-cache")), s -> { })
                .load(TestModels.stories15M().toString(), null, DType.F32);
    }

    ServerFixture(int slots, int queue, String apiKey, ExitModes exits, int maxBody, LoadedModel m) throws Exception {
        server = new OpenAiServer(new ServerOptions("127.0.0.1", 0, apiKey, maxBody,
                new ExitSpec(ExitSpec.Mode.FULL, 0.9, 4), 2_000));
        server.start();
        pool = new ThreadPool(2);
        metrics = new Metrics(m.config().layers());
        engine = new Engine(new Transformer(m.config(), m.weights(), pool), slots, queue,
                exits == null ? ExitModes.unavailable("no calibration in this test") : exits, metrics);
        Tokenizer tok = m.requireTokenizer();
        server.ready(new OpenAiServer.Backend(engine, tok, new ChatTemplate(TEMPLATE, "<s>", "</s>"), "stories15M",
                metrics));
    }

    String base() {
        return "http://127.0.0.1:" + server.port();
    }

    HttpResponse<String> post(String path, String body, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base() + path)).timeout(Duration.ofSeconds(60))
                .POST(HttpRequest.BodyPublishers.ofString(body)).header("Content-Type", "application/json");
        for (int i = 0; i < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> get(String path, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base() + path)).timeout(Duration.ofSeconds(30)).GET();
        for (int i = 0; i < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    static JsonNode json(HttpResponse<String> r) throws Exception {
        return JSON.readTree(r.body());
    }

    /** What generate prints for a text prompt: greedy ids and their text in the prompt's context. */
    static Reference reference(String prompt, int maxTokens) throws Exception {
        LoadedModel m = model();
        Tokenizer tok = m.requireTokenizer();
        int[] ids = GenerationRequest.encodeWithBos(tok, prompt);
        try (ThreadPool p = new ThreadPool(1)) {
            GenerationResult g = new Generator(new Transformer(m.config(), m.weights(), p))
                    .generate(ids, maxTokens, SamplingOptions.GREEDY, null);
            return new Reference(ids, g.ids(), continuation(tok, ids, g.ids()), g.stopReason());
        }
    }

    /** What generate --mode early-exit gives alone, greedy, at ε over the copied heads of {@link #exitModes}. */
    static EarlyExitReference earlyExitReference(String prompt, int maxTokens, ExitModes modes, double epsilon)
            throws Exception {
        LoadedModel m = model();
        Tokenizer tok = m.requireTokenizer();
        int[] ids = GenerationRequest.encodeWithBos(tok, prompt);
        try (ThreadPool p = new ThreadPool(1)) {
            // Heads of its own: a head keeps scratch and serves one thread at a time.
            HeadSet heads = ExitHeadProvider.copiedEveryLayer().heads(m.config(), m.weights());
            EarlyExitResult r = new EarlyExitDecoder(new Transformer(m.config(), m.weights(), p), heads,
                    modes.thresholds(epsilon), modes.metric()).generate(ids, maxTokens, SamplingOptions.GREEDY, null);
            Map<String, Integer> perLayer = new java.util.TreeMap<>();
            for (int layer : r.exitLayers()) {
                perLayer.merge(String.valueOf(layer), 1, Integer::sum);
            }
            return new EarlyExitReference(continuation(tok, ids, r.generation().ids()), perLayer);
        }
    }

    record EarlyExitReference(String text, Map<String, Integer> exitsPerLayer) {
    }

    /** As generate's --json "text": the whole decoded minus the prompt's decoded text. */
    static String continuation(Tokenizer tok, int[] promptIds, int[] ids) {
        int[] all = new int[promptIds.length + ids.length];
        System.arraycopy(promptIds, 0, all, 0, promptIds.length);
        System.arraycopy(ids, 0, all, promptIds.length, ids.length);
        String full = tok.decode(all);
        String before = tok.decode(promptIds);
        return full.startsWith(before) ? full.substring(before.length()) : tok.decode(ids);
    }

    record Reference(int[] promptIds, int[] ids, String text, GenerationResult.StopReason stop) {
        String finishReason() {
            return stop == GenerationResult.StopReason.STOP_TOKEN ? "stop" : "length";
        }
    }

    /**
     * Early exit over copied heads, calibrated by the calibrate command on a tiny set (quick; the
     * thresholds are whatever that set gives, which is all these tests need).
     */
    static synchronized ExitModes exitModes(Path dir) throws Exception {
        LoadedModel m = model();
        Path link = TestModels.isolatedStories15M(dir);
        Path cal = dir.resolve("cal.json");
        PrintStream out = System.out;
        try {
            System.setOut(new PrintStream(new ByteArrayOutputStream(), true));
            int code = dev.earlyexit.cli.Main.run("calibrate", "--model", link.toString(), "--samples", "1",
                    "--tokens", "24", "--held-out-samples", "1", "--metric", "max-prob", "--out", cal.toString(),
                    "--threads", "1");
            if (code != 0) {
                throw new IllegalStateException("calibrate failed: " + code);
            }
        } finally {
            System.setOut(out);
        }
        Calibration c = Calibration.load(cal);
        HeadSet heads = ExitHeadProvider.copiedEveryLayer().heads(m.config(), m.weights());
        ConfidenceMetric metric = ConfidenceMetric.byName("max-prob");
        return new ExitModes(heads, metric, eps -> c.thresholds(metric.id(), eps));
    }

    @Override
    public void close() throws Exception {
        server.close();
        pool.close();
    }
}
