package dev.earlyexit.server;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;

/** The early_exit request object and report, over calibrated copied heads on stories15M. */
class EarlyExitServerTest {
    @TempDir
    static Path dir;
    static ServerFixture s;
    static ExitModes modes;

    @BeforeAll
    static void start() throws Exception {
        modes = ServerFixture.exitModes(dir);
        s = new ServerFixture(4, 4, null, modes);
    }

    @AfterAll
    static void stop() throws Exception {
        if (s != null) {
            s.close();
        }
    }

    private static JsonNode complete(String earlyExit, boolean stream) throws Exception {
        String body = "{\"prompt\":\"Once upon a time\",\"max_tokens\":30,\"temperature\":0,\"early_exit\":" + earlyExit
                + (stream ? ",\"stream\":true" : "") + "}";
        var r = s.post("/v1/completions", body);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        if (!stream) {
            return ServerFixture.json(r);
        }
        var ev = OpenAiServerTest.events(r.body());
        StringBuilder text = new StringBuilder();
        JsonNode last = null;
        for (String e : ev.subList(0, ev.size() - 1)) {
            last = ServerFixture.JSON.readTree(e);
            text.append(last.at("/choices/0/text").asText());
        }
        ((com.fasterxml.jackson.databind.node.ObjectNode) last.at("/choices/0")).put("text", text.toString());
        return last;
    }

    private static int sum(JsonNode perLayer) {
        int n = 0;
        for (Iterator<Map.Entry<String, JsonNode>> it = perLayer.fields(); it.hasNext(); ) {
            n += it.next().getValue().asInt();
        }
        return n;
    }

    @Test
    void dssdGivesTheFullModelsGreedyTextAndReportsDrafts() throws Exception {
        ServerFixture.Reference full = ServerFixture.reference("Once upon a time", 30);
        for (boolean stream : new boolean[] {false, true}) {
            JsonNode j = complete("{\"mode\":\"dssd\",\"epsilon\":0.5,\"max_draft\":3}", stream);
            assertThat(j.at("/choices/0/text").asText()).isEqualTo(full.text());
            JsonNode ee = j.get("early_exit");
            assertThat(ee.get("mode").asText()).isEqualTo("dssd");
            assertThat(ee.get("max_draft").asInt()).isEqualTo(3);
            assertThat(ee.get("accepted").asInt()).isBetween(0, ee.get("drafted").asInt());
            assertThat(ee.get("drafted").asInt()).isPositive();
            assertThat(sum(ee.get("exits_per_layer"))).isEqualTo(30);
            assertThat(ee.get("mean_layers").asDouble()).isBetween(1.0, 6.0);
        }
        assertThat(s.get("/metrics").body()).containsPattern("earlyexit_drafted_tokens_total [1-9]");
    }

    @Test
    void earlyExitReportsWhereTokensLeft() throws Exception {
        JsonNode j = complete("{\"mode\":\"early-exit\",\"epsilon\":0.5}", false);
        JsonNode ee = j.get("early_exit");
        assertThat(ee.get("mode").asText()).isEqualTo("early-exit");
        assertThat(ee.get("epsilon").asDouble()).isEqualTo(0.5);
        int tokens = j.at("/usage/completion_tokens").asInt();
        assertThat(sum(ee.get("exits_per_layer"))).isEqualTo(tokens);
        assertThat(ee.get("mean_layers").asDouble()).isBetween(1.0, 6.0);
        assertThat(j.at("/choices/0/text").asText()).isNotEmpty();
        // A full-model request next to it is unaffected.
        JsonNode f = complete("{\"mode\":\"full\"}", true);
        assertThat(f.at("/choices/0/text").asText()).isEqualTo(ServerFixture.reference("Once upon a time", 30).text());
        assertThat(f.at("/early_exit/mean_layers").asDouble()).isEqualTo(6.0);
    }

    @Test
    void earlyExitAndFullRequestsDecodeTogetherEachAsItWouldAlone() throws Exception {
        String[] prompts = {"Once upon a time", "Tom and Lily were playing", "The little dog"};
        String[] earlyExit = {"{\"mode\":\"early-exit\",\"epsilon\":0.5}", "{\"mode\":\"full\"}",
                "{\"mode\":\"early-exit\",\"epsilon\":0.8}"};
        int[] lengths = {40, 25, 30};
        // References first: the server's engine shares these weights.
        ServerFixture.EarlyExitReference first = ServerFixture.earlyExitReference(prompts[0], lengths[0], modes, 0.5);
        ServerFixture.Reference second = ServerFixture.reference(prompts[1], lengths[1]);
        ServerFixture.EarlyExitReference third = ServerFixture.earlyExitReference(prompts[2], lengths[2], modes, 0.8);
        long stepsBefore = s.metrics.decodeSteps.sum();
        long rowsBefore = s.metrics.batchedRows.sum();
        List<CompletableFuture<HttpResponse<String>>> futures = sendAll(prompts, lengths, earlyExit);
        JsonNode[] answers = new JsonNode[prompts.length];
        for (int i = 0; i < prompts.length; i++) {
            answers[i] = ServerFixture.json(futures.get(i).get());
        }
        assertThat(answers[0].at("/choices/0/text").asText()).isEqualTo(first.text());
        assertThat(answers[1].at("/choices/0/text").asText()).isEqualTo(second.text());
        assertThat(answers[2].at("/choices/0/text").asText()).isEqualTo(third.text());
        assertThat(perLayer(answers[0])).isEqualTo(first.exitsPerLayer());
        assertThat(perLayer(answers[2])).isEqualTo(third.exitsPerLayer());
        assertThat(answers[1].at("/early_exit/mean_layers").asDouble()).isEqualTo(6.0);
        assertThat(first.exitsPerLayer().getOrDefault("6", 0)).as("tokens must exit early at ε 0.5")
                .isLessThan(lengths[0]);
        // Two slots: they were decoded together.
        assertThat(s.metrics.batchedRows.sum() - rowsBefore).isGreaterThan(s.metrics.decodeSteps.sum() - stepsBefore);
    }

    @Test
    void dssdRequestsDecodeTogetherAndWithTheBatchEachAsItWouldAlone() throws Exception {
        String[] prompts = {"Once upon a time", "Tom and Lily were playing", "The little dog", "One day, a girl"};
        String[] earlyExit = {"{\"mode\":\"dssd\",\"epsilon\":0.5,\"max_draft\":4}",
                "{\"mode\":\"dssd\",\"epsilon\":0.8}", "{\"mode\":\"full\"}",
                "{\"mode\":\"early-exit\",\"epsilon\":0.5}"};
        int[] lengths = {40, 35, 30, 30};
        String[] expected = new String[prompts.length];
        for (int i = 0; i < 3; i++) {
            expected[i] = ServerFixture.reference(prompts[i], lengths[i]).text(); // DSSD: the full model's text
        }
        expected[3] = ServerFixture.earlyExitReference(prompts[3], lengths[3], modes, 0.5).text();
        long sweepsBefore = s.metrics.dssdSweeps.sum();
        long slotsBefore = s.metrics.dssdSweepSlots.sum();
        List<CompletableFuture<HttpResponse<String>>> futures = sendAll(prompts, lengths, earlyExit);
        for (int i = 0; i < prompts.length; i++) {
            JsonNode answer = ServerFixture.json(futures.get(i).get());
            assertThat(answer.at("/choices/0/text").asText()).as(prompts[i]).isEqualTo(expected[i]);
            if (i < 2) {
                assertThat(answer.at("/early_exit/drafted").asInt()).as("drafted, " + prompts[i]).isPositive();
            }
        }
        long sweeps = s.metrics.dssdSweeps.sum() - sweepsBefore;
        assertThat(sweeps).isPositive();
        // Both DSSD requests in most sweeps: more slots than sweeps.
        assertThat(s.metrics.dssdSweepSlots.sum() - slotsBefore).isGreaterThan(sweeps);
        assertThat(s.get("/metrics").body()).contains("earlyexit_dssd_sweeps_total ");
    }

    /** Greedy completions of every prompt at once, request i with early_exit object earlyExit[i]. */
    private static List<CompletableFuture<HttpResponse<String>>> sendAll(String[] prompts, int[] lengths,
                                                                         String[] earlyExit) {
        List<CompletableFuture<HttpResponse<String>>> futures = new ArrayList<>();
        for (int i = 0; i < prompts.length; i++) {
            String body = "{\"prompt\":\"" + prompts[i] + "\",\"max_tokens\":" + lengths[i]
                    + ",\"temperature\":0,\"early_exit\":" + earlyExit[i] + "}";
            futures.add(s.http.sendAsync(HttpRequest.newBuilder(URI.create(s.base() + "/v1/completions"))
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString()));
        }
        return futures;
    }

    private static Map<String, Integer> perLayer(JsonNode answer) {
        Map<String, Integer> m = new java.util.TreeMap<>();
        answer.at("/early_exit/exits_per_layer").fields().forEachRemaining(e -> m.put(e.getKey(), e.getValue().asInt()));
        return m;
    }

    @Test
    void logprobsAreRefusedOutsideTheFullModel() throws Exception {
        var r = s.post("/v1/completions", "{\"prompt\":\"x\",\"logprobs\":1,\"early_exit\":{\"mode\":\"dssd\"}}");
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(ServerFixture.json(r).at("/error/param").asText()).isEqualTo("logprobs");
    }
}
