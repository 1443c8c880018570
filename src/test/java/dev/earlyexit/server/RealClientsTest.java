package dev.earlyexit.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionCreateParams;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.openai.OpenAiChatModel;
import dev.langchain4j.model.openai.OpenAiLanguageModel;
import dev.langchain4j.model.openai.OpenAiStreamingChatModel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Real OpenAI clients against the running server on loopback: the OpenAI Java SDK, LangChain4j's
 * OpenAI module and the official `openai` npm package (Node). Greedy text must equal generate's.
 */
class RealClientsTest {
    static final String PROMPT = "Once upon a time";
    static final int MAX = 24;
    static ServerFixture s;
    static ServerFixture.Reference ref;

    @BeforeAll
    static void start() throws Exception {
        s = new ServerFixture(4, 8, null, null);
        ref = ServerFixture.reference(PROMPT, MAX);
    }

    @AfterAll
    static void stop() throws Exception {
        if (s != null) {
            s.close();
        }
    }

    @Test
    void openAiJavaSdk() {
        OpenAIClient client = OpenAIOkHttpClient.builder().baseUrl(s.base() + "/v1").apiKey("unused").maxRetries(0)
                .build();
        try {
            CompletionCreateParams cp = CompletionCreateParams.builder().model("stories15M").prompt(PROMPT)
                    .maxTokens(MAX).temperature(0.0).build();
            Completion c = client.completions().create(cp);
            assertThat(c.choices().get(0).text()).isEqualTo(ref.text());
            assertThat(c.choices().get(0).finishReason().asString()).isEqualTo("length");
            assertThat(c.usage().orElseThrow().completionTokens()).isEqualTo(MAX);

            StringBuilder streamed = new StringBuilder();
            try (StreamResponse<Completion> st = client.completions().createStreaming(cp)) {
                st.stream().forEach(chunk -> chunk.choices().forEach(ch -> streamed.append(ch.text())));
            }
            assertThat(streamed.toString()).isEqualTo(ref.text());

            ChatCompletionCreateParams chat = ChatCompletionCreateParams.builder().model("stories15M")
                    .addUserMessage(PROMPT).maxCompletionTokens(MAX).temperature(0.0).build();
            ChatCompletion cc = client.chat().completions().create(chat);
            assertThat(cc.choices().get(0).message().content().orElse("")).isEqualTo(ref.text());

            StringBuilder chatStreamed = new StringBuilder();
            try (StreamResponse<ChatCompletionChunk> st = client.chat().completions().createStreaming(chat)) {
                st.stream().forEach(chunk -> chunk.choices()
                        .forEach(ch -> chatStreamed.append(ch.delta().content().orElse(""))));
            }
            assertThat(chatStreamed.toString()).isEqualTo(ref.text());
        } finally {
            client.close();
        }
    }

    @Test
    void langChain4j() throws Exception {
        OpenAiChatModel chat = OpenAiChatModel.builder().baseUrl(s.base() + "/v1").apiKey("unused")
                .modelName("stories15M").temperature(0.0).maxTokens(MAX).timeout(Duration.ofSeconds(60)).build();
        assertThat(chat.chat(PROMPT)).isEqualTo(ref.text());

        OpenAiLanguageModel language = OpenAiLanguageModel.builder().baseUrl(s.base() + "/v1").apiKey("unused")
                .modelName("stories15M").temperature(0.0).timeout(Duration.ofSeconds(60)).build();
        // The language model sends no max_tokens: the completions default (16 tokens) applies.
        assertThat(language.generate(PROMPT).content()).isEqualTo(ServerFixture.reference(PROMPT, 16).text());

        OpenAiStreamingChatModel streaming = OpenAiStreamingChatModel.builder().baseUrl(s.base() + "/v1")
                .apiKey("unused").modelName("stories15M").temperature(0.0).maxTokens(MAX)
                .timeout(Duration.ofSeconds(60)).build();
        StringBuilder partial = new StringBuilder();
        CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        streaming.chat(PROMPT, new StreamingChatResponseHandler() {
            @Override
            public void onPartialResponse(String text) {
                partial.append(text);
            }

            @Override
            public void onCompleteResponse(ChatResponse response) {
                done.complete(response);
            }

            @Override
            public void onError(Throwable error) {
                done.completeExceptionally(error);
            }
        });
        ChatResponse response = done.get(60, TimeUnit.SECONDS);
        assertThat(partial.toString()).isEqualTo(ref.text());
        assertThat(response.aiMessage().text()).isEqualTo(ref.text());
        assertThat(response.tokenUsage().outputTokenCount()).isEqualTo(MAX);
    }

    @Test
    void officialNodePackage() throws Exception {
        Assumptions.assumeTrue(works("node", "--version") && works("npm", "--version"),
                "skipped: needs node and npm on the PATH for the official openai npm package");
        Path dir = Path.of("target", "node-openai").toAbsolutePath();
        if (!Files.isDirectory(dir.resolve("node_modules/openai"))) {
            Files.createDirectories(dir);
            Process p = new ProcessBuilder("npm", "install", "--no-save", "--no-audit", "--no-fund", "--prefix",
                    dir.toString(), "openai@5.12.0").redirectErrorStream(true).start();
            String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            Assumptions.assumeTrue(p.waitFor(180, TimeUnit.SECONDS) && p.exitValue() == 0,
                    "skipped: npm could not install openai@5.12.0: " + log);
        }
        Path script = dir.resolve("openai-client.mjs");
        Files.copy(Path.of("src/test/resources/server/openai-client.mjs"), script,
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Process p = new ProcessBuilder("node", script.toString(), s.base(), "stories15M", PROMPT, String.valueOf(MAX))
                .directory(dir.toFile()).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
        JsonNode j = ServerFixture.JSON.readTree(out);
        assertThat(j.get("completion").asText()).isEqualTo(ref.text());
        assertThat(j.get("completionFinish").asText()).isEqualTo("length");
        assertThat(j.at("/completionUsage/completion_tokens").asInt()).isEqualTo(MAX);
        assertThat(j.get("completionStream").asText()).isEqualTo(ref.text());
        assertThat(j.get("chat").asText()).isEqualTo(ref.text());
        assertThat(j.get("chatStream").asText()).isEqualTo(ref.text());
        assertThat(j.at("/chatStreamUsage/total_tokens").asInt()).isEqualTo(5 + MAX);
        assertThat(j.at("/n2/status").asInt()).isEqualTo(400);
        assertThat(j.at("/n2/message").asText()).contains("n (only 1)");
    }

    private static boolean works(String... command) {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(20, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (Exception e) {
            return false;
        }
    }
}
