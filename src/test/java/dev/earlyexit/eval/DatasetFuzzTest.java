package dev.earlyexit.eval;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.earlyexit.testutil.FuzzFiles;
import java.io.IOException;
import java.nio.file.Path;

/**
 * Hostile benchmark data (issue 17): a file reads or fails with a {@link DatasetException} (or, for Parquet,
 * the reader's ParquetFormatException, an IOException naming the file).
 */
class DatasetFuzzTest {

    private static void read(String name, Task task, byte[] data) throws IOException {
        Path f = FuzzFiles.write("data/" + name, data);
        try {
            DatasetReader.read(f, task, 0);
        } catch (DatasetException expected) {
            // the one allowed failure
        } catch (IOException e) {
            if (e.getMessage() == null || !e.getMessage().contains(f.toString())) {
                throw e;
            }
        }
    }

    @FuzzTest(maxDuration = "10m")
    void jsonl(byte[] data) throws IOException {
        read("hellaswag.jsonl", Task.HELLASWAG, data);
    }

    @FuzzTest(maxDuration = "10m")
    void csv(byte[] data) throws IOException {
        read("mmlu_cais.csv", Task.ARC, data);
    }

    @FuzzTest(maxDuration = "10m")
    void mmluCsv(byte[] data) throws IOException {
        read("high_school_biology_test.csv", Task.MMLU, data);
    }

    @FuzzTest(maxDuration = "10m")
    void parquet(byte[] data) throws IOException {
        read("arc.parquet", Task.ARC, data);
    }

    @FuzzTest(maxDuration = "10m")
    void labels(byte[] data) throws IOException {
        try {
            LabelsFile.read(FuzzFiles.write("data/piqa-labels.lst", data));
        } catch (DatasetException expected) {
            // the one allowed failure
        }
    }
}
