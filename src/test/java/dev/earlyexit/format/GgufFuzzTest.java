package dev.earlyexit.format;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.earlyexit.testutil.FuzzFiles;
import java.io.IOException;

/** Hostile GGUF files (issue 17): the header, metadata and tensor table read or fail with a ModelFormatException. */
class GgufFuzzTest {

    @FuzzTest(maxDuration = "10m")
    void gguf(byte[] data) throws IOException {
        try {
            GgufFile f = GgufFile.open(FuzzFiles.write("gguf/model.gguf", data));
            try {
                f.metadata().size();
                f.tensors().values().forEach(GgufFile.TensorInfo::elements);
            } finally {
                f.close();
            }
        } catch (ModelFormatException expected) {
            // the one allowed failure
        }
    }
}
