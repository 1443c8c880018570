package dev.earlyexit.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.earlyexit.testutil.TestModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** The demo end to end on a private copy of stories15M, with quickly trained heads placed beside it. */
class DemoCommandTest {
    @TempDir
    Path dir;

    @Test
    void demoCalibratesOnceGeneratesThreeWaysAndWritesAReport() throws Exception {
        Path model = TestModels.stories15M();
        Path copy = Files.copy(model, dir.resolve("model.bin"));
        Files.copy(model.resolveSibling("tokenizer.bin"), dir.resolve("tokenizer.bin"));
        CliTest.Result train = CliTest.run("", "train-heads", "--model", copy.toString(), "--kind", "subset",
                "--samples", "1", "--held-out-samples", "1", "--max-new-tokens", "40", "--steps", "20", "--no-progress",
                "--threads", "2");
        assertThat(train.code()).as(train.err()).isZero();

        Path report = dir.resolve("report");
        CliTest.Result first = CliTest.run("", "demo", "--model", copy.toString(), "--max-tokens", "40", "--epsilon", "0.5",
                "--threads", "2", "--out", report.toString());
        assertThat(first.code()).as(first.err()).isZero();
        assertThat(first.out()).contains("== calibrating").contains("== full model").contains("== early exit")
                .contains("== summary").contains("| early-exit |").contains("report: ")
                .doesNotContain("AUROC"); // calibration detail stays in the report folder
        assertThat(Files.readString(report.resolve("calibrate.log"))).contains("held-out check").contains("AUROC");
        JsonNode results = new ObjectMapper().readTree(report.resolve("results.json").toFile());
        assertThat(results.get("modes")).hasSizeGreaterThanOrEqualTo(2);
        assertThat(results.get("modes").get(0).get("mode").asText()).isEqualTo("full");
        assertThat(results.get("modes").get(1).get("exit_layers")).hasSize(40);
        assertThat(Files.readString(report.resolve("report.md"))).contains("| full |").contains("| early-exit |");

        // Second run: heads and calibration are reused.
        CliTest.Result second = CliTest.run("", "demo", "--model", copy.toString(), "--max-tokens", "20", "--epsilon",
                "0.5", "--threads", "2", "--out", dir.resolve("again").toString());
        assertThat(second.code()).as(second.err()).isZero();
        assertThat(second.out()).contains("== calibration: ").doesNotContain("== calibrating").doesNotContain("== training");
    }
}
