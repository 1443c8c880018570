package dev.earlyexit.dataset.parquet;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Placeholder until the real Parquet reader lands (same API, developed on another branch): every call
 * fails with a clear message, so eval's .parquet path compiles and reports what is missing.
 */
public final class ParquetReader {
    private ParquetReader() {
    }

    /**
     * Every row of a Parquet file as column name to value: String, byte[], Long (all integers), Double,
     * Boolean, null, List&lt;Object&gt; (LIST) or LinkedHashMap&lt;String, Object&gt; (struct).
     */
    public static List<Map<String, Object>> readRows(Path file) throws IOException {
        throw new IOException(file + ": Parquet support is not built yet");
    }
}
