package dev.earlyexit.server;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A bounded load test on loopback (count: {@link #REQUESTS}, time: every request and the whole run have
 * deadlines): concurrent clients, streaming and not, some leaving mid-stream, some sending bad requests.
 * Afterwards every good request has its complete, correct answer, the engine is idle and the heap has
 * not grown. Throughput, latency and time to first token are printed (not asserted: speed belongs to
 * benchmarks).
 */
class ServerLoadTest {
    static final int REQUESTS = 48;
    static final int CLIENTS = 8;
    static final String[] PROMPTS = {"Once upon a time", "Tom and Lily were playing", "The little dog", "One day, a girl"};
    static final int[] LENGTHS = {40, 24, 32, 16};

    enum Kind { WHOLE, STREAM, LEAVES, BAD, SAMPLED }

    record Outcome(Kind kind, boolean ok, String problem, double latencyMs, double ttftMs, int tokens) {
    }

    @Test
    void concurrentMixedClientsAllGetCompleteAnswers() throws Exception {
        ServerFixture.Reference[] refs = new ServerFixture.Reference[PROMPTS.length];
        for (int i = 0; i < PROMPTS.length; i++) {
            refs[i] = ServerFixture.reference(PROMPTS[i], LENGTHS[i]);
        }
        try (ServerFixture s = new ServerFixture(4, 64, null, null)) {
            runRound(s, refs, 8); // warm-up, also the baseline for the heap
            long heapBefore = usedHeapAfterGc();
            long t0 = System.nanoTime();
            List<Outcome> outcomes = runRound(s, refs, REQUESTS);
            double seconds = (System.nanoTime() - t0) / 1e9;
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (!s.engine.idle() && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertThat(s.engine.idle()).as("nothing left running").isTrue();
            long heapAfter = usedHeapAfterGc();

            List<String> problems = new ArrayList<>();
            for (Outcome o : outcomes) {
                if (!o.ok()) {
                    problems.add(o.kind() + ": " + o.problem());
                }
            }
            assertThat(problems).isEmpty();
            assertThat(s.get("/health").statusCode()).isEqualTo(200);

            List<Double> latency = new ArrayList<>();
            List<Double> ttft = new ArrayList<>();
            int tokens = 0;
            for (Outcome o : outcomes) {
                if (o.kind() == Kind.WHOLE || o.kind() == Kind.STREAM || o.kind() == Kind.SAMPLED) {
                    latency.add(o.latencyMs());
                    tokens += o.tokens();
                }
                if (o.ttftMs() >= 0) {
                    ttft.add(o.ttftMs());
                }
            }
            System.out.printf("load test: %d requests from %d clients in %.2f s: %.1f good requests/s, %.1f tokens/s; "
                            + "latency p50 %.0f ms p95 %.0f ms; TTFT (streams) p50 %.0f ms p95 %.0f ms; "
                            + "heap after GC %d -> %d MB%n", REQUESTS, CLIENTS, seconds, latency.size() / seconds,
                    tokens / seconds, pct(latency, 50), pct(latency, 95), pct(ttft, 50), pct(ttft, 95),
                    heapBefore >> 20, heapAfter >> 20);
            assertThat(heapAfter - heapBefore).as("heap growth over a round").isLessThan(64L << 20);
        }
    }

    private static List<Outcome> runRound(ServerFixture s, ServerFixture.Reference[] refs, int count) throws Exception {
        ExecutorService clients = Executors.newFixedThreadPool(CLIENTS);
        try {
            List<Future<Outcome>> futures = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                int n = i;
                futures.add(clients.submit(() -> one(s, refs, n)));
            }
            List<Outcome> out = new ArrayList<>();
            for (Future<Outcome> f : futures) {
                out.add(f.get(60, TimeUnit.SECONDS)); // nothing hangs
            }
            return out;
        } finally {
            clients.shutdownNow();
        }
    }

    private static Outcome one(ServerFixture s, ServerFixture.Reference[] refs, int n) throws Exception {
        Kind kind = Kind.values()[n % Kind.values().length];
        int p = (n / Kind.values().length) % PROMPTS.length;
        String base = "{\"prompt\":\"" + PROMPTS[p] + "\",\"max_tokens\":" + LENGTHS[p];
        long t0 = System.nanoTime();
        switch (kind) {
            case BAD -> {
                HttpResponse<String> r = s.post("/v1/completions", n % 2 == 0 ? "{\"prompt\":" : base + ",\"n\":2}");
                boolean ok = r.statusCode() == 400 && ServerFixture.json(r).has("error");
                return new Outcome(kind, ok, r.statusCode() + " " + r.body(), ms(t0), -1, 0);
            }
            case LEAVES -> {
                try (Socket socket = new Socket("127.0.0.1", s.server.port())) {
                    String body = base + ",\"temperature\":0,\"stream\":true}";
                    socket.getOutputStream().write(("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: "
                            + "application/json\r\nContent-Length: " + body.getBytes(StandardCharsets.UTF_8).length
                            + "\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8));
                    BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(),
                            StandardCharsets.UTF_8));
                    int events = 0;
                    for (String line; events < 2 && (line = in.readLine()) != null; ) {
                        if (line.startsWith("data: ")) {
                            events++;
                        }
                    }
                    return new Outcome(kind, events == 2, "stream ended before 2 events", ms(t0), -1, 0);
                }
            }
            case WHOLE -> {
                HttpResponse<String> r = s.post("/v1/completions", base + ",\"temperature\":0}");
                JsonNode j = ServerFixture.json(r);
                String text = j.at("/choices/0/text").asText();
                boolean ok = r.statusCode() == 200 && text.equals(refs[p].text())
                        && j.at("/choices/0/finish_reason").asText().equals(refs[p].finishReason());
                return new Outcome(kind, ok, "got '" + text + "' " + r.body(), ms(t0), -1,
                        j.at("/usage/completion_tokens").asInt());
            }
            case STREAM, SAMPLED -> {
                String body = base + (kind == Kind.STREAM ? ",\"temperature\":0" : ",\"temperature\":0.8,\"seed\":" + n)
                        + ",\"stream\":true,\"stream_options\":{\"include_usage\":true}}";
                HttpResponse<java.io.InputStream> r = s.http.send(HttpRequest.newBuilder(
                                URI.create(s.base() + "/v1/completions")).timeout(java.time.Duration.ofSeconds(30))
                        .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofInputStream());
                BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8));
                StringBuilder text = new StringBuilder();
                double ttft = -1;
                boolean done = false;
                String finish = null;
                int tokens = 0;
                for (String line; (line = in.readLine()) != null; ) {
                    if (!line.startsWith("data: ")) {
                        continue;
                    }
                    String data = line.substring(6);
                    if (data.equals("[DONE]")) {
                        done = true;
                        break;
                    }
                    if (ttft < 0) {
                        ttft = ms(t0);
                    }
                    JsonNode j = ServerFixture.JSON.readTree(data);
                    if (j.get("choices").isEmpty()) {
                        tokens = j.at("/usage/completion_tokens").asInt();
                        continue;
                    }
                    text.append(j.at("/choices/0/text").asText());
                    if (!j.at("/choices/0/finish_reason").isNull()) {
                        finish = j.at("/choices/0/finish_reason").asText();
                    }
                }
                boolean ok = done && finish != null && tokens > 0
                        && (kind == Kind.SAMPLED || text.toString().equals(refs[p].text()));
                return new Outcome(kind, ok, "done=" + done + " finish=" + finish + " text='" + text + "'", ms(t0),
                        ttft, tokens);
            }
            default -> throw new IllegalStateException();
        }
    }

    private static double ms(long t0) {
        return (System.nanoTime() - t0) / 1e6;
    }

    private static double pct(List<Double> values, int p) {
        if (values.isEmpty()) {
            return Double.NaN;
        }
        List<Double> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        return sorted.get(Math.min(sorted.size() - 1, (int) Math.ceil(p / 100.0 * sorted.size()) - 1));
    }

    private static long usedHeapAfterGc() throws InterruptedException {
        Runtime rt = Runtime.getRuntime();
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.sleep(50);
        }
        return rt.totalMemory() - rt.freeMemory();
    }
}
