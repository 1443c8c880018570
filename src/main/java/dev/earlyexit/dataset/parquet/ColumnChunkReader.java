package dev.earlyexit.dataset.parquet;

import dev.earlyexit.dataset.parquet.ParquetMetadata.ColumnMetaData;
import dev.earlyexit.dataset.parquet.ParquetMetadata.DataPageHeader;
import dev.earlyexit.dataset.parquet.ParquetMetadata.DataPageHeaderV2;
import dev.earlyexit.dataset.parquet.ParquetMetadata.PageHeader;

import java.util.Arrays;
import java.util.zip.CRC32;

/**
 * Reads one column chunk's pages into flat arrays: a definition and a repetition level per entry,
 * and the non-null values in order. {@link RecordAssembler} rebuilds rows from these.
 */
final class ColumnChunkReader {
    /** One column chunk, decoded. Level arrays are null when the column's maximum level is 0. */
    record ColumnData(int size, int[] definitionLevels, int[] repetitionLevels, Object[] values, int valueCount) {
    }

    private final byte[] file;
    private final ColumnMetaData meta;
    private final ValueDecoder valueDecoder;
    private final int maxDef;
    private final int maxRep;

    private int[] definitionLevels;
    private int[] repetitionLevels;
    private Object[] values = new Object[16];
    private int levelCount;
    private int valueCount;
    private Object[] dictionary;

    ColumnChunkReader(byte[] file, SchemaNode leaf, ColumnMetaData meta) {
        this.file = file;
        this.meta = meta;
        this.valueDecoder = new ValueDecoder(leaf);
        this.maxDef = leaf.definitionLevel;
        this.maxRep = leaf.repetitionLevel;
    }

    /** Reads the chunk's pages; {@code dataEnd} is where the footer starts, which no page may cross. */
    ColumnData read(long dataEnd) {
        long numValues = meta.numValues();
        if (numValues < 0 || numValues > Integer.MAX_VALUE - 8) {
            throw new ParquetDataException("column chunk claims " + numValues + " values");
        }
        int total = (int) numValues;
        long start = meta.dataPageOffset();
        Long dictionaryOffset = meta.dictionaryPageOffset();
        // Some writers store 0 for "no dictionary"; a real dictionary page comes before the data pages.
        if (dictionaryOffset != null && dictionaryOffset > 0 && dictionaryOffset < start) {
            start = dictionaryOffset;
        }
        long size = meta.totalCompressedSize();
        if (start < 4 || start > dataEnd || size < 0 || size > dataEnd - start) {
            throw new ParquetDataException("column chunk of " + size + " bytes at offset " + start
                    + " lies outside the data (bytes 4 to " + dataEnd + ")");
        }
        // Level arrays grow page by page rather than trusting the footer's count for one allocation.
        definitionLevels = maxDef > 0 ? new int[16] : null;
        repetitionLevels = maxRep > 0 ? new int[16] : null;
        ByteSlice chunk = new ByteSlice(file, (int) start, (int) size);
        int pageIndex = 0;
        while (levelCount < total) {
            if (chunk.remaining() == 0) {
                throw new ParquetDataException("column chunk ends after " + levelCount + " of its " + total
                        + " values");
            }
            try {
                readPage(chunk, total);
            } catch (ParquetDataException e) {
                throw new ParquetDataException("page " + pageIndex + ": " + e.getMessage(), e);
            }
            pageIndex++;
        }
        return new ColumnData(levelCount, definitionLevels, repetitionLevels, values, valueCount);
    }

    private void readPage(ByteSlice chunk, int total) {
        ThriftCompactReader thrift = new ThriftCompactReader(chunk);
        PageHeader header = ParquetMetadata.readPageHeader(thrift);
        int bodyStart = chunk.skip(header.compressedSize(), "page");
        if (header.crc() != null) {
            CRC32 crc = new CRC32();
            crc.update(file, bodyStart, header.compressedSize());
            if ((int) crc.getValue() != header.crc()) {
                throw new ParquetDataException("page checksum mismatch");
            }
        }
        switch (header.type()) {
            case ParquetMetadata.PAGE_DICTIONARY -> readDictionaryPage(header, bodyStart);
            case ParquetMetadata.PAGE_DATA -> readDataPageV1(header, bodyStart, total);
            case ParquetMetadata.PAGE_DATA_V2 -> readDataPageV2(header, bodyStart, total);
            case ParquetMetadata.PAGE_INDEX -> {
                // Index pages carry nothing a full scan needs.
            }
            default -> throw new ParquetDataException("unknown page type " + header.type());
        }
    }

    private void readDictionaryPage(PageHeader header, int bodyStart) {
        if (header.dictionaryPage() == null) {
            throw new ParquetDataException("dictionary page without a dictionary_page_header");
        }
        if (dictionary != null || levelCount > 0) {
            throw new ParquetDataException("a second dictionary page, or one after data pages");
        }
        byte[] body = Codecs.decompress(meta.codec(), file, bodyStart, header.compressedSize(),
                header.uncompressedSize());
        dictionary = valueDecoder.decodeDictionary(header.dictionaryPage().encoding(), ByteSlice.of(body),
                header.dictionaryPage().numValues());
    }

    private void readDataPageV1(PageHeader header, int bodyStart, int total) {
        DataPageHeader page = header.dataPage();
        if (page == null) {
            throw new ParquetDataException("data page without a data_page_header");
        }
        int n = checkPageValueCount(page.numValues(), total);
        ensureLevelCapacity(n);
        byte[] body = Codecs.decompress(meta.codec(), file, bodyStart, header.compressedSize(),
                header.uncompressedSize());
        ByteSlice in = ByteSlice.of(body);
        if (maxRep > 0) {
            readLevelsV1(in, page.repetitionLevelEncoding(), maxRep, repetitionLevels, n, "repetition");
        }
        if (maxDef > 0) {
            readLevelsV1(in, page.definitionLevelEncoding(), maxDef, definitionLevels, n, "definition");
        }
        readValues(page.encoding(), in, n);
    }

    private void readDataPageV2(PageHeader header, int bodyStart, int total) {
        DataPageHeaderV2 page = header.dataPageV2();
        if (page == null) {
            throw new ParquetDataException("data page v2 without a data_page_header_v2");
        }
        int n = checkPageValueCount(page.numValues(), total);
        ensureLevelCapacity(n);
        int repLength = page.repetitionLevelsByteLength();
        int defLength = page.definitionLevelsByteLength();
        long levelBytes = (long) repLength + defLength;
        if (repLength < 0 || defLength < 0 || levelBytes > header.compressedSize()
                || levelBytes > header.uncompressedSize()) {
            throw new ParquetDataException("data page v2 level sections (" + repLength + " + " + defLength
                    + " bytes) do not fit the page");
        }
        // In v2 pages the levels are never compressed; only the values section is.
        if (maxRep > 0) {
            readLevels(new ByteSlice(file, bodyStart, repLength), maxRep, repetitionLevels, n, "repetition");
        }
        if (maxDef > 0) {
            readLevels(new ByteSlice(file, bodyStart + repLength, defLength), maxDef, definitionLevels, n,
                    "definition");
        }
        int valuesStart = bodyStart + (int) levelBytes;
        int compressedValues = header.compressedSize() - (int) levelBytes;
        int uncompressedValues = header.uncompressedSize() - (int) levelBytes;
        byte[] body = page.isCompressed()
                ? Codecs.decompress(meta.codec(), file, valuesStart, compressedValues, uncompressedValues)
                : Codecs.decompress(Codecs.UNCOMPRESSED, file, valuesStart, compressedValues, uncompressedValues);
        int before = valueCount;
        readValues(page.encoding(), ByteSlice.of(body), n);
        int nulls = n - (valueCount - before);
        if (nulls != page.numNulls()) {
            throw new ParquetDataException("data page v2 says " + page.numNulls() + " nulls, its levels say " + nulls);
        }
    }

    private int checkPageValueCount(int n, int total) {
        if (n < 0 || n > total - levelCount) {
            throw new ParquetDataException("data page holds " + n + " values, but only " + (total - levelCount)
                    + " of the column chunk's " + total + " remain");
        }
        return n;
    }

    private void ensureLevelCapacity(int n) {
        int needed = levelCount + n;
        if (definitionLevels != null && definitionLevels.length < needed) {
            definitionLevels = Arrays.copyOf(definitionLevels, Math.max(needed, definitionLevels.length * 2));
        }
        if (repetitionLevels != null && repetitionLevels.length < needed) {
            repetitionLevels = Arrays.copyOf(repetitionLevels, Math.max(needed, repetitionLevels.length * 2));
        }
    }

    /** v1 levels: RLE with a 4-byte length prefix, or the deprecated BIT_PACKED encoding. */
    private void readLevelsV1(ByteSlice in, int encoding, int maxLevel, int[] out, int n, String what) {
        if (encoding == Encodings.RLE) {
            int length = in.readIntLE();
            if (length < 0) {
                throw new ParquetDataException(what + " levels have negative length " + length);
            }
            readLevels(in.slice(length, what + " levels"), maxLevel, out, n, what);
        } else if (encoding == Encodings.BIT_PACKED) {
            int bitWidth = RleBitPackedHybrid.bitWidth(maxLevel);
            int start = in.skip((int) (((long) n * bitWidth + 7) / 8), what + " levels");
            // BIT_PACKED levels are packed most significant bit first, unlike the hybrid encoding.
            byte[] data = in.array();
            long bit = (long) start * 8;
            for (int i = 0; i < n; i++) {
                int v = 0;
                for (int b = 0; b < bitWidth; b++, bit++) {
                    v = v << 1 | (data[(int) (bit >>> 3)] >>> (7 - (int) (bit & 7))) & 1;
                }
                out[levelCount + i] = checkLevel(v, maxLevel, what);
            }
        } else {
            throw new ParquetDataException("unsupported " + what + " level encoding " + Encodings.name(encoding));
        }
    }

    private void readLevels(ByteSlice in, int maxLevel, int[] out, int n, String what) {
        RleBitPackedHybrid.decode(in, RleBitPackedHybrid.bitWidth(maxLevel), out, levelCount, n);
        for (int i = levelCount; i < levelCount + n; i++) {
            checkLevel(out[i], maxLevel, what);
        }
    }

    private static int checkLevel(int level, int maxLevel, String what) {
        if (level < 0 || level > maxLevel) {
            throw new ParquetDataException(what + " level " + level + " exceeds the column's maximum " + maxLevel);
        }
        return level;
    }

    /** Decodes the page's non-null values (entries whose definition level is the maximum). */
    private void readValues(int encoding, ByteSlice in, int n) {
        int present = n;
        if (maxDef > 0) {
            present = 0;
            for (int i = levelCount; i < levelCount + n; i++) {
                if (definitionLevels[i] == maxDef) {
                    present++;
                }
            }
        }
        if (repetitionLevels != null && levelCount == 0 && n > 0 && repetitionLevels[0] != 0) {
            throw new ParquetDataException("column chunk does not start at a row (first repetition level "
                    + repetitionLevels[0] + ")");
        }
        if (valueCount + present > values.length) {
            values = Arrays.copyOf(values, Math.max(values.length * 2, valueCount + present));
        }
        valueDecoder.decode(encoding, in, present, dictionary, values, valueCount);
        valueCount += present;
        levelCount += n;
    }
}
