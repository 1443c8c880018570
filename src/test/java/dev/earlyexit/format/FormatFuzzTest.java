package dev.earlyexit.format;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.RopeScaling;
import dev.earlyexit.tensor.DType;
import dev.earlyexit.testutil.FuzzFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Hostile model files (issue 17): every input either reads or fails with a {@link ModelFormatException}.
 * Plain {@code mvn test} replays the seeds and saved findings under FormatFuzzTestInputs; scripts/fuzz.sh fuzzes.
 */
class FormatFuzzTest {

    @FuzzTest(maxDuration = "10m")
    void safetensors(byte[] data) throws IOException {
        Path f = FuzzFiles.write("st/model.safetensors", data);
        try (Safetensors st = Safetensors.open(f)) {
            for (String name : st.names()) {
                Safetensors.TensorInfo info = st.info(name);
                if (info.elements() <= 4096) {
                    st.read(name);
                }
            }
        } catch (ModelFormatException expected) {
            // the one allowed failure
        }
    }

    /** The index JSON is fuzzed; the shard it should name is a fixed valid file. */
    @FuzzTest(maxDuration = "10m")
    void safetensorsIndex(byte[] data) throws IOException {
        Path dir = FuzzFiles.dir().resolve("idx");
        Files.createDirectories(dir);
        Path shard = dir.resolve("model-00001-of-00001.safetensors");
        if (!Files.exists(shard)) {
            try (var in = FormatFuzzTest.class.getResourceAsStream("FormatFuzzTestInputs/safetensors/tiny.safetensors")) {
                Files.write(shard, in.readAllBytes());
            }
        }
        Path index = FuzzFiles.write("idx/" + Safetensors.INDEX_FILE, data);
        try (Safetensors st = Safetensors.open(index)) {
            for (String name : st.names()) {
                st.info(name);
            }
        } catch (ModelFormatException expected) {
            // the one allowed failure
        }
    }

    @FuzzTest(maxDuration = "10m")
    void llama2c(byte[] data) throws IOException {
        Path f = FuzzFiles.write("l2c/model.bin", data);
        try {
            Llama2cCheckpoint.load(f, DType.F32);
        } catch (ModelFormatException expected) {
            // the one allowed failure
        }
    }

    @FuzzTest(maxDuration = "10m")
    void hfConfig(byte[] data) throws IOException {
        FuzzFiles.write("hf/" + HfCheckpoint.CONFIG_FILE, data);
        try {
            HfCheckpoint.config(FuzzFiles.dir().resolve("hf"));
        } catch (ModelFormatException expected) {
            // the one allowed failure
        }
    }

    /** tokenizer_config.json: BOS/EOS by content through added_tokens_decoder, applied to a config. */
    @FuzzTest(maxDuration = "10m")
    void tokenizerConfig(byte[] data) throws IOException {
        FuzzFiles.write("tc/" + HfCheckpoint.TOKENIZER_CONFIG_FILE, data);
        try {
            SpecialTokens.read(FuzzFiles.dir().resolve("tc")).apply(TOKENIZER_CONFIG_TARGET);
        } catch (ModelFormatException expected) {
            // the one allowed failure
        }
    }

    private static final ModelConfig TOKENIZER_CONFIG_TARGET = new ModelConfig("tiny", 32, 64, 1, 2, 1, 16, 300, 64,
            ModelConfig.NormKind.RMS, 1e-5f, 10000f, 16, ModelConfig.RopeStyle.INTERLEAVED, ModelConfig.MlpKind.SWIGLU,
            ModelConfig.ResidualKind.SEQUENTIAL, false, 1, 2, RopeScaling.NONE, false);
}
