package dev.earlyexit.server;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.tokenizer.Tokenizer;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Blocker;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * The OpenAI-compatible HTTP server: /v1/completions, /v1/chat/completions (JSON or server-sent
 * events), /v1/models, /health, /metrics, /tokenize, /detokenize.
 *
 * <p>HTTP is Jetty 12's core API (no servlet layer): a maintained server with a Java 17 baseline whose
 * blocking writes give SSE back-pressure, and whose failed writes tell us a client left. The server
 * starts listening before the model is loaded ({@link #ready} hands it over), so /health answers 503
 * while loading.
 */
public final class OpenAiServer implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** What the server serves once loaded. */
    public record Backend(Engine engine, Tokenizer tokenizer, ChatTemplate chatTemplate, String modelId,
                          Metrics metrics) {
    }

    private final ServerOptions options;
    private final Server server;
    private final ServerConnector connector;
    private final long created = System.currentTimeMillis() / 1000;
    private final byte[] expectedAuth;
    private volatile Backend backend;
    private volatile boolean closing;

    public OpenAiServer(ServerOptions options) {
        this.options = options;
        QueuedThreadPool threads = new QueuedThreadPool(256, 8);
        threads.setName("earlyexit-http");
        this.server = new Server(threads);
        this.connector = new ServerConnector(server);
        connector.setHost(options.host());
        connector.setPort(options.port());
        connector.setIdleTimeout(300_000);
        server.addConnector(connector);
        server.setHandler(new ApiHandler());
        server.setStopTimeout(5_000);
        this.expectedAuth = options.apiKey() == null ? null
                : ("Bearer " + options.apiKey()).getBytes(StandardCharsets.UTF_8);
    }

    public void start() throws Exception {
        server.start();
    }

    /** The port bound (useful with port 0). */
    public int port() {
        return connector.getLocalPort();
    }

    public void ready(Backend b) {
        this.backend = b;
    }

    /**
     * Stops accepting connections, lets running requests finish for the grace period, cancels the
     * rest (their streams end with an error event), then stops.
     */
    @Override
    public void close() throws Exception {
        closing = true;
        connector.close(); // no new connections
        Backend b = backend;
        if (b != null) {
            b.engine().beginClose();
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(options.graceMillis());
            while (!b.engine().idle() && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            b.engine().close();
        }
        server.stop();
    }

    // ---------------------------------------------------------------------------------------- routing

    private final class ApiHandler extends Handler.Abstract {
        @Override
        public boolean handle(Request request, Response response, Callback callback) {
            String path = Request.getPathInContext(request);
            String method = request.getMethod();
            Exchange ex = new Exchange(request, response, callback, path);
            try {
                route(ex, path, method);
            } catch (ApiException e) {
                ex.error(e);
            } catch (Exception e) {
                ex.error(new ApiException(500, "server_error", "internal error: " + e, null, null));
            }
            return true;
        }
    }

    private void route(Exchange ex, String path, String method) throws Exception {
        if (path.equals("/health")) {
            requireMethod(method, "GET");
            Backend b = backend;
            if (closing) {
                ex.json(503, Map.of("status", "shutting down"));
            } else if (b == null) {
                ex.json(503, Map.of("status", "loading"));
            } else {
                ex.json(200, Map.of("status", "ok"));
            }
            return;
        }
        if (expectedAuth != null) {
            String auth = ex.request.getHeaders().get(HttpHeader.AUTHORIZATION);
            if (auth == null || !MessageDigest.isEqual(auth.getBytes(StandardCharsets.UTF_8), expectedAuth)) {
                throw new ApiException(401, "invalid_request_error", auth == null
                        ? "You didn't provide an API key: send it as 'Authorization: Bearer KEY'"
                        : "Incorrect API key provided", null, "invalid_api_key");
            }
        }
        Backend b = backend;
        if (path.equals("/metrics")) {
            requireMethod(method, "GET");
            ex.text(200, "text/plain; version=0.0.4; charset=utf-8",
                    b == null ? "" : b.metrics().render());
            return;
        }
        boolean known = Set.of("/v1/models", "/v1/completions", "/v1/chat/completions", "/tokenize", "/detokenize")
                .contains(path) || path.startsWith("/v1/models/");
        if (!known) {
            throw new ApiException(404, "invalid_request_error", "Unknown path " + path, null, "unknown_url");
        }
        if (b == null) {
            throw new ApiException(503, "server_error", "the model is still loading", null, "loading");
        }
        if (closing) {
            throw new ApiException(503, "server_error", "the server is shutting down", null, null);
        }
        switch (path) {
            case "/v1/models" -> {
                requireMethod(method, "GET");
                ObjectNode list = JSON.createObjectNode();
                list.put("object", "list");
                list.putArray("data").add(modelObject(b));
                ex.json(200, list);
            }
            case "/v1/completions" -> {
                requireMethod(method, "POST");
                generate(ex, b, false);
            }
            case "/v1/chat/completions" -> {
                requireMethod(method, "POST");
                generate(ex, b, true);
            }
            case "/tokenize" -> {
                requireMethod(method, "POST");
                Params p = new Params(ex.body(options.maxBodyBytes()), Set.of("content", "add_special"), "");
                String content = p.string("content");
                if (content == null) {
                    throw ApiException.badRequest("'content' is required", "content");
                }
                int[] ids = Boolean.TRUE.equals(p.bool("add_special"))
                        ? GenerationRequest.encodeWithBos(b.tokenizer(), content) : b.tokenizer().encode(content);
                ex.json(200, Map.of("tokens", ids));
            }
            case "/detokenize" -> {
                requireMethod(method, "POST");
                Params p = new Params(ex.body(options.maxBodyBytes()), Set.of("tokens"), "");
                JsonNode tokens = p.raw("tokens");
                if (tokens == null || !tokens.isArray()) {
                    throw ApiException.badRequest("'tokens' must be an array of token ids", "tokens");
                }
                int[] ids = new int[tokens.size()];
                for (int i = 0; i < ids.length; i++) {
                    JsonNode t = tokens.get(i);
                    if (!t.isIntegralNumber() || t.asLong() < 0 || t.asLong() >= b.tokenizer().vocabSize()) {
                        throw ApiException.badRequest("'tokens' must hold ids in [0, " + b.tokenizer().vocabSize()
                                + "), got " + t, "tokens");
                    }
                    ids[i] = t.asInt();
                }
                ex.json(200, Map.of("content", b.tokenizer().decode(ids)));
            }
            default -> {
                requireMethod(method, "GET");
                String id = path.substring("/v1/models/".length());
                if (!id.equals(b.modelId())) {
                    throw new ApiException(404, "invalid_request_error", "The model '" + id + "' does not exist",
                            "model", "model_not_found");
                }
                ex.json(200, modelObject(b));
            }
        }
    }

    private ObjectNode modelObject(Backend b) {
        ObjectNode m = JSON.createObjectNode();
        m.put("id", b.modelId());
        m.put("object", "model");
        m.put("created", created);
        m.put("owned_by", "earlyexit");
        m.put("context_length", b.engine().config().maxSeqLen());
        return m;
    }

    private static void requireMethod(String method, String expected) {
        if (!method.equals(expected)) {
            throw new ApiException(405, "invalid_request_error", "use " + expected + " for this endpoint, not "
                    + method, null, "method_not_allowed");
        }
    }

    // ------------------------------------------------------------------------------------ generation

    private void generate(Exchange ex, Backend b, boolean chat) throws Exception {
        JsonNode body = ex.body(options.maxBodyBytes());
        ModelConfig c = b.engine().config();
        GenerationRequest req = GenerationRequest.parse(body, chat, b.modelId(), b.tokenizer(), c, b.chatTemplate(),
                options.defaults());
        if (req.spec().mode() != ExitSpec.Mode.FULL) {
            b.engine().exits().require(req.spec().mode());
        }
        Job job = new Job(req.promptIds(), req.maxTokens(), req.sampling(), req.topLogprobs(), req.spec());
        if (!b.engine().submit(job)) {
            throw new ApiException(429, "rate_limit_exceeded", "the server is busy: " + b.engine().slots()
                    + " slots decoding and the queue of " + b.engine().queueLength() + " waiting requests is full; "
                    + "retry later", null, "queue_full");
        }
        Reply reply = new Reply(req, b, chat);
        try {
            if (req.stream()) {
                stream(ex, b, req, job, reply);
            } else {
                whole(ex, b, req, job, reply);
            }
        } finally {
            job.cancel(); // no-op when finished; frees the slot when the client went away or a stop string hit
        }
    }

    /** Waits for the next engine event; fails if the engine died. */
    private static Job.Event next(Job job, Backend b) throws InterruptedException {
        while (true) {
            Job.Event e = job.next(1, TimeUnit.SECONDS);
            if (e != null) {
                return e;
            }
            if (!b.engine().alive()) {
                return new Job.Failed("the engine stopped");
            }
        }
    }

    private void whole(Exchange ex, Backend b, GenerationRequest req, Job job, Reply reply) throws Exception {
        while (true) {
            Job.Event e = next(job, b);
            if (e instanceof Job.Token t) {
                reply.token(t);
                if (reply.text.stopped()) {
                    job.cancel();
                    reply.finish("stop", null);
                    break;
                }
            } else if (e instanceof Job.Done d) {
                reply.finish(d.finish() == Job.Finish.STOP ? "stop" : "length", d.earlyExit());
                break;
            } else {
                throw new ApiException(500, "server_error", ((Job.Failed) e).message(), null, null);
            }
        }
        ex.json(200, reply.whole());
    }

    private void stream(Exchange ex, Backend b, GenerationRequest req, Job job, Reply reply) throws Exception {
        ex.startEvents();
        try {
            if (reply.chat) {
                ex.event(reply.chunk(reply.roleDelta(), null, null));
            }
            while (true) {
                Job.Event e = next(job, b);
                if (e instanceof Job.Token t) {
                    reply.token(t);
                    if (reply.text.stopped()) {
                        job.cancel();
                        sendDelta(ex, reply, t);
                        reply.finish("stop", null);
                        break;
                    }
                    sendDelta(ex, reply, t);
                } else if (e instanceof Job.Done d) {
                    reply.finish(d.finish() == Job.Finish.STOP ? "stop" : "length", d.earlyExit());
                    break;
                } else {
                    ObjectNode err = JSON.createObjectNode();
                    ObjectNode inner = err.putObject("error");
                    inner.put("message", ((Job.Failed) e).message());
                    inner.put("type", "server_error");
                    ex.event(err);
                    ex.endEvents();
                    return;
                }
            }
            String rest = reply.text.release(true);
            ObjectNode last = reply.chunk(reply.contentDelta(rest), reply.finishReason, null);
            last.set("early_exit", JSON.valueToTree(reply.earlyExit));
            if (!req.includeUsage()) {
                last.set("usage", reply.usage()); // usage in the final response even without include_usage
            }
            ex.event(last);
            if (req.includeUsage()) {
                ObjectNode u = reply.base(reply.chat ? "chat.completion.chunk" : "text_completion");
                u.putArray("choices");
                u.set("usage", reply.usage());
                ex.event(u);
            }
            ex.done();
            ex.endEvents();
        } catch (IOException clientGone) {
            job.cancel();
            ex.abort(clientGone);
        }
    }

    private static void sendDelta(Exchange ex, Reply reply, Job.Token t) throws IOException {
        String text = reply.text.release(false);
        if (text.isEmpty() && reply.req.topLogprobs() < 0) {
            return; // held back (a possible stop string) or an incomplete UTF-8 character
        }
        ObjectNode lp = reply.req.topLogprobs() >= 0 ? reply.logprobsOf(new Job.Token[] {t}, text) : null;
        ex.event(reply.chunk(reply.contentDelta(text), null, lp));
    }

    /** The response being built for one request: text, tokens, logprobs, usage. */
    private final class Reply {
        final GenerationRequest req;
        final Backend b;
        final boolean chat;
        final TextAssembler text;
        final String id;
        final java.util.List<Job.Token> tokens = new java.util.ArrayList<>();
        final java.util.List<String> pieces = new java.util.ArrayList<>();
        String finishReason;
        Map<String, Object> earlyExit;

        Reply(GenerationRequest req, Backend b, boolean chat) {
            this.req = req;
            this.b = b;
            this.chat = chat;
            this.text = new TextAssembler(b.tokenizer(), req.promptIds(), req.stops());
            this.id = (chat ? "chatcmpl-" : "cmpl-") + UUID.randomUUID().toString().replace("-", "");
        }

        void token(Job.Token t) {
            tokens.add(t);
            pieces.add(text.push(t.id()));
        }

        void finish(String reason, Map<String, Object> report) {
            text.flush();
            finishReason = text.stopped() ? "stop" : reason;
            if (report == null || report.isEmpty()) {
                report = partialReport();
            }
            earlyExit = report;
        }

        /** When the engine's report did not come (a stop string ended the request): from the tokens seen. */
        private Map<String, Object> partialReport() {
            Map<String, Object> r = new java.util.LinkedHashMap<>();
            r.put("mode", req.spec().mode().id());
            if (req.spec().mode() != ExitSpec.Mode.FULL) {
                r.put("epsilon", req.spec().epsilon());
            }
            java.util.TreeMap<Integer, Integer> per = new java.util.TreeMap<>();
            double sum = 0;
            for (Job.Token t : tokens) {
                per.merge(t.exitLayer(), 1, Integer::sum);
                sum += t.exitLayer();
            }
            r.put("mean_layers", tokens.isEmpty() ? 0.0 : Math.round(sum / tokens.size() * 1000.0) / 1000.0);
            Map<String, Integer> perLayer = new java.util.LinkedHashMap<>();
            per.forEach((k, v) -> perLayer.put(String.valueOf(k), v));
            r.put("exits_per_layer", perLayer);
            r.put("drafted", 0);
            r.put("accepted", 0);
            r.put("partial", req.spec().mode() == ExitSpec.Mode.DSSD);
            return r;
        }

        ObjectNode usage() {
            ObjectNode u = JSON.createObjectNode();
            u.put("prompt_tokens", req.promptIds().length);
            u.put("completion_tokens", tokens.size());
            u.put("total_tokens", req.promptIds().length + tokens.size());
            return u;
        }

        ObjectNode base(String object) {
            ObjectNode o = JSON.createObjectNode();
            o.put("id", id);
            o.put("object", object);
            o.put("created", System.currentTimeMillis() / 1000);
            o.put("model", b.modelId());
            if (chat) {
                o.putNull("system_fingerprint");
            }
            return o;
        }

        ObjectNode whole() {
            ObjectNode o = base(chat ? "chat.completion" : "text_completion");
            ObjectNode choice = o.putArray("choices").addObject();
            choice.put("index", 0);
            String all = text.release(true);
            if (chat) {
                ObjectNode msg = choice.putObject("message");
                msg.put("role", "assistant");
                msg.put("content", all);
                msg.putNull("refusal");
            } else {
                choice.put("text", all);
            }
            if (req.topLogprobs() >= 0) {
                choice.set("logprobs", logprobsOf(tokens.toArray(new Job.Token[0]), null));
            } else {
                choice.putNull("logprobs");
            }
            choice.put("finish_reason", finishReason);
            o.set("usage", usage());
            o.set("early_exit", JSON.valueToTree(earlyExit));
            return o;
        }

        ObjectNode roleDelta() {
            ObjectNode d = JSON.createObjectNode();
            d.put("role", "assistant");
            d.put("content", "");
            return d;
        }

        ObjectNode contentDelta(String s) {
            ObjectNode d = JSON.createObjectNode();
            if (chat) {
                if (!s.isEmpty()) {
                    d.put("content", s);
                }
            } else {
                d.put("text", s);
            }
            return d;
        }

        /** A streaming chunk: chat puts the delta under "delta", completions put the text in the choice. */
        ObjectNode chunk(ObjectNode delta, String finish, ObjectNode logprobs) {
            ObjectNode o = base(chat ? "chat.completion.chunk" : "text_completion");
            ObjectNode choice = o.putArray("choices").addObject();
            choice.put("index", 0);
            if (chat) {
                choice.set("delta", delta);
            } else {
                choice.put("text", delta.path("text").asText(""));
            }
            if (logprobs != null) {
                choice.set("logprobs", logprobs);
            } else {
                choice.putNull("logprobs");
            }
            if (finish == null) {
                choice.putNull("finish_reason");
            } else {
                choice.put("finish_reason", finish);
            }
            return o;
        }

        /** OpenAI's logprobs object for these tokens (chat: content[]; completions: parallel arrays). */
        ObjectNode logprobsOf(Job.Token[] ts, String streamedText) {
            Tokenizer tok = b.tokenizer();
            ObjectNode lp = JSON.createObjectNode();
            int first = tokens.size() - ts.length;
            if (chat) {
                ArrayNode content = lp.putArray("content");
                for (int i = 0; i < ts.length; i++) {
                    Job.Token t = ts[i];
                    ObjectNode e = content.addObject();
                    String piece = pieces.get(first + i);
                    e.put("token", piece);
                    e.put("logprob", t.logprob());
                    bytes(e.putArray("bytes"), piece);
                    ArrayNode top = e.putArray("top_logprobs");
                    for (int k = 0; k < t.topIds().length; k++) {
                        ObjectNode alt = top.addObject();
                        String s = tok.decode(new int[] {t.topIds()[k]});
                        alt.put("token", s);
                        alt.put("logprob", t.topLogprobs()[k]);
                        bytes(alt.putArray("bytes"), s);
                    }
                }
                lp.putNull("refusal");
            } else {
                ArrayNode tokensOut = lp.putArray("tokens");
                ArrayNode values = lp.putArray("token_logprobs");
                ArrayNode top = lp.putArray("top_logprobs");
                ArrayNode offsets = lp.putArray("text_offset");
                int offset = 0;
                for (int i = 0; i < first; i++) {
                    offset += pieces.get(i).length();
                }
                for (int i = 0; i < ts.length; i++) {
                    Job.Token t = ts[i];
                    String piece = pieces.get(first + i);
                    tokensOut.add(piece);
                    values.add(t.logprob());
                    ObjectNode alts = top.addObject();
                    for (int k = 0; k < t.topIds().length; k++) {
                        alts.put(tok.decode(new int[] {t.topIds()[k]}), t.topLogprobs()[k]);
                    }
                    offsets.add(offset);
                    offset += piece.length();
                }
            }
            return lp;
        }

        private void bytes(ArrayNode a, String s) {
            for (byte x : s.getBytes(StandardCharsets.UTF_8)) {
                a.add(x & 0xff);
            }
        }
    }

    // ----------------------------------------------------------------------------------- one exchange

    /** A request body as JSON; anything that is not one JSON value is a 400 naming what is wrong. */
    static JsonNode parseBody(byte[] bytes) {
        try {
            JsonNode node = JSON.readTree(bytes);
            if (node == null || node.isMissingNode()) {
                throw ApiException.badRequest("the request body is empty: send a JSON object", null);
            }
            return node;
        } catch (JsonProcessingException e) {
            throw ApiException.badRequest("the request body is not valid JSON: " + e.getOriginalMessage(), null,
                    "invalid_json");
        } catch (IOException e) {
            // Jackson guesses the encoding from the first bytes; a wrong guess fails as a CharConversionException
            throw ApiException.badRequest("the request body is not valid JSON text: " + e.getMessage(), null,
                    "invalid_json");
        }
    }

    /**
     * How much of an oversized body is read and dropped before the 413 goes out. Closing a connection whose
     * client is still uploading makes the kernel reset it, and the client then loses the 413 it was sent
     * (seen as "no bytes" in Java's client); past this bound the server stops reading all the same.
     */
    static final long OVERSIZED_BODY_DRAIN_BYTES = 64L << 20;

    /** One request/response pair with the server's ways of answering it. */
    private final class Exchange {
        final Request request;
        final Response response;
        final Callback callback;
        final String endpoint;
        boolean committed;
        int status;

        Exchange(Request request, Response response, Callback callback, String path) {
            this.request = request;
            this.response = response;
            this.callback = callback;
            this.endpoint = path.startsWith("/v1/models/") ? "/v1/models/{id}" : path;
        }

        /** The body as JSON, within the size limit. */
        JsonNode body(int limit) throws IOException {
            byte[] bytes;
            try (InputStream in = Content.Source.asInputStream(request)) {
                if (request.getLength() > limit) {
                    throw tooLarge(limit, in);
                }
                bytes = in.readNBytes(limit + 1);
                if (bytes.length > limit) {
                    throw tooLarge(limit, in);
                }
            }
            if (bytes.length == 0) {
                throw ApiException.badRequest("the request body is empty: send a JSON object", null);
            }
            return parseBody(bytes);
        }

        /** The 413, once the rest of the body (up to the drain bound) has been read and dropped. */
        private ApiException tooLarge(int limit, InputStream in) throws IOException {
            long left = OVERSIZED_BODY_DRAIN_BYTES;
            byte[] sink = new byte[16384];
            for (int n; left > 0 && (n = in.read(sink, 0, (int) Math.min(sink.length, left))) > 0; ) {
                left -= n;
            }
            return new ApiException(413, "invalid_request_error", "the request body is larger than the server's "
                    + "limit of " + limit + " bytes (--max-body-bytes)", null, "request_too_large");
        }

        void json(int status, Object body) throws IOException {
            text(status, "application/json", JSON.writeValueAsString(body));
        }

        void text(int status, String contentType, String body) {
            this.status = status;
            committed = true;
            response.setStatus(status);
            response.getHeaders().put(HttpHeader.CONTENT_TYPE, contentType);
            Content.Sink.write(response, true, body, callback);
            recordStatus();
        }

        void error(ApiException e) {
            if (committed) {
                abort(e);
                return;
            }
            ObjectNode body = JSON.createObjectNode();
            ObjectNode err = body.putObject("error");
            err.put("message", e.getMessage());
            err.put("type", e.type());
            if (e.param() == null) {
                err.putNull("param");
            } else {
                err.put("param", e.param());
            }
            if (e.code() == null) {
                err.putNull("code");
            } else {
                err.put("code", e.code());
            }
            if (e.status() == 401) {
                response.getHeaders().put(HttpHeader.WWW_AUTHENTICATE, "Bearer");
            }
            try {
                json(e.status(), body);
            } catch (IOException io) {
                abort(io);
            }
        }

        void startEvents() throws IOException {
            status = 200;
            committed = true;
            response.setStatus(200);
            response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/event-stream; charset=utf-8");
            response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-cache");
            response.getHeaders().put("X-Accel-Buffering", "no"); // nginx: pass events through unbuffered
            recordStatus();
        }

        /** One SSE event, written and flushed before returning (blocking: the client paces the stream). */
        void event(JsonNode data) throws IOException {
            write("data: " + JSON.writeValueAsString(data) + "\n\n", false);
        }

        void done() throws IOException {
            write("data: [DONE]\n\n", false);
        }

        void endEvents() throws IOException {
            try (Blocker.Callback cb = Blocker.callback()) {
                response.write(true, ByteBuffer.allocate(0), cb);
                cb.block();
            }
            callback.succeeded();
        }

        private void write(String s, boolean last) throws IOException {
            try (Blocker.Callback cb = Blocker.callback()) {
                response.write(last, ByteBuffer.wrap(s.getBytes(StandardCharsets.UTF_8)), cb);
                cb.block();
            }
        }

        void abort(Throwable t) {
            callback.failed(t);
        }

        private void recordStatus() {
            Backend b = backend;
            if (b != null) {
                b.metrics().request(endpoint, status);
            }
        }
    }
}
