package dev.earlyexit.calibration;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.earlyexit.format.ModelFormatException;
import dev.earlyexit.testutil.FuzzFiles;
import java.io.IOException;

/** Hostile calibration files (issue 17): a file loads or fails with a {@link ModelFormatException}. */
class CalibrationFuzzTest {

    @FuzzTest(maxDuration = "10m")
    void calibration(byte[] data) throws IOException {
        try {
            Calibration.load(FuzzFiles.write("cal/calibration.json", data));
        } catch (ModelFormatException expected) {
            // the one allowed failure
        }
    }
}
