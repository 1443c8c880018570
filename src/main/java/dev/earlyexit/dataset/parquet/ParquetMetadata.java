package dev.earlyexit.dataset.parquet;

import java.util.ArrayList;
import java.util.List;

/**
 * The parts of Parquet's Thrift metadata (parquet.thrift) this reader uses, and their decoding from
 * the compact protocol. Fields we do not use are skipped; required fields that are missing are an
 * error, since a reader cannot guess them.
 */
final class ParquetMetadata {
    private ParquetMetadata() {
    }

    // Thrift enum values from parquet.thrift.
    static final int TYPE_BOOLEAN = 0;
    static final int TYPE_INT32 = 1;
    static final int TYPE_INT64 = 2;
    static final int TYPE_INT96 = 3;
    static final int TYPE_FLOAT = 4;
    static final int TYPE_DOUBLE = 5;
    static final int TYPE_BYTE_ARRAY = 6;
    static final int TYPE_FIXED_LEN_BYTE_ARRAY = 7;

    static final int REQUIRED = 0;
    static final int OPTIONAL = 1;
    static final int REPEATED = 2;

    static final int CONVERTED_UTF8 = 0;
    static final int CONVERTED_MAP = 1;
    static final int CONVERTED_MAP_KEY_VALUE = 2;
    static final int CONVERTED_LIST = 3;
    static final int CONVERTED_ENUM = 4;
    static final int CONVERTED_DECIMAL = 5;
    static final int CONVERTED_UINT_8 = 11;
    static final int CONVERTED_UINT_16 = 12;
    static final int CONVERTED_UINT_32 = 13;
    static final int CONVERTED_UINT_64 = 14;
    static final int CONVERTED_JSON = 19;

    static final int PAGE_DATA = 0;
    static final int PAGE_INDEX = 1;
    static final int PAGE_DICTIONARY = 2;
    static final int PAGE_DATA_V2 = 3;

    static String typeName(int type) {
        return switch (type) {
            case TYPE_BOOLEAN -> "BOOLEAN";
            case TYPE_INT32 -> "INT32";
            case TYPE_INT64 -> "INT64";
            case TYPE_INT96 -> "INT96";
            case TYPE_FLOAT -> "FLOAT";
            case TYPE_DOUBLE -> "DOUBLE";
            case TYPE_BYTE_ARRAY -> "BYTE_ARRAY";
            case TYPE_FIXED_LEN_BYTE_ARRAY -> "FIXED_LEN_BYTE_ARRAY";
            default -> "type " + type;
        };
    }

    /** Logical type annotation (the LogicalType union), reduced to what decides a Java value. */
    enum Logical { NONE, STRING, ENUM, JSON, LIST, MAP, UNSIGNED_INT, DECIMAL, OTHER }

    /** {@code scale} comes from the DECIMAL logical type, or else the legacy scale field. */
    record SchemaElement(Integer type, Integer typeLength, Integer repetition, String name, Integer numChildren,
                         Integer convertedType, Integer scale, Logical logical) {
    }

    record FileMetaData(List<SchemaElement> schema, long numRows, List<RowGroup> rowGroups) {
    }

    record RowGroup(List<ColumnChunk> columns, long numRows) {
    }

    record ColumnChunk(String filePath, ColumnMetaData metaData, boolean encrypted) {
    }

    record ColumnMetaData(int type, List<String> pathInSchema, int codec, long numValues,
                          long totalCompressedSize, long dataPageOffset, Long dictionaryPageOffset) {
    }

    record PageHeader(int type, int uncompressedSize, int compressedSize, Integer crc, DataPageHeader dataPage,
                      DictionaryPageHeader dictionaryPage, DataPageHeaderV2 dataPageV2) {
    }

    record DataPageHeader(int numValues, int encoding, int definitionLevelEncoding, int repetitionLevelEncoding) {
    }

    record DictionaryPageHeader(int numValues, int encoding) {
    }

    record DataPageHeaderV2(int numValues, int numNulls, int numRows, int encoding, int definitionLevelsByteLength,
                            int repetitionLevelsByteLength, boolean isCompressed) {
    }

    static FileMetaData readFileMetaData(ThriftCompactReader t) {
        List<SchemaElement> schema = null;
        Long numRows = null;
        List<RowGroup> rowGroups = null;
        boolean sawVersion = false;
        t.structBegin();
        while (t.nextField()) {
            switch (t.fieldId()) {
                case 1 -> {
                    t.expect(ThriftCompactReader.I32, "FileMetaData.version");
                    t.readI32();
                    sawVersion = true;
                }
                case 2 -> {
                    t.expect(ThriftCompactReader.LIST, "FileMetaData.schema");
                    int n = t.readListHeader(ThriftCompactReader.STRUCT, "FileMetaData.schema");
                    schema = new ArrayList<>(n);
                    for (int i = 0; i < n; i++) {
                        schema.add(readSchemaElement(t));
                    }
                }
                case 3 -> {
                    t.expect(ThriftCompactReader.I64, "FileMetaData.num_rows");
                    numRows = t.readI64();
                }
                case 4 -> {
                    t.expect(ThriftCompactReader.LIST, "FileMetaData.row_groups");
                    int n = t.readListHeader(ThriftCompactReader.STRUCT, "FileMetaData.row_groups");
                    rowGroups = new ArrayList<>(n);
                    for (int i = 0; i < n; i++) {
                        rowGroups.add(readRowGroup(t));
                    }
                }
                default -> t.skip(t.fieldType());
            }
        }
        t.structEnd();
        require(sawVersion, "FileMetaData.version");
        require(schema != null, "FileMetaData.schema");
        require(numRows != null, "FileMetaData.num_rows");
        require(rowGroups != null, "FileMetaData.row_groups");
        return new FileMetaData(schema, numRows, rowGroups);
    }

    private static SchemaElement readSchemaElement(ThriftCompactReader t) {
        Integer type = null;
        Integer typeLength = null;
        Integer repetition = null;
        String name = null;
        Integer numChildren = null;
        Integer convertedType = null;
        Integer scale = null;
        Integer decimalScale = null;
        Logical logical = Logical.NONE;
        t.structBegin();
        while (t.nextField()) {
            switch (t.fieldId()) {
                case 1 -> type = i32(t, "SchemaElement.type");
                case 2 -> typeLength = i32(t, "SchemaElement.type_length");
                case 3 -> repetition = i32(t, "SchemaElement.repetition_type");
                case 4 -> {
                    t.expect(ThriftCompactReader.BINARY, "SchemaElement.name");
                    name = t.readString();
                }
                case 5 -> numChildren = i32(t, "SchemaElement.num_children");
                case 6 -> convertedType = i32(t, "SchemaElement.converted_type");
                case 7 -> scale = i32(t, "SchemaElement.scale");
                case 10 -> {
                    t.expect(ThriftCompactReader.STRUCT, "SchemaElement.logicalType");
                    int[] decimalScaleOut = {-1};
                    logical = readLogicalType(t, decimalScaleOut);
                    if (logical == Logical.DECIMAL && decimalScaleOut[0] >= 0) {
                        decimalScale = decimalScaleOut[0];
                    }
                }
                default -> t.skip(t.fieldType());
            }
        }
        t.structEnd();
        require(name != null, "SchemaElement.name");
        return new SchemaElement(type, typeLength, repetition, name, numChildren, convertedType,
                decimalScale != null ? decimalScale : scale, logical);
    }

    /**
     * The LogicalType union: one field set, whose id names the type; its contents matter only for
     * INTEGER (signedness) and DECIMAL (the scale, stored into {@code decimalScale[0]}).
     */
    private static Logical readLogicalType(ThriftCompactReader t, int[] decimalScale) {
        Logical logical = Logical.OTHER;
        t.structBegin();
        while (t.nextField()) {
            int id = t.fieldId();
            if (id == 10 && t.fieldType() == ThriftCompactReader.STRUCT) {
                logical = readIntType(t) ? Logical.OTHER : Logical.UNSIGNED_INT;
                continue;
            }
            if (id == 5 && t.fieldType() == ThriftCompactReader.STRUCT) {
                decimalScale[0] = readDecimalScale(t);
                logical = Logical.DECIMAL;
                continue;
            }
            logical = switch (id) {
                case 1 -> Logical.STRING;
                case 2 -> Logical.MAP;
                case 3 -> Logical.LIST;
                case 4 -> Logical.ENUM;
                case 12 -> Logical.JSON;
                default -> Logical.OTHER;
            };
            t.skip(t.fieldType());
        }
        t.structEnd();
        return logical;
    }

    /** IntType: returns whether it is signed (the default when the field is absent). */
    private static boolean readIntType(ThriftCompactReader t) {
        boolean signed = true;
        t.structBegin();
        while (t.nextField()) {
            if (t.fieldId() == 2) {
                t.expect(ThriftCompactReader.BOOLEAN_TRUE, "IntType.isSigned");
                signed = t.readBoolField();
            } else {
                t.skip(t.fieldType());
            }
        }
        t.structEnd();
        return signed;
    }

    /** DecimalType: its scale (field 1). */
    private static int readDecimalScale(ThriftCompactReader t) {
        int scale = -1;
        t.structBegin();
        while (t.nextField()) {
            if (t.fieldId() == 1) {
                scale = i32(t, "DecimalType.scale");
            } else {
                t.skip(t.fieldType());
            }
        }
        t.structEnd();
        return scale;
    }

    private static RowGroup readRowGroup(ThriftCompactReader t) {
        List<ColumnChunk> columns = null;
        Long numRows = null;
        t.structBegin();
        while (t.nextField()) {
            switch (t.fieldId()) {
                case 1 -> {
                    t.expect(ThriftCompactReader.LIST, "RowGroup.columns");
                    int n = t.readListHeader(ThriftCompactReader.STRUCT, "RowGroup.columns");
                    columns = new ArrayList<>(n);
                    for (int i = 0; i < n; i++) {
                        columns.add(readColumnChunk(t));
                    }
                }
                case 3 -> {
                    t.expect(ThriftCompactReader.I64, "RowGroup.num_rows");
                    numRows = t.readI64();
                }
                default -> t.skip(t.fieldType());
            }
        }
        t.structEnd();
        require(columns != null, "RowGroup.columns");
        require(numRows != null, "RowGroup.num_rows");
        return new RowGroup(columns, numRows);
    }

    private static ColumnChunk readColumnChunk(ThriftCompactReader t) {
        String filePath = null;
        ColumnMetaData metaData = null;
        boolean encrypted = false;
        t.structBegin();
        while (t.nextField()) {
            switch (t.fieldId()) {
                case 1 -> {
                    t.expect(ThriftCompactReader.BINARY, "ColumnChunk.file_path");
                    filePath = t.readString();
                }
                case 3 -> {
                    t.expect(ThriftCompactReader.STRUCT, "ColumnChunk.meta_data");
                    metaData = readColumnMetaData(t);
                }
                case 8, 9 -> {
                    encrypted = true;
                    t.skip(t.fieldType());
                }
                default -> t.skip(t.fieldType());
            }
        }
        t.structEnd();
        return new ColumnChunk(filePath, metaData, encrypted);
    }

    private static ColumnMetaData readColumnMetaData(ThriftCompactReader t) {
        Integer type = null;
        List<String> path = null;
        Integer codec = null;
        Long numValues = null;
        Long totalCompressedSize = null;
        Long dataPageOffset = null;
        Long dictionaryPageOffset = null;
        t.structBegin();
        while (t.nextField()) {
            switch (t.fieldId()) {
                case 1 -> type = i32(t, "ColumnMetaData.type");
                case 3 -> {
                    t.expect(ThriftCompactReader.LIST, "ColumnMetaData.path_in_schema");
                    int n = t.readListHeader(ThriftCompactReader.BINARY, "ColumnMetaData.path_in_schema");
                    path = new ArrayList<>(n);
                    for (int i = 0; i < n; i++) {
                        path.add(t.readString());
                    }
                }
                case 4 -> codec = i32(t, "ColumnMetaData.codec");
                case 5 -> numValues = i64(t, "ColumnMetaData.num_values");
                case 7 -> totalCompressedSize = i64(t, "ColumnMetaData.total_compressed_size");
                case 9 -> dataPageOffset = i64(t, "ColumnMetaData.data_page_offset");
                case 11 -> dictionaryPageOffset = i64(t, "ColumnMetaData.dictionary_page_offset");
                default -> t.skip(t.fieldType());
            }
        }
        t.structEnd();
        require(type != null, "ColumnMetaData.type");
        require(path != null, "ColumnMetaData.path_in_schema");
        require(codec != null, "ColumnMetaData.codec");
        require(numValues != null, "ColumnMetaData.num_values");
        require(totalCompressedSize != null, "ColumnMetaData.total_compressed_size");
        require(dataPageOffset != null, "ColumnMetaData.data_page_offset");
        return new ColumnMetaData(type, path, codec, numValues, totalCompressedSize, dataPageOffset,
                dictionaryPageOffset);
    }

    static PageHeader readPageHeader(ThriftCompactReader t) {
        Integer type = null;
        Integer uncompressedSize = null;
        Integer compressedSize = null;
        Integer crc = null;
        DataPageHeader dataPage = null;
        DictionaryPageHeader dictionaryPage = null;
        DataPageHeaderV2 dataPageV2 = null;
        t.structBegin();
        while (t.nextField()) {
            switch (t.fieldId()) {
                case 1 -> type = i32(t, "PageHeader.type");
                case 2 -> uncompressedSize = i32(t, "PageHeader.uncompressed_page_size");
                case 3 -> compressedSize = i32(t, "PageHeader.compressed_page_size");
                case 4 -> crc = i32(t, "PageHeader.crc");
                case 5 -> {
                    t.expect(ThriftCompactReader.STRUCT, "PageHeader.data_page_header");
                    dataPage = readDataPageHeader(t);
                }
                case 7 -> {
                    t.expect(ThriftCompactReader.STRUCT, "PageHeader.dictionary_page_header");
                    dictionaryPage = readDictionaryPageHeader(t);
                }
                case 8 -> {
                    t.expect(ThriftCompactReader.STRUCT, "PageHeader.data_page_header_v2");
                    dataPageV2 = readDataPageHeaderV2(t);
                }
                default -> t.skip(t.fieldType());
            }
        }
        t.structEnd();
        require(type != null, "PageHeader.type");
        require(uncompressedSize != null, "PageHeader.uncompressed_page_size");
        require(compressedSize != null, "PageHeader.compressed_page_size");
        if (uncompressedSize < 0 || compressedSize < 0) {
            throw new ParquetDataException("page header has a negative size");
        }
        return new PageHeader(type, uncompressedSize, compressedSize, crc, dataPage, dictionaryPage, dataPageV2);
    }

    private static DataPageHeader readDataPageHeader(ThriftCompactReader t) {
        Integer numValues = null;
        Integer encoding = null;
        Integer defEncoding = null;
        Integer repEncoding = null;
        t.structBegin();
        while (t.nextField()) {
            switch (t.fieldId()) {
                case 1 -> numValues = i32(t, "DataPageHeader.num_values");
                case 2 -> encoding = i32(t, "DataPageHeader.encoding");
                case 3 -> defEncoding = i32(t, "DataPageHeader.definition_level_encoding");
                case 4 -> repEncoding = i32(t, "DataPageHeader.repetition_level_encoding");
                default -> t.skip(t.fieldType());
            }
        }
        t.structEnd();
        require(numValues != null, "DataPageHeader.num_values");
        require(encoding != null, "DataPageHeader.encoding");
        require(defEncoding != null, "DataPageHeader.definition_level_encoding");
        require(repEncoding != null, "DataPageHeader.repetition_level_encoding");
        return new DataPageHeader(numValues, encoding, defEncoding, repEncoding);
    }

    private static DictionaryPageHeader readDictionaryPageHeader(ThriftCompactReader t) {
        Integer numValues = null;
        Integer encoding = null;
        t.structBegin();
        while (t.nextField()) {
            switch (t.fieldId()) {
                case 1 -> numValues = i32(t, "DictionaryPageHeader.num_values");
                case 2 -> encoding = i32(t, "DictionaryPageHeader.encoding");
                default -> t.skip(t.fieldType());
            }
        }
        t.structEnd();
        require(numValues != null, "DictionaryPageHeader.num_values");
        require(encoding != null, "DictionaryPageHeader.encoding");
        return new DictionaryPageHeader(numValues, encoding);
    }

    private static DataPageHeaderV2 readDataPageHeaderV2(ThriftCompactReader t) {
        Integer numValues = null;
        Integer numNulls = null;
        Integer numRows = null;
        Integer encoding = null;
        Integer defLength = null;
        Integer repLength = null;
        boolean isCompressed = true;
        t.structBegin();
        while (t.nextField()) {
            switch (t.fieldId()) {
                case 1 -> numValues = i32(t, "DataPageHeaderV2.num_values");
                case 2 -> numNulls = i32(t, "DataPageHeaderV2.num_nulls");
                case 3 -> numRows = i32(t, "DataPageHeaderV2.num_rows");
                case 4 -> encoding = i32(t, "DataPageHeaderV2.encoding");
                case 5 -> defLength = i32(t, "DataPageHeaderV2.definition_levels_byte_length");
                case 6 -> repLength = i32(t, "DataPageHeaderV2.repetition_levels_byte_length");
                case 7 -> {
                    t.expect(ThriftCompactReader.BOOLEAN_TRUE, "DataPageHeaderV2.is_compressed");
                    isCompressed = t.readBoolField();
                }
                default -> t.skip(t.fieldType());
            }
        }
        t.structEnd();
        require(numValues != null, "DataPageHeaderV2.num_values");
        require(numNulls != null, "DataPageHeaderV2.num_nulls");
        require(numRows != null, "DataPageHeaderV2.num_rows");
        require(encoding != null, "DataPageHeaderV2.encoding");
        require(defLength != null, "DataPageHeaderV2.definition_levels_byte_length");
        require(repLength != null, "DataPageHeaderV2.repetition_levels_byte_length");
        return new DataPageHeaderV2(numValues, numNulls, numRows, encoding, defLength, repLength, isCompressed);
    }

    private static int i32(ThriftCompactReader t, String name) {
        t.expect(ThriftCompactReader.I32, name);
        return t.readI32();
    }

    private static long i64(ThriftCompactReader t, String name) {
        t.expect(ThriftCompactReader.I64, name);
        return t.readI64();
    }

    private static void require(boolean present, String field) {
        if (!present) {
            throw new ParquetDataException("Thrift metadata lacks the required field " + field);
        }
    }
}
