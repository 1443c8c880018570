package dev.earlyexit.format;

import dev.earlyexit.model.Transformer;
import dev.earlyexit.tensor.DType;
import dev.earlyexit.tensor.GgmlType;
import dev.earlyexit.tensor.ThreadPool;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

import static org.assertj.core.api.Assertions.assertThat;

/** Hugging Face checkpoints of ../shared/reference/arch written as GGUF and read back give their logits. */
class GgufArchExportTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"llama_gqa", "qwen2"})
    void writtenAndReadBackGivesTheSameLogits(String name) throws Exception {
        Path hf = Paths.get("..", "shared", "reference", "arch", name);
        Assumptions.assumeTrue(Files.isDirectory(hf), "skipped: needs " + hf);
        var h = HfCheckpoint.load(hf, DType.F32);
        Path f = dir.resolve(name + ".gguf");
        GgufExport.write(h.config(), h.weights(), null, GgmlType.F32, f);
        var g = GgufCheckpoint.load(f);
        assertThat(g.config().architecture()).isEqualTo(name.equals("qwen2") ? "qwen2" : "llama");
        int[] ids = new int[12];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = (i * 37 + 5) % h.config().vocabSize();
        }
        try (ThreadPool pool = new ThreadPool(2)) {
            float[] a = GgufCheckpointTest.logits(new Transformer(h.config(), h.weights(), pool), ids);
            float[] b = GgufCheckpointTest.logits(new Transformer(g.config(), g.weights(), pool), ids);
            float max = 0;
            for (int i = 0; i < a.length; i++) {
                max = Math.max(max, Math.abs(a[i] - b[i]));
            }
            assertThat(max).as("max |logit diff| for %s", name).isLessThan(1e-4f);
        }
    }
}
