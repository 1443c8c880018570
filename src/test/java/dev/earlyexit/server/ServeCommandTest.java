package dev.earlyexit.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.earlyexit.testutil.TestModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code earlyexit serve} as its own process: options (--chat-template, --api-key, --port 0), and
 * SIGTERM: the running stream is finished, then the process exits 0.
 */
class ServeCommandTest {
    @TempDir
    Path dir;

    @Test
    void servesUntilSigtermThenFinishesTheStreamAndExitsZero() throws Exception {
        Path model = TestModels.stories15M();
        Path template = dir.resolve("template.jinja");
        Files.writeString(template, ServerFixture.TEMPLATE);
        String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(List.of(javaBin, "--add-modules", "jdk.incubator.vector", "-XX:+UseSerialGC",
                "-cp", System.getProperty("java.class.path"), "dev.earlyexit.cli.Main", "serve", "--model",
                model.toString(), "--port", "0", "--threads", "1", "--slots", "2", "--chat-template",
                template.toString(), "--api-key", "k3y")).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        try {
            BufferedReader err = new BufferedReader(new InputStreamReader(p.getErrorStream(), StandardCharsets.UTF_8));
            int port = -1;
            StringBuilder log = new StringBuilder();
            for (String line; (line = err.readLine()) != null; ) {
                log.append(line).append('\n');
                Matcher m = Pattern.compile("listening on http://127\\.0\\.0\\.1:(\\d+)").matcher(line);
                if (m.find()) {
                    port = Integer.parseInt(m.group(1));
                }
                if (line.contains("earlyexit: serving")) {
                    break;
                }
            }
            assertThat(port).as(log.toString()).isPositive();
            CompletableFuture.runAsync(() -> {
                try {
                    err.transferTo(java.io.Writer.nullWriter());
                } catch (java.io.IOException ignored) {
                    // the process ended
                }
            });
            String base = "http://127.0.0.1:" + port;
            HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
            HttpResponse<String> health = http.send(HttpRequest.newBuilder(URI.create(base + "/health")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(health.statusCode()).isEqualTo(200);

            String chat = "{\"model\":\"stories15M\",\"messages\":[{\"role\":\"user\",\"content\":\"Once upon a time\"}],"
                    + "\"max_tokens\":20,\"temperature\":0}";
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/chat/completions"))
                    .header("Authorization", "Bearer k3y").POST(HttpRequest.BodyPublishers.ofString(chat)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
            JsonNode j = ServerFixture.json(r);
            assertThat(j.at("/choices/0/message/content").asText())
                    .isEqualTo(ServerFixture.reference("Once upon a time", 20).text());

            String stream = "{\"prompt\":\"Once upon a time\",\"max_tokens\":200,\"temperature\":0,\"stream\":true}";
            HttpResponse<java.io.InputStream> running = http.send(HttpRequest.newBuilder(
                    URI.create(base + "/v1/completions")).header("Authorization", "Bearer k3y")
                    .POST(HttpRequest.BodyPublishers.ofString(stream)).build(), HttpResponse.BodyHandlers.ofInputStream());
            BufferedReader events = new BufferedReader(new InputStreamReader(running.body(), StandardCharsets.UTF_8));
            assertThat(events.readLine()).startsWith("data: ");
            p.destroy(); // SIGTERM
            String rest = new String(running.body().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(rest).contains("\"finish_reason\":\"length\"").endsWith("data: [DONE]\n\n");
            assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).isZero();
        } finally {
            p.destroyForcibly();
        }
    }
}
