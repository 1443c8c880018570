package dev.earlyexit.server;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** The HTTP contract against a running server on the real stories15M: answers, streams, errors. */
class OpenAiServerTest {
    static ServerFixture s;
    static ServerFixture.Reference once;

    @BeforeAll
    static void start() throws Exception {
        s = new ServerFixture(4, 4, null, null, 64 * 1024);
        once = ServerFixture.reference("Once upon a time", 24);
    }

    @AfterAll
    static void stop() throws Exception {
        if (s != null) {
            s.close();
        }
    }

    static String completion(String extra) {
        return "{\"model\":\"stories15M\",\"prompt\":\"Once upon a time\",\"max_tokens\":24,\"temperature\":0" + extra + "}";
    }

    /** The data lines of an SSE body, [DONE] included. */
    static List<String> events(String body) {
        List<String> out = new ArrayList<>();
        for (String block : body.split("\n\n")) {
            if (block.startsWith("data: ")) {
                out.add(block.substring(6));
            } else if (!block.isBlank()) {
                throw new AssertionError("not an SSE data event: " + block);
            }
        }
        return out;
    }

    @Test
    void greedyCompletionEqualsGenerate() throws Exception {
        HttpResponse<String> r = s.post("/v1/completions", completion(""));
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        JsonNode j = ServerFixture.json(r);
        assertThat(j.get("object").asText()).isEqualTo("text_completion");
        assertThat(j.at("/choices/0/text").asText()).isEqualTo(once.text());
        assertThat(j.at("/choices/0/finish_reason").asText()).isEqualTo("length");
        assertThat(j.at("/usage/prompt_tokens").asInt()).isEqualTo(5);
        assertThat(j.at("/usage/completion_tokens").asInt()).isEqualTo(24);
        assertThat(j.at("/usage/total_tokens").asInt()).isEqualTo(29);
        assertThat(j.at("/early_exit/mode").asText()).isEqualTo("full");
        assertThat(j.at("/early_exit/exits_per_layer/6").asInt()).isEqualTo(24);
        // Token ids as the prompt: the same continuation (prompt as ids, no BOS added).
        HttpResponse<String> ids = s.post("/v1/completions", "{\"prompt\":[1,9038,2501,263,931],\"max_tokens\":24,"
                + "\"temperature\":0}");
        assertThat(ServerFixture.json(ids).at("/choices/0/text").asText()).isEqualTo(once.text());
    }

    @Test
    void streamedCompletionConcatenatesToTheSameTextAndEndsWithDone() throws Exception {
        HttpResponse<String> r = s.post("/v1/completions", completion(",\"stream\":true,"
                + "\"stream_options\":{\"include_usage\":true}"));
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("content-type").orElse("")).startsWith("text/event-stream");
        List<String> ev = events(r.body());
        assertThat(ev.get(ev.size() - 1)).isEqualTo("[DONE]");
        StringBuilder text = new StringBuilder();
        String finish = null;
        JsonNode usage = null;
        for (String e : ev.subList(0, ev.size() - 1)) {
            JsonNode j = ServerFixture.JSON.readTree(e);
            if (j.get("choices").isEmpty()) {
                usage = j.get("usage");
                continue;
            }
            text.append(j.at("/choices/0/text").asText());
            if (!j.at("/choices/0/finish_reason").isNull()) {
                finish = j.at("/choices/0/finish_reason").asText();
            }
        }
        assertThat(text.toString()).isEqualTo(once.text());
        assertThat(finish).isEqualTo("length");
        assertThat(usage).isNotNull();
        assertThat(usage.get("completion_tokens").asInt()).isEqualTo(24);
    }

    @Test
    void chatUsesTheTemplateAndStreamsDeltas() throws Exception {
        String body = "{\"model\":\"stories15M\",\"messages\":[{\"role\":\"user\",\"content\":\"Once upon a time\"}],"
                + "\"max_completion_tokens\":24,\"temperature\":0";
        HttpResponse<String> r = s.post("/v1/chat/completions", body + "}");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        JsonNode j = ServerFixture.json(r);
        assertThat(j.get("object").asText()).isEqualTo("chat.completion");
        assertThat(j.at("/choices/0/message/role").asText()).isEqualTo("assistant");
        assertThat(j.at("/choices/0/message/content").asText()).isEqualTo(once.text());
        assertThat(j.at("/usage/prompt_tokens").asInt()).isEqualTo(5);

        HttpResponse<String> st = s.post("/v1/chat/completions", body + ",\"stream\":true}");
        List<String> ev = events(st.body());
        assertThat(ev.get(ev.size() - 1)).isEqualTo("[DONE]");
        StringBuilder text = new StringBuilder();
        JsonNode first = ServerFixture.JSON.readTree(ev.get(0));
        assertThat(first.at("/choices/0/delta/role").asText()).isEqualTo("assistant");
        for (String e : ev.subList(0, ev.size() - 1)) {
            JsonNode c = ServerFixture.JSON.readTree(e);
            assertThat(c.get("object").asText()).isEqualTo("chat.completion.chunk");
            text.append(c.at("/choices/0/delta/content").asText(""));
        }
        assertThat(text.toString()).isEqualTo(once.text());
        JsonNode last = ServerFixture.JSON.readTree(ev.get(ev.size() - 2));
        assertThat(last.at("/choices/0/finish_reason").asText()).isEqualTo("length");
        assertThat(last.at("/usage/completion_tokens").asInt()).isEqualTo(24);

        // The template's raise_exception is a 400 with its message.
        HttpResponse<String> refused = s.post("/v1/chat/completions",
                "{\"messages\":[{\"role\":\"system\",\"content\":\"x\"}]}");
        assertThat(refused.statusCode()).isEqualTo(400);
        assertThat(ServerFixture.json(refused).at("/error/message").asText()).contains("no system messages");
    }

    @Test
    void stopStringsCutTheTextStreamedOrNot() throws Exception {
        int cut = once.text().indexOf(" was");
        assertThat(cut).isPositive();
        String expected = once.text().substring(0, cut);
        JsonNode j = ServerFixture.json(s.post("/v1/completions", completion(",\"stop\":[\" was\",\"zzz\"]")));
        assertThat(j.at("/choices/0/text").asText()).isEqualTo(expected);
        assertThat(j.at("/choices/0/finish_reason").asText()).isEqualTo("stop");
        assertThat(j.at("/usage/completion_tokens").asInt()).isLessThan(24);

        List<String> ev = events(s.post("/v1/completions", completion(",\"stop\":\" was\",\"stream\":true")).body());
        StringBuilder text = new StringBuilder();
        for (String e : ev.subList(0, ev.size() - 1)) {
            text.append(ServerFixture.JSON.readTree(e).at("/choices/0/text").asText());
        }
        assertThat(text.toString()).isEqualTo(expected);
    }

    @Test
    void logprobsOfTheGreedyTokenAreTheLargest() throws Exception {
        JsonNode j = ServerFixture.json(s.post("/v1/completions", completion(",\"logprobs\":3,\"max_tokens\":6")));
        JsonNode lp = j.at("/choices/0/logprobs");
        assertThat(lp.get("tokens")).hasSize(6);
        assertThat(lp.get("token_logprobs")).hasSize(6);
        for (int i = 0; i < 6; i++) {
            double chosen = lp.get("token_logprobs").get(i).asDouble();
            assertThat(chosen).isLessThanOrEqualTo(0.0);
            JsonNode top = lp.get("top_logprobs").get(i);
            assertThat(top.size()).isBetween(1, 3);
            double best = Double.NEGATIVE_INFINITY;
            for (JsonNode v : top) {
                best = Math.max(best, v.asDouble());
            }
            assertThat(chosen).isCloseTo(best, org.assertj.core.data.Offset.offset(1e-5));
        }
        JsonNode chat = ServerFixture.json(s.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\","
                + "\"content\":\"Once upon a time\"}],\"max_tokens\":4,\"temperature\":0,\"logprobs\":true,"
                + "\"top_logprobs\":2}"));
        assertThat(chat.at("/choices/0/logprobs/content")).hasSize(4);
        assertThat(chat.at("/choices/0/logprobs/content/0/top_logprobs")).hasSize(2);
    }

    @Test
    void concurrentRequestsEachGetTheirOwnGreedyAnswer() throws Exception {
        String[] prompts = {"Once upon a time", "Tom and Lily were playing", "The little dog", "One day, a girl"};
        int[] lengths = {30, 12, 25, 18};
        // References first: a Matrix serves one thread at a time, and the engine shares these weights.
        String[] expected = new String[prompts.length];
        for (int i = 0; i < prompts.length; i++) {
            expected[i] = ServerFixture.reference(prompts[i], lengths[i]).text();
        }
        List<CompletableFuture<HttpResponse<String>>> futures = new ArrayList<>();
        for (int i = 0; i < prompts.length; i++) {
            String body = "{\"prompt\":\"" + prompts[i] + "\",\"max_tokens\":" + lengths[i] + ",\"temperature\":0"
                    + (i % 2 == 1 ? ",\"stream\":true" : "") + "}";
            futures.add(s.http.sendAsync(HttpRequest.newBuilder(URI.create(s.base() + "/v1/completions"))
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString()));
        }
        long stepsBefore = s.metrics.decodeSteps.sum();
        long rowsBefore = s.metrics.batchedRows.sum();
        for (int i = 0; i < prompts.length; i++) {
            HttpResponse<String> r = futures.get(i).get();
            String text;
            if (i % 2 == 1) {
                StringBuilder b = new StringBuilder();
                List<String> ev = events(r.body());
                for (String e : ev.subList(0, ev.size() - 1)) {
                    b.append(ServerFixture.JSON.readTree(e).at("/choices/0/text").asText());
                }
                text = b.toString();
            } else {
                text = ServerFixture.json(r).at("/choices/0/text").asText();
            }
            assertThat(text).as(prompts[i]).isEqualTo(expected[i]);
        }
        // They were decoded together: more rows than steps.
        assertThat(s.metrics.batchedRows.sum() - rowsBefore).isGreaterThan(s.metrics.decodeSteps.sum() - stepsBefore);
    }

    @Test
    void badRequestsGetOpenAiErrorsAndTheServerKeepsServing() throws Exception {
        record Case(String path, String body, int status, String param, String says) {
        }
        String tooLong = "{\"prompt\":[" + String.join(",", java.util.Collections.nCopies(300, "1")) + "]}";
        List<Case> cases = List.of(
                new Case("/v1/completions", "{\"prompt\": \"x\",", 400, null, "not valid JSON"),
                new Case("/v1/completions", "[1,2]", 400, null, "JSON object"),
                new Case("/v1/completions", "{\"prompt\":\"x\",\"max_tokens\":\"ten\"}", 400, "max_tokens", "integer"),
                new Case("/v1/completions", "{\"prompt\":\"x\",\"temperature\":true}", 400, "temperature", "number"),
                new Case("/v1/completions", "{\"prompt\":\"x\",\"n\":2}", 400, "n", "n (only 1)"),
                new Case("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":"
                        + "[{\"type\":\"function\"}],\"n\":3}", 400, "n", "tools"),
                new Case("/v1/completions", "{\"prompt\":\"x\",\"frobnicate\":1}", 400, "frobnicate", "frobnicate"),
                new Case("/v1/completions", "{\"prompt\":\"x\",\"early_exit\":{\"mode\":\"full\",\"speed\":9}}", 400,
                        "early_exit.speed", "early_exit.speed"),
                new Case("/v1/completions", "{\"prompt\":\"x\",\"early_exit\":{\"mode\":\"warp\"}}", 400,
                        "early_exit.mode", "unknown mode"),
                new Case("/v1/completions", "{\"prompt\":\"x\",\"early_exit\":{\"epsilon\":0}}", 400,
                        "early_exit.epsilon", "epsilon"),
                new Case("/v1/completions", "{\"prompt\":\"x\",\"early_exit\":{\"mode\":\"dssd\"}}", 400,
                        "early_exit.mode", "not available"),
                new Case("/v1/completions", tooLong, 400, "prompt", "context"),
                new Case("/v1/completions", "{\"prompt\":[1,99999]}", 400, "prompt", "token ids"),
                new Case("/v1/completions", "{\"prompt\":[\"a\",\"b\"]}", 400, "prompt", "one prompt"),
                new Case("/v1/completions", "{\"model\":\"gpt-4\",\"prompt\":\"x\"}", 404, "model", "gpt-4"),
                new Case("/v1/completions", "{\"prompt\":\"" + "a".repeat(70_000) + "\"}", 413, null, "limit"),
                new Case("/v1/nothing", "{}", 404, null, "Unknown path"));
        for (Case c : cases) {
            HttpResponse<String> r = s.post(c.path(), c.body());
            assertThat(r.statusCode()).as(c.body().length() > 200 ? c.path() : c.body()).isEqualTo(c.status());
            JsonNode err = ServerFixture.json(r).get("error");
            assertThat(err).as(r.body()).isNotNull();
            assertThat(err.get("message").asText()).as(c.body().length() > 200 ? c.path() : c.body()).contains(c.says());
            assertThat(err.get("type").asText()).isNotEmpty();
            if (c.param() != null) {
                assertThat(err.get("param").asText()).isEqualTo(c.param());
            }
        }
        assertThat(s.get("/v1/completions").statusCode()).isEqualTo(405);
        assertThat(ServerFixture.json(s.post("/v1/completions", completion(""))).at("/choices/0/text").asText())
                .isEqualTo(once.text());
        String m = s.get("/metrics").body();
        assertThat(m).contains("earlyexit_requests_total{endpoint=\"/v1/completions\",status=\"400\"}");
    }

    @Test
    void anOversizedBodyGetsIts413EveryTimeAndTheConnectionStaysUsable() throws Exception {
        // The server once answered before reading the body; the client, still uploading, was then reset
        // and lost the answer now and then (CI saw "header parser received no bytes").
        String big = "{\"prompt\":\"" + "a".repeat(1 << 20) + "\"}";
        for (int i = 0; i < 40; i++) {
            HttpResponse<String> r = s.post("/v1/completions", big);
            assertThat(r.statusCode()).as("try " + i).isEqualTo(413);
            assertThat(ServerFixture.json(r).at("/error/code").asText()).isEqualTo("request_too_large");
        }
        assertThat(s.get("/health").statusCode()).isEqualTo(200);
    }

    @Test
    void modelsHealthMetricsTokenize() throws Exception {
        JsonNode models = ServerFixture.json(s.get("/v1/models"));
        assertThat(models.at("/data/0/id").asText()).isEqualTo("stories15M");
        assertThat(s.get("/v1/models/stories15M").statusCode()).isEqualTo(200);
        assertThat(s.get("/health").statusCode()).isEqualTo(200);
        JsonNode tok = ServerFixture.json(s.post("/tokenize", "{\"content\":\"Once upon a time\",\"add_special\":true}"));
        assertThat(tok.get("tokens").toString()).isEqualTo("[1,9038,2501,263,931]");
        JsonNode detok = ServerFixture.json(s.post("/detokenize", "{\"tokens\":[9038,2501,263,931]}"));
        assertThat(detok.get("content").asText()).isEqualTo("Once upon a time");
        s.post("/v1/completions", completion(""));
        String metrics = s.get("/metrics").body();
        for (String series : Stream.of("earlyexit_requests_total{", "earlyexit_prompt_tokens_total ",
                "earlyexit_generated_tokens_total ", "earlyexit_tokens_per_second ",
                "earlyexit_time_to_first_token_seconds_count ", "earlyexit_queue_length ", "earlyexit_slots_busy ",
                "earlyexit_exits_total{layer=\"6\"} ", "earlyexit_drafted_tokens_total ",
                "earlyexit_accepted_tokens_total ").toList()) {
            assertThat(metrics).contains(series);
        }
        assertThat(metrics).containsPattern("earlyexit_generated_tokens_total [1-9]");
    }

    @Test
    void aClientThatLeavesMidStreamFreesItsSlot() throws Exception {
        long before = s.metrics.generatedTokens.sum();
        java.net.Socket socket = new java.net.Socket("127.0.0.1", s.server.port());
        String body = "{\"prompt\":\"Once upon a time\",\"max_tokens\":250,\"temperature\":0,\"stream\":true}";
        socket.getOutputStream().write(("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + "Content-Length: " + body.length() + "\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8));
        BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
        int data = 0;
        while (data < 2) {
            String line = in.readLine();
            if (line != null && line.startsWith("data: ")) {
                data++;
            }
        }
        socket.close();
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (!s.engine.idle() && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertThat(s.engine.idle()).isTrue();
        // Far fewer than the 250 asked for were generated: the slot was freed.
        assertThat(s.metrics.generatedTokens.sum() - before).isLessThan(200);
    }

    @Test
    void healthIs503UntilTheModelIsReadyAndTheApiKeyGuardsTheRest() throws Exception {
        OpenAiServer loading = new OpenAiServer(new ServerOptions("127.0.0.1", 0, "sekret", 1 << 20,
                new ExitSpec(ExitSpec.Mode.FULL, 0.9, 4), 1000));
        loading.start();
        try {
            String base = "http://127.0.0.1:" + loading.port();
            HttpResponse<String> h = s.http.send(HttpRequest.newBuilder(URI.create(base + "/health")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(h.statusCode()).isEqualTo(503);
            assertThat(h.body()).contains("loading");
        } finally {
            loading.close();
        }
        try (ServerFixture keyed = new ServerFixture(1, 1, "sekret", null)) {
            assertThat(keyed.get("/health").statusCode()).isEqualTo(200);
            HttpResponse<String> none = keyed.post("/v1/completions", completion(""));
            assertThat(none.statusCode()).isEqualTo(401);
            assertThat(ServerFixture.json(none).at("/error/code").asText()).isEqualTo("invalid_api_key");
            assertThat(keyed.post("/v1/completions", completion(""), "Authorization", "Bearer wrong").statusCode())
                    .isEqualTo(401);
            assertThat(keyed.get("/v1/models").statusCode()).isEqualTo(401);
            HttpResponse<String> ok = keyed.post("/v1/completions", completion(""), "Authorization", "Bearer sekret");
            assertThat(ok.statusCode()).isEqualTo(200);
        }
    }

    @Test
    void beyondTheQueueRequestsGet429() throws Exception {
        try (ServerFixture small = new ServerFixture(1, 1, null, null)) {
            String longOne = "{\"prompt\":\"Once upon a time\",\"max_tokens\":250,\"temperature\":0,\"stream\":true}";
            HttpRequest req = HttpRequest.newBuilder(URI.create(small.base() + "/v1/completions"))
                    .POST(HttpRequest.BodyPublishers.ofString(longOne)).build();
            HttpResponse<java.io.InputStream> running = small.http.send(req, HttpResponse.BodyHandlers.ofInputStream());
            BufferedReader in = new BufferedReader(new InputStreamReader(running.body(), StandardCharsets.UTF_8));
            in.readLine(); // the first event: the slot is busy
            HttpRequest shortOne = HttpRequest.newBuilder(URI.create(small.base() + "/v1/completions"))
                    .POST(HttpRequest.BodyPublishers.ofString(completion(""))).build();
            CompletableFuture<HttpResponse<String>> queued = small.http.sendAsync(shortOne,
                    HttpResponse.BodyHandlers.ofString());
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (small.engine.queueLength() < 1 && System.nanoTime() < deadline) {
                Thread.sleep(2);
            }
            HttpResponse<String> refused = small.post("/v1/completions", completion(""));
            assertThat(refused.statusCode()).isEqualTo(429);
            assertThat(ServerFixture.json(refused).at("/error/code").asText()).isEqualTo("queue_full");
            running.body().close(); // the running client leaves: its slot goes to the queued request
            assertThat(queued.get().statusCode()).isEqualTo(200);
            assertThat(ServerFixture.json(queued.get()).at("/choices/0/text").asText()).isEqualTo(once.text());
        }
    }

    @Test
    void sampledRequestsWithASeedRepeat() throws Exception {
        String body = "{\"prompt\":\"Once upon a time\",\"max_tokens\":16,\"temperature\":0.9,\"top_p\":0.9,\"seed\":7}";
        String a = ServerFixture.json(s.post("/v1/completions", body)).at("/choices/0/text").asText();
        String b = ServerFixture.json(s.post("/v1/completions", body)).at("/choices/0/text").asText();
        assertThat(a).isEqualTo(b);
        assertThat(Map.of("x", a)).isNotEmpty();
    }
}
