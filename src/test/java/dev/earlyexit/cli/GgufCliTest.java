package dev.earlyexit.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.earlyexit.format.GgufFileTest;
import dev.earlyexit.tensor.GgmlType;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;

/** The CLI on GGUF files: score by ids with --top, generate, and one clear line for a bad file. */
class GgufCliTest {
    @TempDir
    Path dir;

    static Path f16() {
        Path p = Paths.get("..", "shared", "reference", "gguf", "stories15M-f16.gguf");
        Assumptions.assumeTrue(Files.isRegularFile(p), "skipped: needs " + p);
        return p;
    }

    @Test
    void scoreIdsTopJsonGivesTheReferenceGreedyTokens() throws Exception {
        CliTest.Result r = CliTest.run("", "score", "--model", f16().toString(), "--ids", "1,9038,2501,263,931",
                "--top", "3", "--json", "--threads", "2");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode top = r.json().get("top");
        assertThat(top).hasSize(5);
        assertThat(top.get(4).get(0).get(0).asInt()).isEqualTo(29892); // "," after "Once upon a time"
        assertThat(top.get(4).get(0).get(1).asDouble()).isBetween(0.0, 1.0);
        assertThat(top.get(4).get(0).get(1).asDouble()).isGreaterThanOrEqualTo(top.get(4).get(1).get(1).asDouble());
    }

    @Test
    void scoreIdsFileOneLinePerSequence() throws Exception {
        Path ids = dir.resolve("ids.jsonl");
        Files.writeString(ids, "[1, 9038, 2501]\n\n[1, 365, 2354]\n");
        CliTest.Result r = CliTest.run("", "score", "--model", f16().toString(), "--ids-file", ids.toString(),
                "--top", "2", "--json", "--threads", "2");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out().strip().split("\n")).hasSize(2);
    }

    @Test
    void benchOnGgufNamesTheFilesTypesNotTheDtypeDefault() throws Exception {
        CliTest.Result r = CliTest.run("", "bench", "--model", f16().toString(), "--threads", "1", "--tokens", "4",
                "--runs", "1", "--warmup", "0", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.json().get("dtype").asText()).isEqualTo("gguf");
    }

    @Test
    void generateOnGgufEqualsTheReference() {
        CliTest.Result r = CliTest.run("", "generate", "--model", f16().toString(), "--prompt", "Once upon a time",
                "--max-tokens", "8", "--threads", "2", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("[29892,727,471,263,2217,7826,4257,365]");
        assertThat(r.err()).contains("stories15M-f16.gguf: tensors without a kernel of their own type load as: f16 as f32");
    }

    @Test
    void dtypeOnAGgufSaysItDoesNotApply() {
        CliTest.Result r = CliTest.run("", "generate", "--model", f16().toString(), "--prompt", "Once upon a time",
                "--max-tokens", "2", "--threads", "1", "--dtype", "q8", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).contains("--dtype q8 does not apply to a GGUF file; each tensor keeps its own type");
    }

    @Test
    void aTruncatedGgufIsOneLineAndExitsNonZero() throws Exception {
        Path ok = dir.resolve("ok.gguf");
        GgufFileTest.tinyLlama(GgmlType.F32).write(ok);
        byte[] b = Files.readAllBytes(ok);
        Path cut = dir.resolve("cut.gguf");
        Files.write(cut, Arrays.copyOf(b, b.length - 100));
        CliTest.Result r = CliTest.run("", "score", "--model", cut.toString(), "--ids", "1,2,3", "--top", "1");
        assertThat(r.code()).isNotZero();
        assertThat(r.err()).contains("truncated GGUF").doesNotContain("\tat ");
        assertThat(r.err().strip().split("\n")).hasSize(1);
    }

    /**
     * convert writes a tokenizer-less Hugging Face checkpoint of each architecture as GGUF (saying it adds
     * a synthetic vocabulary), and generate on that file gives the reference's greedy ids up to EOS.
     */
    @Test
    void convertWritesEveryArchitectureAsGgufThatGeneratesTheReferenceIds() throws Exception {
        for (String arch : new String[]{"gpt2", "gpt_neox", "llama31", "phi", "phi3", "qwen3"}) {
            Path hf = dev.earlyexit.testutil.TestModels.resource("reference/arch/" + arch);
            Path out = dir.resolve(arch + ".gguf");
            CliTest.Result c = CliTest.run("", "convert", "--model", hf.toString(), "--out", out.toString(), "--type", "f32");
            assertThat(c.code()).as(arch + ": " + c.err()).isZero();
            assertThat(c.err()).contains("synthetic byte-level vocabulary of 384 tokens").contains("f32)");
            JsonNode ref = new com.fasterxml.jackson.databind.ObjectMapper().readTree(hf.resolve("reference.json").toFile());
            StringBuilder prompt = new StringBuilder();
            for (JsonNode id : ref.get("greedy_prompt")) {
                prompt.append(prompt.length() == 0 ? "" : ",").append(id.asInt());
            }
            CliTest.Result r = CliTest.run("", "generate", "--model", out.toString(), "--prompt-ids", prompt.toString(),
                    "--max-tokens", "16", "--json", "--threads", "2");
            assertThat(r.code()).as(arch + ": " + r.err()).isZero();
            // generation stops before EOS (the HF directory run has no tokenizer; the file's vocabulary names EOS)
            int eos = new com.fasterxml.jackson.databind.ObjectMapper().readTree(hf.resolve("config.json").toFile())
                    .get("eos_token_id").asInt();
            StringBuilder expected = new StringBuilder();
            for (JsonNode id : ref.get("greedy_ids")) {
                if (id.asInt() == eos) {
                    break;
                }
                expected.append(expected.length() == 0 ? "" : ",").append(id.asInt());
            }
            assertThat(r.json().get("ids").toString()).as(arch).isEqualTo("[" + expected + "]");
        }
    }
}
