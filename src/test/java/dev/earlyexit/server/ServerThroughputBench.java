package dev.earlyexit.server;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * Benchmark (not a test): total greedy tokens/s of 1 stream against N concurrent streams, per decoding
 * mode, in alternating rounds so a noisy machine hits every configuration alike. Run with
 * {@code scripts/serve-bench.sh [rounds] [streams] [tokens] [modes]}.
 *
 * <p>Arguments: rounds, streams, tokens, target, modes. target is {@code fixture} (an in-process server
 * on stories15M without heads, full model only), {@code engine} (the same engine without HTTP), or the
 * base URL of a running {@code serve} (which brings its own heads and calibration). modes is a comma
 * list of {@code early_exit} modes, each optionally with {@code :epsilon} (e.g. {@code full,early-exit:0.9}).
 */
public final class ServerThroughputBench {
    /** Prompts whose greedy continuations run the full 200 tokens (none stops early and leaves the batch). */
    static final String[] PROMPTS = {"Once upon a time", "Tom and Lily were playing", "Sam had a red ball",
            "A big bird", "The little dog", "One day, a girl", "The sun was", "In the park"};

    @FunctionalInterface
    interface Round {
        double tokensPerSecond(int streams, String mode) throws Exception;
    }

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 3;
        int streams = args.length > 1 ? Integer.parseInt(args[1]) : 4;
        int tokens = args.length > 2 ? Integer.parseInt(args[2]) : 200;
        String target = args.length > 3 ? args[3] : "fixture";
        String[] modes = (args.length > 4 ? args[4] : "full").split(",");
        if (target.startsWith("http")) {
            HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
            measure(rounds, streams, modes, (n, mode) -> run(http, target, n, tokens, mode));
            return;
        }
        try (ServerFixture s = new ServerFixture(Math.max(streams, 1), 64, null, null)) {
            boolean direct = target.equals("engine");
            measure(rounds, streams, modes, (n, mode) -> direct ? runEngine(s, n, tokens, mode)
                    : run(s.http, s.base(), n, tokens, mode));
        }
    }

    private static void measure(int rounds, int streams, String[] modes, Round round) throws Exception {
        for (String mode : modes) { // warm-up of every path
            round.tokensPerSecond(1, mode);
            round.tokensPerSecond(streams, mode);
        }
        Map<String, List<Double>> one = new LinkedHashMap<>();
        Map<String, List<Double>> many = new LinkedHashMap<>();
        for (int r = 0; r < rounds; r++) {
            for (String mode : modes) {
                double a = round.tokensPerSecond(1, mode);
                double b = round.tokensPerSecond(streams, mode);
                one.computeIfAbsent(mode, k -> new ArrayList<>()).add(a);
                many.computeIfAbsent(mode, k -> new ArrayList<>()).add(b);
                System.out.printf("round %d, %s: 1 stream %.1f tokens/s, %d streams %.1f tokens/s in total: %.2fx%n",
                        r + 1, mode, a, streams, b, b / a);
            }
        }
        for (String mode : modes) {
            List<Double> ratio = new ArrayList<>();
            for (int r = 0; r < rounds; r++) {
                ratio.add(many.get(mode).get(r) / one.get(mode).get(r));
            }
            System.out.printf("%s: median 1 stream %.1f, %d streams %.1f tokens/s; median ratio %.2fx over %d rounds%n",
                    mode, median(one.get(mode)), streams, median(many.get(mode)), median(ratio), rounds);
        }
        for (int m = 1; m < modes.length; m++) {
            List<Double> single = new ArrayList<>();
            List<Double> batched = new ArrayList<>();
            for (int r = 0; r < rounds; r++) {
                single.add(one.get(modes[m]).get(r) / one.get(modes[0]).get(r));
                batched.add(many.get(modes[m]).get(r) / many.get(modes[0]).get(r));
            }
            System.out.printf("%s against %s: %.2fx at 1 stream, %.2fx at %d streams (medians of per-round ratios)%n",
                    modes[m], modes[0], median(single), median(batched), streams);
        }
    }

    private static double median(List<Double> v) {
        List<Double> s = new ArrayList<>(v);
        s.sort(Double::compare);
        return s.get(s.size() / 2);
    }

    /** The request's early_exit object for "mode" or "mode:epsilon". */
    static String earlyExit(String mode) {
        int colon = mode.indexOf(':');
        return colon < 0 ? "{\"mode\":\"" + mode + "\"}"
                : "{\"mode\":\"" + mode.substring(0, colon) + "\",\"epsilon\":" + mode.substring(colon + 1) + "}";
    }

    /** As {@link #run}, submitting to the engine directly: the decode loop without HTTP and JSON. */
    static double runEngine(ServerFixture s, int n, int tokens, String mode) throws Exception {
        dev.earlyexit.tokenizer.Tokenizer tok = ServerFixture.model().requireTokenizer();
        int colon = mode.indexOf(':');
        ExitSpec spec = new ExitSpec(ExitSpec.Mode.parse(colon < 0 ? mode : mode.substring(0, colon)),
                colon < 0 ? 0.9 : Double.parseDouble(mode.substring(colon + 1)), 16);
        List<Job> jobs = new ArrayList<>();
        long t0 = System.nanoTime();
        for (int i = 0; i < n; i++) {
            Job j = new Job(GenerationRequest.encodeWithBos(tok, PROMPTS[i % PROMPTS.length]), tokens,
                    dev.earlyexit.decoding.SamplingOptions.GREEDY, -1, spec);
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
    static double run(HttpClient http, String base, int n, int tokens, String mode) throws Exception {
        List<CompletableFuture<HttpResponse<String>>> fs = new ArrayList<>();
        long t0 = System.nanoTime();
        for (int i = 0; i < n; i++) {
            String body = "{\"prompt\":\"" + PROMPTS[i % PROMPTS.length] + "\",\"max_tokens\":" + tokens
                    + ",\"temperature\":0,\"stream\":true,\"stream_options\":{\"include_usage\":true},\"early_exit\":"
                    + earlyExit(mode) + "}";
            fs.add(http.sendAsync(HttpRequest.newBuilder(URI.create(base + "/v1/completions"))
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString()));
        }
        long total = 0;
        for (CompletableFuture<HttpResponse<String>> f : fs) {
            HttpResponse<String> r = f.get();
            String body = r.body();
            int at = body.lastIndexOf("\"completion_tokens\":");
            if (r.statusCode() != 200 || at < 0) {
                throw new IllegalStateException("HTTP " + r.statusCode() + ": " + body);
            }
            total += Long.parseLong(body.substring(at + 20, body.indexOf(',', at)));
        }
        return total / ((System.nanoTime() - t0) / 1e9);
    }
}
