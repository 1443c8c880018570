package dev.earlyexit.server;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Scale-out: two server replicas on loopback behind nginx (Debian's package; skipped without it). The
 * load is spread over both, every request gets its complete, correct answer, streams pass through.
 */
class NginxReplicasTest {
    @TempDir
    Path dir;

    @Test
    void twoReplicasBehindNginxShareTheLoadAndLoseNothing() throws Exception {
        Path nginx = Path.of("/usr/sbin/nginx");
        Assumptions.assumeTrue(Files.isExecutable(nginx), "skipped: needs nginx (apt-get install nginx-light)");
        try (ServerFixture a = new ServerFixture(2, 32, null, null);
             ServerFixture b = new ServerFixture(2, 32, null, null, 1 << 20, ServerFixture.freshModel())) {
            int port;
            try (ServerSocket free = new ServerSocket(0)) {
                port = free.getLocalPort();
            }
            dir.toFile().setWritable(true, false);
            dir.toFile().setExecutable(true, false);
            String conf = "worker_processes 1;\npid " + dir.resolve("nginx.pid") + ";\nerror_log "
                    + dir.resolve("error.log") + " warn;\nevents { worker_connections 256; }\nhttp {\n"
                    + "  access_log off;\n  client_body_temp_path " + dir.resolve("body") + ";\n"
                    + "  proxy_temp_path " + dir.resolve("proxy") + ";\n"
                    + "  fastcgi_temp_path " + dir.resolve("fcgi") + ";\n  uwsgi_temp_path " + dir.resolve("uwsgi")
                    + ";\n  scgi_temp_path " + dir.resolve("scgi") + ";\n"
                    + "  upstream earlyexit { server 127.0.0.1:" + a.server.port() + "; server 127.0.0.1:"
                    + b.server.port() + "; }\n"
                    + "  server {\n    listen 127.0.0.1:" + port + ";\n    location / {\n"
                    + "      proxy_pass http://earlyexit;\n      proxy_http_version 1.1;\n"
                    + "      proxy_set_header Connection \"\";\n      proxy_buffering off;\n"
                    + "      proxy_read_timeout 60s;\n    }\n  }\n}\n";
            Path confFile = dir.resolve("nginx.conf");
            Files.writeString(confFile, conf);
            Process p = new ProcessBuilder(nginx.toString(), "-p", dir.toString(), "-c", confFile.toString(), "-g",
                    "daemon off;").redirectErrorStream(true).redirectOutput(dir.resolve("stdout.log").toFile()).start();
            try {
                String base = "http://127.0.0.1:" + port;
                long deadline = System.nanoTime() + 10_000_000_000L;
                boolean up = false;
                while (!up && System.nanoTime() < deadline && p.isAlive()) {
                    try {
                        up = a.http.send(HttpRequest.newBuilder(URI.create(base + "/health")).build(),
                                HttpResponse.BodyHandlers.ofString()).statusCode() == 200;
                    } catch (java.io.IOException notYet) {
                        Thread.sleep(50);
                    }
                }
                assertThat(up).as("nginx came up: " + (Files.exists(dir.resolve("error.log"))
                        ? Files.readString(dir.resolve("error.log")) : "")).isTrue();

                String[] prompts = ServerLoadTest.PROMPTS;
                int[] lengths = ServerLoadTest.LENGTHS;
                String[] expected = new String[4];
                for (int i = 0; i < 4; i++) { // before the load: the engines share these weights
                    expected[i] = ServerFixture.reference(prompts[i], lengths[i]).text();
                }
                List<CompletableFuture<HttpResponse<String>>> fs = new ArrayList<>();
                int n = 16;
                for (int i = 0; i < n; i++) {
                    String body = "{\"prompt\":\"" + prompts[i % 4] + "\",\"max_tokens\":" + lengths[i % 4]
                            + ",\"temperature\":0" + (i % 2 == 1 ? ",\"stream\":true" : "") + "}";
                    fs.add(a.http.sendAsync(HttpRequest.newBuilder(URI.create(base + "/v1/completions"))
                            .POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                            HttpResponse.BodyHandlers.ofString()));
                }
                for (int i = 0; i < n; i++) {
                    HttpResponse<String> r = fs.get(i).get(60, TimeUnit.SECONDS);
                    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
                    String text;
                    if (i % 2 == 1) {
                        StringBuilder sb = new StringBuilder();
                        List<String> ev = OpenAiServerTest.events(r.body());
                        assertThat(ev.get(ev.size() - 1)).isEqualTo("[DONE]");
                        for (String e : ev.subList(0, ev.size() - 1)) {
                            sb.append(ServerFixture.JSON.readTree(e).at("/choices/0/text").asText());
                        }
                        text = sb.toString();
                    } else {
                        JsonNode j = ServerFixture.json(r);
                        text = j.at("/choices/0/text").asText();
                    }
                    assertThat(text).isEqualTo(expected[i % 4]);
                }
                long servedA = a.metrics.promptTokens.sum();
                long servedB = b.metrics.promptTokens.sum();
                assertThat(servedA).as("replica A served some").isPositive();
                assertThat(servedB).as("replica B served some").isPositive();
                System.out.printf("nginx: %d requests, prompt tokens by replica: %d and %d%n", n, servedA, servedB);
            } finally {
                p.destroy();
                p.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }
}
