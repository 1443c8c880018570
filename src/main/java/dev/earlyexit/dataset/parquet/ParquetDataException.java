package dev.earlyexit.dataset.parquet;

/**
 * Thrown by the decoders, which do not know the file or column they work on; {@link ParquetReader}
 * adds both and turns it into a {@link ParquetFormatException}.
 */
final class ParquetDataException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    ParquetDataException(String message) {
        super(message);
    }

    ParquetDataException(String message, Throwable cause) {
        super(message, cause);
    }
}
