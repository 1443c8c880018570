package dev.earlyexit.exits;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.earlyexit.format.ModelFormatException;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.store.ModelFingerprint;
import dev.earlyexit.testutil.FuzzFiles;
import java.io.IOException;
import java.nio.file.Path;

/** Hostile exit-head files (issue 17), loaded for the tiny model the seeds were saved for. */
class ExitHeadsFuzzTest {
    private static final TinyModel TINY = new TinyModel(ModelConfig.NormKind.RMS, 21);
    private static final String FP = ModelFingerprint.of(TINY.config, TINY.weights);

    @FuzzTest(maxDuration = "10m")
    void exitHeads(byte[] data) throws IOException {
        Path f = FuzzFiles.write("heads/heads.safetensors", data);
        try {
            ExitHeads.load(f, TINY.config, TINY.weights, FP);
        } catch (ModelFormatException expected) {
            // the one allowed failure
        }
    }
}
