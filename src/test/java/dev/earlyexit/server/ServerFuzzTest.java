package dev.earlyexit.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.JsonNode;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.RopeScaling;
import dev.earlyexit.testutil.FuzzFiles;
import dev.earlyexit.tokenizer.SentencePieceBpeTokenizer;
import dev.earlyexit.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/**
 * Hostile requests and chat templates (issue 17). A request body either becomes a {@link GenerationRequest}
 * or is refused with a 4xx {@link ApiException}; a chat template from a model file either renders or fails
 * as an {@link ApiException} (anything else would be a 500, or a hang of the worker).
 */
class ServerFuzzTest {
    private static final Tokenizer TOKENIZER = tokenizer();
    private static final ModelConfig CONFIG = new ModelConfig("tiny", 32, 64, 1, 2, 1, 16, TOKENIZER.vocabSize(), 64,
            ModelConfig.NormKind.RMS, 1e-5f, 10000f, 16, ModelConfig.RopeStyle.INTERLEAVED, ModelConfig.MlpKind.SWIGLU,
            ModelConfig.ResidualKind.SEQUENTIAL, false, 1, 2, RopeScaling.NONE, false);
    private static final ChatTemplate CHATML = new ChatTemplate(ChatTemplateTest.CHATML, "<s>", "</s>");
    private static final ExitSpec DEFAULTS = new ExitSpec(ExitSpec.Mode.FULL, 0.95, 8);
    private static final List<Map<String, Object>> MESSAGES = List.of(
            Map.of("role", "system", "content", "Be brief."), Map.of("role", "user", "content", "Hi <s> there"),
            Map.of("role", "assistant", "content", "Hello."), Map.of("role", "user", "content", "A story?"));

    private static Tokenizer tokenizer() {
        try (InputStream in = ServerFuzzTest.class.getResourceAsStream(
                "/dev/earlyexit/tokenizer/TokenizerFuzzTestInputs/tokenizerBin/tokenizer300.bin")) {
            return SentencePieceBpeTokenizer.load(FuzzFiles.write("server/tokenizer.bin", in.readAllBytes()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @FuzzTest(maxDuration = "10m")
    void completionBody(byte[] data) {
        request(data, false);
    }

    @FuzzTest(maxDuration = "10m")
    void chatBody(byte[] data) {
        request(data, true);
    }

    private static void request(byte[] data, boolean chat) {
        try {
            JsonNode body = OpenAiServer.parseBody(data);
            GenerationRequest.parse(body, chat, "tiny", TOKENIZER, CONFIG, CHATML, DEFAULTS);
        } catch (ApiException e) {
            assertThat(e.status()).isBetween(400, 499);
            assertThat(e.getMessage()).isNotBlank();
        }
    }

    /** The template is the fuzzed part (a model file's tokenizer.chat_template), the messages are fixed. */
    @FuzzTest(maxDuration = "10m")
    void chatTemplate(byte[] data) {
        String source = new String(data, StandardCharsets.UTF_8);
        try {
            new ChatTemplate(source, "<s>", "</s>").render(MESSAGES);
        } catch (ApiException e) {
            assertThat(e.status()).isBetween(400, 499);
        }
    }
}
