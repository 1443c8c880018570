package dev.earlyexit.dataset.parquet;

import dev.earlyexit.dataset.parquet.ColumnChunkReader.ColumnData;
import dev.earlyexit.dataset.parquet.ParquetMetadata.ColumnChunk;
import dev.earlyexit.dataset.parquet.ParquetMetadata.ColumnMetaData;
import dev.earlyexit.dataset.parquet.ParquetMetadata.FileMetaData;
import dev.earlyexit.dataset.parquet.ParquetMetadata.RowGroup;

import java.io.IOException;
import java.nio.BufferUnderflowException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Reads a whole Apache Parquet file into rows: the format Hugging Face publishes datasets in
 * (pyarrow's defaults and DuckDB's output). Values map to Java as follows: strings (STRING, UTF8,
 * ENUM, JSON) to {@link String}, other binary to {@code byte[]}, INT32 and INT64 to {@link Long},
 * FLOAT and DOUBLE to {@link Double}, BOOLEAN to {@link Boolean}, nulls to {@code null},
 * LIST-annotated groups (3-level, and the legacy 2-level forms) and bare repeated fields to
 * {@code List<Object>}, other groups to {@code LinkedHashMap<String, Object>}. DECIMAL columns
 * become {@link java.math.BigDecimal} (their unscaled integers would be wrong numbers); other
 * annotations such as DATE or TIMESTAMP keep their stored integers. Unsigned integers are read as
 * unsigned, and a UINT64 value beyond {@code Long.MAX_VALUE} is an error rather than a wrapped value.
 *
 * <p>Supported: data pages v1 and v2, dictionary pages, encodings PLAIN, PLAIN_DICTIONARY,
 * RLE_DICTIONARY, RLE, BIT_PACKED (levels), DELTA_BINARY_PACKED, DELTA_LENGTH_BYTE_ARRAY,
 * DELTA_BYTE_ARRAY and BYTE_STREAM_SPLIT; codecs UNCOMPRESSED, SNAPPY, GZIP, ZSTD and LZ4_RAW.
 * MAP columns, INT96, encrypted files, other codecs and columns stored in other files are refused
 * with a message naming them. The file is read into memory once, which suits the tens of
 * megabytes benchmark datasets take.
 */
public final class ParquetReader {
    private static final byte[] MAGIC = "PAR1".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] ENCRYPTED_MAGIC = "PARE".getBytes(StandardCharsets.US_ASCII);
    private static final int FOOTER_TAIL = 8; // 4-byte metadata length, then the magic

    private ParquetReader() {
    }

    /** Every row of the file as an ordered map column name -> value. */
    public static List<Map<String, Object>> readRows(Path file) throws IOException {
        long size = Files.size(file);
        if (size > Integer.MAX_VALUE - 8) {
            throw new ParquetFormatException(file, "file of " + size + " bytes is too large for this reader (2 GiB)");
        }
        byte[] data = Files.readAllBytes(file);
        try {
            return readRows(data);
        } catch (ParquetDataException e) {
            throw new ParquetFormatException(file, e.getMessage(), e);
        } catch (IndexOutOfBoundsException | BufferUnderflowException | NegativeArraySizeException e) {
            // Every read is bounds-checked; this is a last line so corruption never escapes unnamed.
            throw new ParquetFormatException(file, "corrupt file (" + e + ")", e);
        }
    }

    private static List<Map<String, Object>> readRows(byte[] data) {
        if (data.length < MAGIC.length + FOOTER_TAIL) {
            throw new ParquetDataException("not a Parquet file: only " + data.length + " bytes");
        }
        if (startsWith(data, data.length - 4, ENCRYPTED_MAGIC)) {
            throw new ParquetDataException("encrypted Parquet files (footer magic PARE) are not supported");
        }
        if (!startsWith(data, 0, MAGIC) || !startsWith(data, data.length - 4, MAGIC)) {
            throw new ParquetDataException("not a Parquet file: the magic \"PAR1\" is missing at its "
                    + (startsWith(data, 0, MAGIC) ? "end" : "start"));
        }
        int metadataLength = ByteSlice.intLE(data, data.length - FOOTER_TAIL);
        int metadataStart = data.length - FOOTER_TAIL - metadataLength;
        if (metadataLength <= 0 || metadataStart < MAGIC.length) {
            throw new ParquetDataException("footer length " + Integer.toUnsignedString(metadataLength)
                    + " does not fit the file's " + data.length + " bytes");
        }
        FileMetaData metadata;
        try {
            metadata = ParquetMetadata.readFileMetaData(
                    new ThriftCompactReader(new ByteSlice(data, metadataStart, metadataLength)));
        } catch (ParquetDataException e) {
            throw new ParquetDataException("corrupt footer: " + e.getMessage(), e);
        }
        List<SchemaNode> leaves = new ArrayList<>();
        SchemaNode root = SchemaNode.build(metadata.schema(), leaves);

        List<Map<String, Object>> rows = new ArrayList<>((int) Math.min(Math.max(metadata.numRows(), 0), 1 << 20));
        for (int g = 0; g < metadata.rowGroups().size(); g++) {
            RowGroup rowGroup = metadata.rowGroups().get(g);
            try {
                readRowGroup(data, metadataStart, root, leaves, rowGroup, rows);
            } catch (ParquetDataException e) {
                throw new ParquetDataException("row group " + g + ": " + e.getMessage(), e);
            }
        }
        if (rows.size() != metadata.numRows()) {
            throw new ParquetDataException("the footer says " + metadata.numRows() + " rows, the row groups hold "
                    + rows.size());
        }
        return rows;
    }

    private static void readRowGroup(byte[] data, int dataEnd, SchemaNode root, List<SchemaNode> leaves,
                                     RowGroup rowGroup, List<Map<String, Object>> rows) {
        if (rowGroup.columns().size() != leaves.size()) {
            throw new ParquetDataException("has " + rowGroup.columns().size() + " column chunks for "
                    + leaves.size() + " schema columns");
        }
        if (rowGroup.numRows() < 0) {
            throw new ParquetDataException("claims " + rowGroup.numRows() + " rows");
        }
        ColumnData[] columns = new ColumnData[leaves.size()];
        for (int c = 0; c < leaves.size(); c++) {
            SchemaNode leaf = leaves.get(c);
            try {
                ColumnMetaData meta = checkChunk(rowGroup.columns().get(c), leaf);
                columns[c] = new ColumnChunkReader(data, leaf, meta).read(dataEnd);
            } catch (ParquetDataException e) {
                throw new ParquetDataException("column " + leaf.path + ": " + e.getMessage(), e);
            }
        }
        new RecordAssembler(root, columns, rows.size()).assemble(rowGroup.numRows(), rows);
    }

    private static ColumnMetaData checkChunk(ColumnChunk chunk, SchemaNode leaf) {
        if (chunk.encrypted()) {
            throw new ParquetDataException("encrypted columns are not supported");
        }
        if (chunk.filePath() != null) {
            throw new ParquetDataException("column data stored in another file (" + chunk.filePath()
                    + ") is not supported");
        }
        ColumnMetaData meta = chunk.metaData();
        if (meta == null) {
            throw new ParquetDataException("column chunk has no metadata");
        }
        String path = String.join(".", meta.pathInSchema());
        if (!path.equals(leaf.path)) {
            throw new ParquetDataException("column chunk is for " + path + ", but the schema puts " + leaf.path
                    + " here");
        }
        if (meta.type() != leaf.physicalType) {
            throw new ParquetDataException("column chunk has type " + ParquetMetadata.typeName(meta.type())
                    + ", the schema says " + ParquetMetadata.typeName(leaf.physicalType));
        }
        if (!Codecs.isSupported(meta.codec())) {
            throw new ParquetDataException("unsupported compression codec " + Codecs.name(meta.codec())
                    + " (supported: UNCOMPRESSED, SNAPPY, GZIP, ZSTD, LZ4_RAW)");
        }
        return meta;
    }

    private static boolean startsWith(byte[] data, int offset, byte[] prefix) {
        for (int i = 0; i < prefix.length; i++) {
            if (data[offset + i] != prefix[i]) {
                return false;
            }
        }
        return true;
    }
}
