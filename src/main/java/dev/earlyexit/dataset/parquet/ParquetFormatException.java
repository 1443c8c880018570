package dev.earlyexit.dataset.parquet;

import java.io.IOException;
import java.nio.file.Path;

/** A Parquet file that is malformed or uses a feature this reader does not support; the message starts with the file. */
public final class ParquetFormatException extends IOException {
    private static final long serialVersionUID = 1L;

    public ParquetFormatException(Path file, String detail) {
        super(file + ": " + detail);
    }

    public ParquetFormatException(Path file, String detail, Throwable cause) {
        super(file + ": " + detail, cause);
    }
}
