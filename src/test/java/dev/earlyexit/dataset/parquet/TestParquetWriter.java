package dev.earlyexit.dataset.parquet;

import io.airlift.compress.snappy.SnappyCompressor;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;

/**
 * Builds small Parquet files by hand, for what DuckDB does not write: data page v2, several pages
 * per column chunk, the legacy 2-level list layouts, BIT_PACKED levels, page checksums. Values are
 * PLAIN or dictionary encoded; levels and values are given already shredded, so each test states
 * exactly what is on disk. DuckDB's reader then serves as an independent check of the files.
 */
final class TestParquetWriter {
    static final int T = ThriftCompactReader.STRUCT;

    /** A schema element, in the footer's depth-first order. */
    record Element(String name, Integer type, Integer repetition, Integer numChildren, Integer convertedType) {
    }

    static Element root(int numChildren) {
        return new Element("schema", null, null, numChildren, null);
    }

    static Element group(String name, int repetition, Integer convertedType, int numChildren) {
        return new Element(name, null, repetition, numChildren, convertedType);
    }

    static Element leaf(String name, int repetition, int type, Integer convertedType) {
        return new Element(name, type, repetition, null, convertedType);
    }

    /** One data page: levels per entry (null when the column has none) and its non-null values. */
    record Page(int[] definitionLevels, int[] repetitionLevels, List<Object> values) {
    }

    /** One column chunk of a row group: its leaf's physical type, path and pages. */
    record Chunk(int type, List<String> path, List<Page> pages) {
    }

    private final List<Element> schema;
    private final Map<List<String>, int[]> maxLevels = new LinkedHashMap<>(); // path -> {maxDef, maxRep}
    private final List<List<Chunk>> rowGroups = new ArrayList<>();
    private final List<Long> rowGroupRows = new ArrayList<>();
    private boolean v2Pages;
    private boolean dictionary;
    private boolean bitPackedLevels;
    private boolean legacyBitPackedEncoding;
    private boolean checksums;
    private int codec = Codecs.UNCOMPRESSED;
    private Integer encodingOverride;

    TestParquetWriter(Element... schema) {
        this.schema = List.of(schema);
        int[] next = {1};
        for (int i = 0; i < schema[0].numChildren(); i++) {
            collectLeaves(next, List.of(), 0, 0);
        }
    }

    private void collectLeaves(int[] next, List<String> parentPath, int def, int rep) {
        Element e = schema.get(next[0]++);
        List<String> path = new ArrayList<>(parentPath);
        path.add(e.name());
        int d = def + (e.repetition() == ParquetMetadata.REQUIRED ? 0 : 1);
        int r = rep + (e.repetition() == ParquetMetadata.REPEATED ? 1 : 0);
        if (e.numChildren() == null) {
            maxLevels.put(path, new int[] {d, r});
            return;
        }
        for (int i = 0; i < e.numChildren(); i++) {
            collectLeaves(next, path, d, r);
        }
    }

    /** A column chunk for the leaf at the dotted {@code path}. */
    static Chunk chunk(int type, String path, Page... pages) {
        return new Chunk(type, List.of(path.split("\\.")), List.of(pages));
    }

    static Page page(int[] definitionLevels, int[] repetitionLevels, Object... values) {
        return new Page(definitionLevels, repetitionLevels, java.util.Arrays.asList(values));
    }

    TestParquetWriter v2Pages() {
        v2Pages = true;
        return this;
    }

    TestParquetWriter dictionary() {
        dictionary = true;
        return this;
    }

    /** Levels in the hybrid encoding's bit-packed runs instead of RLE runs. */
    TestParquetWriter bitPackedRuns() {
        bitPackedLevels = true;
        return this;
    }

    /** v1 levels in the deprecated BIT_PACKED encoding (MSB first, no length prefix). */
    TestParquetWriter deprecatedBitPackedLevels() {
        legacyBitPackedEncoding = true;
        return this;
    }

    TestParquetWriter checksums() {
        checksums = true;
        return this;
    }

    /** Claims {@code encoding} in the data page headers (the values stay PLAIN). */
    TestParquetWriter claimEncoding(int encoding) {
        encodingOverride = encoding;
        return this;
    }

    TestParquetWriter snappy() {
        codec = Codecs.SNAPPY;
        return this;
    }

    TestParquetWriter rowGroup(long rows, Chunk... chunks) {
        rowGroups.add(List.of(chunks));
        rowGroupRows.add(rows);
        return this;
    }

    byte[] build() {
        ByteArrayOutputStream file = new ByteArrayOutputStream();
        file.writeBytes("PAR1".getBytes(StandardCharsets.US_ASCII));
        List<List<long[]>> chunkMeta = new ArrayList<>(); // per row group, per chunk: {dictOffset|-1, dataOffset, size, numValues}
        for (List<Chunk> rowGroup : rowGroups) {
            List<long[]> metas = new ArrayList<>();
            for (Chunk chunk : rowGroup) {
                metas.add(writeChunk(file, chunk));
            }
            chunkMeta.add(metas);
        }
        ThriftCompactWriter t = new ThriftCompactWriter().structBegin();
        t.i32(1, 1);
        t.listHeader(2, T, schema.size());
        for (Element e : schema) {
            t.structBegin();
            if (e.type() != null) {
                t.i32(1, e.type());
            }
            if (e.repetition() != null) {
                t.i32(3, e.repetition());
            }
            t.string(4, e.name());
            if (e.numChildren() != null) {
                t.i32(5, e.numChildren());
            }
            if (e.convertedType() != null) {
                t.i32(6, e.convertedType());
            }
            t.structEnd();
        }
        t.i64(3, rowGroupRows.stream().mapToLong(Long::longValue).sum());
        t.listHeader(4, T, rowGroups.size());
        for (int g = 0; g < rowGroups.size(); g++) {
            t.structBegin();
            t.listHeader(1, T, rowGroups.get(g).size());
            for (int c = 0; c < rowGroups.get(g).size(); c++) {
                Chunk chunk = rowGroups.get(g).get(c);
                long[] m = chunkMeta.get(g).get(c);
                t.structBegin();
                t.i64(2, m[0] >= 0 ? m[0] : m[1]);
                t.field(3, T).structBegin();
                t.i32(1, chunk.type());
                t.listHeader(2, ThriftCompactReader.I32, 1).zigzag(Encodings.PLAIN);
                t.listHeader(3, ThriftCompactReader.BINARY, chunk.path().size());
                for (String part : chunk.path()) {
                    t.binary(part.getBytes(StandardCharsets.UTF_8));
                }
                t.i32(4, codec);
                t.i64(5, m[3]);
                t.i64(6, m[2]);
                t.i64(7, m[2]);
                t.i64(9, m[1]);
                if (m[0] >= 0) {
                    t.i64(11, m[0]);
                }
                t.structEnd();
                t.structEnd();
            }
            t.i64(2, 0);
            t.i64(3, rowGroupRows.get(g));
            t.structEnd();
        }
        t.structEnd();
        byte[] footer = t.toByteArray();
        file.writeBytes(footer);
        file.write(footer.length & 0xFF);
        file.write(footer.length >>> 8 & 0xFF);
        file.write(footer.length >>> 16 & 0xFF);
        file.write(footer.length >>> 24);
        file.writeBytes("PAR1".getBytes(StandardCharsets.US_ASCII));
        return file.toByteArray();
    }

    private long[] writeChunk(ByteArrayOutputStream file, Chunk chunk) {
        int[] levels = maxLevels.get(chunk.path());
        int maxDef = levels[0];
        int maxRep = levels[1];
        long start = file.size();
        long dictOffset = -1;
        List<Object> dictionaryValues = new ArrayList<>();
        if (dictionary) {
            for (Page page : chunk.pages()) {
                for (Object v : page.values()) {
                    if (!dictionaryValues.contains(v)) {
                        dictionaryValues.add(v);
                    }
                }
            }
            dictOffset = file.size();
            byte[] body = plain(chunk.type(), dictionaryValues);
            byte[] stored = compress(body);
            ThriftCompactWriter h = new ThriftCompactWriter().structBegin();
            h.i32(1, ParquetMetadata.PAGE_DICTIONARY).i32(2, body.length).i32(3, stored.length);
            crc(h, stored);
            h.field(7, T).structBegin().i32(1, dictionaryValues.size()).i32(2, Encodings.PLAIN).structEnd();
            file.writeBytes(h.structEnd().toByteArray());
            file.writeBytes(stored);
        }
        long dataOffset = file.size();
        long numValues = 0;
        for (Page page : chunk.pages()) {
            int n = page.definitionLevels() != null ? page.definitionLevels().length
                    : page.repetitionLevels() != null ? page.repetitionLevels().length : page.values().size();
            numValues += n;
            byte[] rep = maxRep > 0 ? hybrid(page.repetitionLevels(), RleBitPackedHybrid.bitWidth(maxRep)) : new byte[0];
            byte[] def = maxDef > 0 ? hybrid(page.definitionLevels(), RleBitPackedHybrid.bitWidth(maxDef)) : new byte[0];
            byte[] values = dictionary ? dictionaryIndices(page.values(), dictionaryValues)
                    : plain(chunk.type(), page.values());
            int encoding = encodingOverride != null ? encodingOverride
                    : dictionary ? Encodings.RLE_DICTIONARY : Encodings.PLAIN;
            ThriftCompactWriter h = new ThriftCompactWriter().structBegin();
            byte[] stored;
            if (v2Pages) {
                byte[] compressedValues = compress(values);
                stored = concat(rep, def, compressedValues);
                int nulls = n - page.values().size();
                int rows = 0;
                for (int i = 0; i < n; i++) {
                    rows += page.repetitionLevels() == null || page.repetitionLevels()[i] == 0 ? 1 : 0;
                }
                h.i32(1, ParquetMetadata.PAGE_DATA_V2).i32(2, rep.length + def.length + values.length)
                        .i32(3, stored.length);
                crc(h, stored);
                h.field(8, T).structBegin().i32(1, n).i32(2, nulls).i32(3, rows).i32(4, encoding)
                        .i32(5, def.length).i32(6, rep.length).bool(7, codec != Codecs.UNCOMPRESSED).structEnd();
            } else {
                byte[] body = legacyBitPackedEncoding
                        ? concat(msbFirst(page.repetitionLevels(), maxRep), msbFirst(page.definitionLevels(), maxDef),
                        values)
                        : concat(lengthPrefixed(rep), lengthPrefixed(def), values);
                stored = compress(body);
                int levelEncoding = legacyBitPackedEncoding ? Encodings.BIT_PACKED : Encodings.RLE;
                h.i32(1, ParquetMetadata.PAGE_DATA).i32(2, body.length).i32(3, stored.length);
                crc(h, stored);
                h.field(5, T).structBegin().i32(1, n).i32(2, encoding).i32(3, levelEncoding).i32(4, levelEncoding)
                        .structEnd();
            }
            file.writeBytes(h.structEnd().toByteArray());
            file.writeBytes(stored);
        }
        return new long[] {dictOffset, dataOffset, file.size() - start, numValues};
    }

    private void crc(ThriftCompactWriter header, byte[] stored) {
        if (checksums) {
            CRC32 crc = new CRC32();
            crc.update(stored);
            header.i32(4, (int) crc.getValue());
        }
    }

    private byte[] compress(byte[] data) {
        if (codec == Codecs.UNCOMPRESSED) {
            return data;
        }
        SnappyCompressor compressor = new SnappyCompressor();
        byte[] out = new byte[compressor.maxCompressedLength(data.length)];
        int n = compressor.compress(data, 0, data.length, out, 0, out.length);
        return java.util.Arrays.copyOf(out, n);
    }

    static byte[] plain(int type, List<Object> values) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        if (type == ParquetMetadata.TYPE_BOOLEAN) {
            byte[] bits = new byte[(values.size() + 7) / 8];
            for (int i = 0; i < values.size(); i++) {
                if ((Boolean) values.get(i)) {
                    bits[i / 8] |= (byte) (1 << (i % 8));
                }
            }
            return bits;
        }
        for (Object v : values) {
            switch (type) {
                case ParquetMetadata.TYPE_INT32 -> le(out, ((Number) v).intValue(), 4);
                case ParquetMetadata.TYPE_INT64 -> le(out, ((Number) v).longValue(), 8);
                case ParquetMetadata.TYPE_DOUBLE -> le(out, Double.doubleToLongBits((Double) v), 8);
                case ParquetMetadata.TYPE_BYTE_ARRAY -> {
                    byte[] b = v instanceof String s ? s.getBytes(StandardCharsets.UTF_8) : (byte[]) v;
                    le(out, b.length, 4);
                    out.writeBytes(b);
                }
                default -> throw new IllegalArgumentException("type " + type);
            }
        }
        return out.toByteArray();
    }

    private byte[] dictionaryIndices(List<Object> values, List<Object> dictionaryValues) {
        int[] indices = new int[values.size()];
        for (int i = 0; i < indices.length; i++) {
            indices[i] = dictionaryValues.indexOf(values.get(i));
        }
        int bitWidth = RleBitPackedHybrid.bitWidth(Math.max(dictionaryValues.size() - 1, 0));
        return concat(new byte[] {(byte) bitWidth}, hybrid(indices, bitWidth));
    }

    /** The RLE / bit-packed hybrid: RLE runs, or (bitPackedRuns) one bit-packed run. */
    byte[] hybrid(int[] values, int bitWidth) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        // Width 0 (a one-entry dictionary) still gets run headers, as parquet-cpp writes them.
        if (bitPackedLevels && bitWidth > 0) {
            int groups = (values.length + 7) / 8;
            varint(out, (long) groups << 1 | 1);
            byte[] packed = new byte[groups * bitWidth];
            for (int i = 0; i < values.length; i++) {
                for (int b = 0; b < bitWidth; b++) {
                    if ((values[i] >>> b & 1) != 0) {
                        long bit = (long) i * bitWidth + b;
                        packed[(int) (bit / 8)] |= (byte) (1 << (bit % 8));
                    }
                }
            }
            out.writeBytes(packed);
            return out.toByteArray();
        }
        int i = 0;
        while (i < values.length) {
            int j = i;
            while (j < values.length && values[j] == values[i]) {
                j++;
            }
            varint(out, (long) (j - i) << 1);
            le(out, values[i], (bitWidth + 7) / 8);
            i = j;
        }
        return out.toByteArray();
    }

    private static byte[] msbFirst(int[] levels, int maxLevel) {
        if (maxLevel == 0) {
            return new byte[0];
        }
        int bitWidth = RleBitPackedHybrid.bitWidth(maxLevel);
        byte[] out = new byte[(levels.length * bitWidth + 7) / 8];
        long bit = 0;
        for (int level : levels) {
            for (int b = bitWidth - 1; b >= 0; b--, bit++) {
                if ((level >>> b & 1) != 0) {
                    out[(int) (bit / 8)] |= (byte) (0x80 >>> (bit % 8));
                }
            }
        }
        return out;
    }

    private static byte[] lengthPrefixed(byte[] data) {
        if (data.length == 0) {
            return data;
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        le(out, data.length, 4);
        out.writeBytes(data);
        return out.toByteArray();
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    private static void le(ByteArrayOutputStream out, long v, int bytes) {
        for (int i = 0; i < bytes; i++) {
            out.write((int) (v >>> (8 * i)) & 0xFF);
        }
    }

    private static void varint(ByteArrayOutputStream out, long v) {
        while ((v & ~0x7FL) != 0) {
            out.write((int) (v & 0x7F) | 0x80);
            v >>>= 7;
        }
        out.write((int) v);
    }
}
