package dev.earlyexit.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.earlyexit.testutil.TestModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** The command-line contract, run in-process: output shape, exit codes, one-line errors. */
class CliTest {
    @TempDir
    Path dir;

    record Result(int code, String out, String err) {
        JsonNode json() throws Exception {
            return new ObjectMapper().readTree(out);
        }
    }

    static synchronized Result run(String stdin, String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        InputStream oldIn = System.in;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            System.setIn(new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)));
            int code = Main.run(args);
            return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
            System.setIn(oldIn);
        }
    }

    private static String model() {
        return TestModels.stories15M().toString();
    }

    @Test
    void generateJsonMatchesTheReferenceGreedyTokens() throws Exception {
        Result r = run("", "generate", "--model", model(), "--prompt", "Once upon a time", "--max-tokens", "20",
                "--threads", "2", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode j = r.json();
        assertThat(j.get("prompt_ids").toString()).isEqualTo("[1,9038,2501,263,931]");
        // The first 20 greedy tokens of the C reference for this prompt.
        JsonNode ref = new ObjectMapper().readTree(Files.readAllLines(
                TestModels.resource("reference/stories15M/greedy.jsonl")).get(0)).get("tokens");
        for (int i = 0; i < 20; i++) {
            assertThat(j.get("ids").get(i).asInt()).isEqualTo(ref.get(5 + i).asInt());
        }
        assertThat(j.get("text").asText()).startsWith(", there was a little girl named Lily.");
        assertThat(j.get("prefill_ms").asDouble()).isPositive();
        assertThat(j.get("tokens_per_s").asDouble()).isPositive();
    }

    @Test
    void generateStreamsTextAndAcceptsPromptIds() {
        Result r = run("", "generate", "--model", model(), "--prompt", "Tom and Lily", "--max-tokens", "8");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).startsWith("Tom and Lily");
        assertThat(r.out().length()).isGreaterThan("Tom and Lily".length() + 5);
        assertThat(r.err()).contains("tokens/s");

        Result ids = run("", "generate", "--model", model(), "--prompt-ids", "1,9038,2501,263,931", "--max-tokens", "3",
                "--json");
        assertThat(ids.code()).as(ids.err()).isZero();
        assertThat(ids.out()).contains("\"ids\":[29892,727,471]");
    }

    @Test
    void samplingIsDeterministicForASeed() throws Exception {
        String[] args = {"generate", "--model", model(), "--prompt", "One day", "--max-tokens", "30", "--temperature",
                "0.9", "--top-p", "0.9", "--seed", "7", "--json"};
        Result a = run("", args);
        Result b = run("", args);
        assertThat(a.code()).as(a.err()).isZero();
        assertThat(a.json().get("ids")).isEqualTo(b.json().get("ids"));
    }

    @Test
    void tokenizePrintsIdsWithoutBos() throws Exception {
        Result r = run("Once upon a time", "tokenize", "--model", model(), "--json");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.json().get("ids").toString()).isEqualTo("[9038,2501,263,931]");
        Result lines = run("\"Hello\"\n\"\"\n", "tokenize", "--tokenizer",
                TestModels.resource("reference/tokenizer/tokenizer.bin").toString(), "--jsonl");
        assertThat(lines.code()).as(lines.err()).isZero();
        assertThat(lines.out().strip().split("\n")).containsExactly("{\"ids\":[15043]}", "{\"ids\":[]}");
    }

    @Test
    void badInputGivesOneClearLineAndANonZeroExit() throws Exception {
        Result missing = run("", "generate", "--model", dir.resolve("nope.bin").toString(), "--prompt", "x");
        assertThat(missing.code()).isEqualTo(1);
        assertThat(missing.err()).startsWith("earlyexit: error: model not found").doesNotContain("Exception");

        Path corrupt = dir.resolve("corrupt.bin");
        Files.write(corrupt, new byte[100]);
        Result bad = run("", "generate", "--model", corrupt.toString(), "--prompt", "x");
        assertThat(bad.code()).isEqualTo(1);
        assertThat(bad.err()).contains("not a llama2.c checkpoint").doesNotContain("\tat ");

        Result verbose = run("", "generate", "--model", corrupt.toString(), "--prompt", "x", "--verbose");
        assertThat(verbose.err()).contains("\tat ");

        Result temp = run("", "generate", "--model", model(), "--prompt", "x", "--temperature", "-1");
        assertThat(temp.code()).isEqualTo(1);
        assertThat(temp.err()).contains("temperature must be");

        Result topP = run("", "generate", "--model", model(), "--prompt", "x", "--top-p", "0");
        assertThat(topP.err()).contains("top-p must be in (0, 1]");

        Result dtype = run("", "generate", "--model", model(), "--prompt", "x", "--dtype", "f8");
        assertThat(dtype.code()).isEqualTo(2);
        assertThat(dtype.err()).contains("unknown dtype 'f8'");

        Result tooLong = run("", "generate", "--model", model(), "--prompt", "word ".repeat(300));
        assertThat(tooLong.code()).isEqualTo(1);
        assertThat(tooLong.err()).contains("the prompt has").contains("context is 256");

        Result both = run("", "generate", "--model", model());
        assertThat(both.err()).contains("exactly one of --prompt or --prompt-ids");

        Result badId = run("", "generate", "--model", model(), "--prompt-ids", "1,99999");
        assertThat(badId.err()).contains("outside the vocabulary");

        Result usage = run("", "generate", "--no-such-option");
        assertThat(usage.code()).isEqualTo(2);
    }

    @Test
    void convertWritesAnHfDirectoryThatGeneratesTheSameTokens() throws Exception {
        Path out = dir.resolve("hf");
        Result c = run("", "convert", "--model", model(), "--out", out.toString());
        assertThat(c.code()).as(c.err()).isZero();
        assertThat(out.resolve("config.json")).exists();
        assertThat(out.resolve("model.safetensors")).exists();
        assertThat(out.resolve("tokenizer.json")).exists();
        Result a = run("", "generate", "--model", model(), "--prompt", "The little bird", "--max-tokens", "30", "--json");
        Result b = run("", "generate", "--model", out.toString(), "--prompt", "The little bird", "--max-tokens", "30", "--json");
        assertThat(b.code()).as(b.err()).isZero();
        assertThat(b.json().get("prompt_ids")).isEqualTo(a.json().get("prompt_ids"));
        assertThat(b.json().get("ids")).isEqualTo(a.json().get("ids"));
        assertThat(b.json().get("text")).isEqualTo(a.json().get("text"));

        Result again = run("", "convert", "--model", model(), "--out", out.toString());
        assertThat(again.code()).isEqualTo(1);
        assertThat(again.err()).contains("not empty");
    }

    @Test
    void everyArchitectureGeneratesItsReferenceGreedyIdsFromPromptIds() throws Exception {
        for (String arch : new String[] {"gpt2", "gpt_neox", "llama_gqa", "phi", "qwen2"}) {
            Path dir = TestModels.resource("reference/arch/" + arch);
            JsonNode ref = new ObjectMapper().readTree(dir.resolve("reference.json").toFile());
            StringBuilder prompt = new StringBuilder();
            for (JsonNode id : ref.get("greedy_prompt")) {
                prompt.append(prompt.length() == 0 ? "" : ",").append(id.asInt());
            }
            Result r = run("", "generate", "--model", dir.toString(), "--prompt-ids", prompt.toString(), "--max-tokens",
                    "16", "--json");
            assertThat(r.code()).as(arch + ": " + r.err()).isZero();
            JsonNode j = r.json();
            assertThat(j.get("prompt_ids").toString()).as(arch).isEqualTo(ref.get("greedy_prompt").toString());
            assertThat(j.get("ids").toString()).as(arch).isEqualTo(ref.get("greedy_ids").toString());
            assertThat(j.has("text")).as("%s has no tokenizer, so no text", arch).isFalse();
        }
        Result noTokenizer = run("", "generate", "--model", TestModels.resource("reference/arch/gpt2").toString(),
                "--prompt", "hello");
        assertThat(noTokenizer.code()).isEqualTo(1);
        assertThat(noTokenizer.err()).contains("has no tokenizer").contains("--prompt-ids");
    }

    @Test
    void unsupportedArchitectureIsNamed() throws Exception {
        Path hf = Files.createDirectories(dir.resolve("bert"));
        Files.writeString(hf.resolve("config.json"), "{\"architectures\": [\"BertForMaskedLM\"], \"hidden_size\": 8}");
        Result r = run("", "generate", "--model", hf.toString(), "--prompt-ids", "1,2");
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("BertForMaskedLM").contains("LlamaForCausalLM");
    }

    @Test
    void benchReportsSpeedAndMemory() throws Exception {
        Result r = run("", "bench", "--model", model(), "--threads", "2", "--tokens", "16", "--runs", "1", "--warmup", "0",
                "--dtype", "q8", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode j = r.json();
        assertThat(j.get("tokens_per_s").asDouble()).isPositive();
        assertThat(j.get("peak_rss_mb").asLong()).isPositive();
        assertThat(j.get("f32_token_agreement").asDouble()).isBetween(0.5, 1.0);
        // block scaling: one forward per block size at position 16, and a decode step at half the 256-position context
        JsonNode blocks = j.get("block_scaling").get(0);
        assertThat(blocks.get("threads").asInt()).isEqualTo(2);
        for (int T : new int[] {1, 2, 4, 8, 16}) {
            assertThat(blocks.get("t" + T + "_ms").asDouble()).as("T=%d", T).isPositive();
        }
        assertThat(blocks.get("t8_vs_t1").asDouble())
                .isCloseTo(blocks.get("t8_ms").asDouble() / blocks.get("t1_ms").asDouble(), org.assertj.core.data.Offset.offset(0.05));
        assertThat(blocks.get("deep_position").asInt()).isEqualTo(128);
        assertThat(blocks.get("deep_speed_ratio").asDouble())
                .isCloseTo(blocks.get("t1_ms").asDouble() / blocks.get("deep_ms").asDouble(), org.assertj.core.data.Offset.offset(0.05));
    }
}
