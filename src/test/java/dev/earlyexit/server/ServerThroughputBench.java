package dev.earlyexit.server;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Benchmark (not a test): total greedy tokens/s of 1 stream against N concurrent streams through the
 * server on loopback, in alternating rounds so a noisy machine hits both alike. Run with
 * {@code scripts/serve-bench.sh [rounds] [streams] [tokens]}.
 */
public final class ServerThroughputBench {
    /** Prompts whose greedy continuations run the full 200 tokens (none stops early and leaves the batch). */
    static final String[] PROMPTS = {"Once upon a time", "Tom and Lily were playing", "Sam had a red ball",
            "A big bird", "The little dog", "One day, a girl", "The sun was", "In the park"};

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 3;
        int streams = args.length > 1 ? Integer.parseInt(args[1]) : 4;
        int tokens = args.length > 2 ? Integer.parseInt(args[2]) : 200;
        boolean direct = args.length > 3 && args[3].equals("engine");
        try (ServerFixture s = new ServerFixture(Math.max(streams, 1), 64, null, null)) {
            java.util.function.IntToDoubleFunction go = n -> {
                try {
                    return direct ? runEngine(s, n, tokens) : run(s, n, tokens);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            };
            go.applyAsDouble(1);
            go.applyAsDouble(streams); // warm-up of both paths
            List<Double> ratios = new ArrayList<>();
            for (int r = 0; r < rounds; r++) {
                double one = go.applyAsDouble(1);
                double many = go.applyAsDouble(streams);
                ratios.add(many / one);
                System.out.printf("round %d: 1 stream %.1f tokens/s, %d streams %.1f tokens/s in total: %.2fx%n", r + 1,
                        one, streams, many, many / one);
            }
            ratios.sort(Double::compare);
            System.out.printf("median ratio %.2fx over %d rounds%n", ratios.get(ratios.size() / 2), rounds);
        }
    }

    /** As {@link #run}, submitting to the engine directly: the decode loop without HTTP and JSON. */
    static double runEngine(ServerFixture s, int n, int tokens) throws Exception {
        dev.earlyexit.tokenizer.Tokenizer tok = ServerFixture.model().requireTokenizer();
        List<Job> jobs = new ArrayList<>();
        long t0 = System.nanoTime();
        for (int i = 0; i < n; i++) {
            Job j = new Job(GenerationRequest.encodeWithBos(tok, PROMPTS[i % PROMPTS.length]), tokens,
                    dev.earlyexit.decoding.SamplingOptions.GREEDY, -1, new ExitSpec(ExitSpec.Mode.FULL, 0.9, 4));
            if (!s.engine.submit(j)) {
                throw new IllegalStateException("queue full");
            }
            jobs.add(j);
        }
        long total = 0;
        for (Job j : jobs) {
            for (Job.Event e; !((e = j.next(60, java.util.concurrent.TimeUnit.SECONDS)) instanceof Job.Done); ) {
                if (e instanceof Job.Token) {
                    total++;
                } else if (e == null || e instanceof Job.Failed) {
                    throw new IllegalStateException(String.valueOf(e));
                }
            }
        }
        return total / ((System.nanoTime() - t0) / 1e9);
    }

    /** Total completion tokens per second of n concurrent greedy streams. */
    static double run(ServerFixture s, int n, int tokens) throws Exception {
        List<CompletableFuture<HttpResponse<String>>> fs = new ArrayList<>();
        long t0 = System.nanoTime();
        for (int i = 0; i < n; i++) {
            String body = "{\"prompt\":\"" + PROMPTS[i % PROMPTS.length] + "\",\"max_tokens\":" + tokens
                    + ",\"temperature\":0,\"stream\":true,\"stream_options\":{\"include_usage\":true}}";
            fs.add(s.http.sendAsync(HttpRequest.newBuilder(URI.create(s.base() + "/v1/completions"))
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString()));
        }
        long total = 0;
        for (CompletableFuture<HttpResponse<String>> f : fs) {
            String body = f.get().body();
            int at = body.lastIndexOf("\"completion_tokens\":");
            total += Long.parseLong(body.substring(at + 20, body.indexOf(',', at)));
        }
        return total / ((System.nanoTime() - t0) / 1e9);
    }
}
