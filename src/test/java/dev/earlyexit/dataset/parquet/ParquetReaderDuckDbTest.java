package dev.earlyexit.dataset.parquet;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.math.BigDecimal;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Files written by DuckDB, read back and compared with the values DuckDB holds. */
class ParquetReaderDuckDbTest {
    private static DuckDb db;

    @TempDir
    Path dir;

    @BeforeAll
    static void open() throws Exception {
        db = new DuckDb();
    }

    @AfterAll
    static void close() throws Exception {
        db.close();
    }

    private Path write(String select, String options) throws Exception {
        return db.write(select, dir.resolve("t.parquet"), options);
    }

    /** readRows equals what DuckDB's own reader makes of the file, and what the query produced. */
    private List<Map<String, Object>> readAndCompare(String select, String options) throws Exception {
        Path file = write(select, options);
        List<Map<String, Object>> rows = ParquetReader.readRows(file);
        assertThat(rows).isEqualTo(db.query(select));
        assertThat(rows).isEqualTo(db.readParquet(file));
        return rows;
    }

    @Test
    void stringsWithUnicodeEmptyAndNull() throws Exception {
        List<Map<String, Object>> rows = readAndCompare("""
                SELECT * FROM (VALUES
                  (1, 'plain ascii'),
                  (2, ''),
                  (3, NULL),
                  (4, 'Grüße, café, naïve'),
                  (5, '日本語のテキスト'),
                  (6, 'emoji 🎉🧪 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢'),
                  (7, 'quote '' and "double" and \\ backslash'),
                  (8, 'line
                break')
                ) t(id, text) ORDER BY id""", "COMPRESSION snappy");
        assertThat(rows).hasSize(8);
        assertThat(rows.get(1)).containsEntry("text", "");
        assertThat(rows.get(2)).containsEntry("text", null).containsKey("text");
        assertThat(rows.get(5).get("text")).isEqualTo("emoji 🎉🧪 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢");
        assertThat(rows.get(0).get("id")).isInstanceOf(Long.class).isEqualTo(1L);
    }

    @Test
    void numericAndBooleanTypesMapToLongDoubleBoolean() throws Exception {
        List<Map<String, Object>> rows = readAndCompare("""
                SELECT * FROM (VALUES
                  (1::TINYINT, 2::SMALLINT, '-2147483648'::INTEGER, '-9223372036854775808'::BIGINT, 1.5::REAL,
                   -0.1::DOUBLE, true, 4000000000::UINTEGER),
                  (NULL, NULL, 2147483647::INTEGER, 9223372036854775807::BIGINT, NULL, 'NaN'::DOUBLE, false, 0::UINTEGER),
                  ('-128'::TINYINT, '-32768'::SMALLINT, NULL, NULL, 'Infinity'::REAL, NULL, NULL, NULL)
                ) t(i8, i16, i32, i64, f32, f64, flag, u32)""", "COMPRESSION uncompressed");
        Map<String, Object> first = rows.get(0);
        assertThat(first.get("i32")).isEqualTo(-2147483648L);
        assertThat(first.get("i64")).isEqualTo(Long.MIN_VALUE);
        assertThat(first.get("f32")).isEqualTo(1.5);
        assertThat(first.get("f64")).isEqualTo(-0.1);
        assertThat(first.get("flag")).isEqualTo(true);
        assertThat(first.get("u32")).isEqualTo(4_000_000_000L);
        assertThat((Double) rows.get(1).get("f64")).isNaN();
        assertThat(rows.get(2).get("f32")).isEqualTo(Double.POSITIVE_INFINITY);
        assertThat(rows.get(2).get("flag")).isNull();
    }

    @Test
    void unsignedBigintBeyondLongIsReportedNotWrapped() throws Exception {
        // (DuckDB's JDBC driver returns UBIGINT as BigInteger, so the expected value is spelled out.)
        assertThat(ParquetReader.readRows(write("SELECT 9223372036854775807::UBIGINT AS u", "")))
                .containsExactly(Map.of("u", Long.MAX_VALUE));
        Path file = write("SELECT 18446744073709551615::UBIGINT AS u", "");
        assertThatThrownBy(() -> ParquetReader.readRows(file))
                .isInstanceOf(ParquetFormatException.class)
                .hasMessage(file + ": row group 0: column u: page 0: unsigned 64-bit value 18446744073709551615"
                        + " does not fit a Long");
    }

    @Test
    void decimalsBecomeBigDecimalWithTheirScale() throws Exception {
        List<Map<String, Object>> rows = readAndCompare("""
                SELECT 1.25::DECIMAL(4,2) AS small, 123456789.123::DECIMAL(18,3) AS medium,
                       -12345678901234567890.5::DECIMAL(38,1) AS large""", "");
        assertThat(rows.get(0)).containsEntry("small", new BigDecimal("1.25"))
                .containsEntry("medium", new BigDecimal("123456789.123"))
                .containsEntry("large", new BigDecimal("-12345678901234567890.5"));
    }

    @Test
    void binaryBlobsBecomeByteArrays() throws Exception {
        Path file = write("SELECT '\\x00\\xFF\\x10'::BLOB AS b UNION ALL SELECT NULL::BLOB", "");
        List<Map<String, Object>> rows = ParquetReader.readRows(file);
        assertThat((byte[]) rows.get(0).get("b")).containsExactly(0x00, 0xFF, 0x10);
        assertThat(rows.get(1).get("b")).isNull();
    }

    @Test
    void listsOfStringsWithEmptyNullListsAndNullElements() throws Exception {
        List<Map<String, Object>> rows = readAndCompare("""
                SELECT * FROM (VALUES
                  (1, ['a', 'b', 'c']),
                  (2, []),
                  (3, NULL),
                  (4, [NULL]),
                  (5, ['x', NULL, '', 'ü']),
                  (6, ['only'])
                ) t(id, endings) ORDER BY id""", "COMPRESSION snappy");
        assertThat(rows.get(0).get("endings")).isEqualTo(List.of("a", "b", "c"));
        assertThat(rows.get(1).get("endings")).isEqualTo(List.of());
        assertThat(rows.get(2).get("endings")).isNull();
        assertThat(rows.get(3).get("endings")).isEqualTo(Arrays.asList((Object) null));
        assertThat(rows.get(4).get("endings")).isEqualTo(Arrays.asList("x", null, "", "ü"));
    }

    @Test
    void arcShapedStructOfTwoLists() throws Exception {
        List<Map<String, Object>> rows = readAndCompare("""
                SELECT * FROM (VALUES
                  ('Mercury_1', 'Which is a gas?', {'text': ['ice', 'steam', 'rock'], 'label': ['A', 'B', 'C']}, 'B'),
                  ('Mercury_2', 'Pick one', {'text': ['1', '2', '3', '4'], 'label': ['1', '2', '3', '4']}, '4'),
                  ('Mercury_3', 'Empty?', {'text': [], 'label': []}, 'A'),
                  ('Mercury_4', 'Null struct', NULL, NULL),
                  ('Mercury_5', 'Null lists', {'text': NULL, 'label': ['A']}, 'A')
                ) t(id, question, choices, answerKey)""", "COMPRESSION snappy");
        Map<String, Object> expected = new LinkedHashMap<>();
        expected.put("text", List.of("ice", "steam", "rock"));
        expected.put("label", List.of("A", "B", "C"));
        assertThat(rows.get(0).get("choices")).isInstanceOf(LinkedHashMap.class).isEqualTo(expected);
        assertThat(rows.get(2).get("choices")).isEqualTo(Map.of("text", List.of(), "label", List.of()));
        assertThat(rows.get(3).get("choices")).isNull();
        Map<?, ?> nullText = (Map<?, ?>) rows.get(4).get("choices");
        assertThat(nullText.get("text")).isNull();
        assertThat(nullText.get("label")).isEqualTo(List.of("A"));
        assertThat(rows.get(0).keySet()).containsExactly("id", "question", "choices", "answerKey");
    }

    @Test
    void hellaswagAndMmluShapes() throws Exception {
        readAndCompare("""
                SELECT i::BIGINT AS ind, 'activity ' || (i % 7) AS activity_label, 'ctx ' || i AS ctx,
                       ['end ' || i, 'end ' || (i + 1), 'end ' || (i + 2), 'end ' || (i + 3)] AS endings,
                       (i % 4)::VARCHAR AS label
                FROM range(500) t(i)""", "COMPRESSION snappy");
        readAndCompare("""
                SELECT 'question ' || i AS question, 'subject_' || (i % 3) AS subject,
                       ['choice a' || i, 'choice b', 'choice c', 'choice d'] AS choices, (i % 4)::BIGINT AS answer
                FROM range(300) t(i)""", "COMPRESSION zstd");
    }

    @Test
    void nestedListsAndListsOfStructs() throws Exception {
        readAndCompare("""
                SELECT * FROM (VALUES
                  (1, [[1, 2], [], NULL, [3, NULL]], [{'k': 'a', 'v': 1}, NULL, {'k': NULL, 'v': 2}]),
                  (2, [], []),
                  (3, NULL, NULL),
                  (4, [[NULL]], [{'k': 'z', 'v': NULL}])
                ) t(id, matrix, pairs)""", "COMPRESSION snappy");
    }

    @ParameterizedTest
    @CsvSource({"uncompressed, UNCOMPRESSED", "snappy, SNAPPY", "gzip, GZIP", "zstd, ZSTD", "lz4, LZ4_RAW"})
    void everySupportedCodec(String duckDbName, String parquetName) throws Exception {
        String select = """
                SELECT i AS id, 'text number ' || i AS text, [i::VARCHAR, 'x'] AS list, i * 0.25 AS d
                FROM range(3000) t(i)""";
        Path file = write(select.replace("i * 0.25", "(i * 0.25)::DOUBLE"), "COMPRESSION " + duckDbName);
        assertThat(PageInspector.pages(file)).extracting(PageInspector.Page::codec).containsOnly(parquetName);
        assertThat(ParquetReader.readRows(file)).isEqualTo(db.readParquet(file)).hasSize(3000);
    }

    @Test
    void rowOrderIsKeptAcrossManyRowGroups() throws Exception {
        // DuckDB rounds row groups to its 2048-row vectors.
        Path file = write("SELECT i AS id, 'r' || i AS name, [i, i + 1] AS pair FROM range(12000) t(i)",
                "COMPRESSION snappy, ROW_GROUP_SIZE 2048");
        assertThat(PageInspector.footer(file).rowGroups()).hasSizeGreaterThan(4);
        List<Map<String, Object>> rows = ParquetReader.readRows(file);
        assertThat(rows).hasSize(12000);
        for (int i = 0; i < rows.size(); i++) {
            assertThat(rows.get(i)).containsEntry("id", (long) i).containsEntry("name", "r" + i)
                    .containsEntry("pair", List.of((long) i, i + 1L));
        }
    }

    @Test
    void dictionaryEncodedColumns() throws Exception {
        Path file = write("""
                SELECT 'subject_' || (i % 7) AS subject, (i % 4)::BIGINT AS answer,
                       CASE WHEN i % 5 = 0 THEN NULL ELSE ['A', 'B', 'C', 'D'][(i % 4) + 1] END AS label
                FROM range(20000) t(i)""", "COMPRESSION snappy");
        assertThat(PageInspector.pages(file)).extracting(PageInspector.Page::type).contains("DICTIONARY_PAGE");
        assertThat(PageInspector.pages(file)).extracting(PageInspector.Page::encoding).contains("PLAIN_DICTIONARY");
        List<Map<String, Object>> rows = ParquetReader.readRows(file);
        assertThat(rows).isEqualTo(db.readParquet(file));
        assertThat(rows.get(5)).containsEntry("label", null).containsEntry("subject", "subject_5");
        assertThat(rows.get(6)).containsEntry("label", "C");
    }

    @Test
    void parquetVersion2EncodingsDeltaAndByteStreamSplit() throws Exception {
        Path file = write("""
                SELECT i::INTEGER AS small, (i * 1000003)::BIGINT AS big, 'unique text ' || i AS text,
                       CASE WHEN i % 3 = 0 THEN NULL ELSE i * 0.5 END::DOUBLE AS d,
                       CASE WHEN i % 3 = 0 THEN NULL ELSE (i * 0.5)::FLOAT END AS f,
                       ['e' || i, 'f' || i] AS endings
                FROM range(5000) t(i)""", "COMPRESSION zstd, PARQUET_VERSION v2");
        assertThat(PageInspector.pages(file)).extracting(PageInspector.Page::encoding)
                .contains("DELTA_BINARY_PACKED", "DELTA_LENGTH_BYTE_ARRAY");
        assertThat(ParquetReader.readRows(file)).isEqualTo(db.readParquet(file));
    }

    @Test
    void byteStreamSplitFloatsAndDoubles() throws Exception {
        Path file = write("""
                SELECT (i * 0.37)::DOUBLE AS d, (i / 7.0)::FLOAT AS f, i::INTEGER AS n FROM range(2000) t(i)""",
                "PARQUET_VERSION v2");
        List<String> encodings = PageInspector.pages(file).stream().map(PageInspector.Page::encoding).toList();
        assertThat(encodings).contains("BYTE_STREAM_SPLIT");
        assertThat(ParquetReader.readRows(file)).isEqualTo(db.readParquet(file));
    }

    @Test
    void manyRowsWithNullsEverywhere() throws Exception {
        readAndCompare("""
                SELECT CASE WHEN i % 11 = 0 THEN NULL ELSE i END AS id,
                       CASE WHEN i % 13 = 0 THEN NULL ELSE 'value ' || i END AS text,
                       CASE WHEN i % 17 = 0 THEN NULL WHEN i % 19 = 0 THEN []
                            ELSE ['a' || i, CASE WHEN i % 2 = 0 THEN NULL ELSE 'b' END] END AS list,
                       CASE WHEN i % 23 = 0 THEN NULL ELSE (i % 2 = 0) END AS flag
                FROM range(50000) t(i)""", "COMPRESSION snappy, ROW_GROUP_SIZE 20000");
    }

    @Test
    void emptyFileHasNoRows() throws Exception {
        assertThat(readAndCompare("SELECT 1 AS a, 'x' AS b WHERE false", "")).isEmpty();
    }

    @Test
    void unsupportedCodecIsNamed() throws Exception {
        Path file = write("SELECT 'x' AS s", "COMPRESSION brotli");
        assertThatThrownBy(() -> ParquetReader.readRows(file))
                .isInstanceOf(ParquetFormatException.class)
                .hasMessageStartingWith(file.toString())
                .hasMessageContaining("unsupported compression codec BROTLI")
                .hasMessageContaining("column s");
    }

    @Test
    void mapColumnsAreRefusedByName() throws Exception {
        Path file = write("SELECT MAP {'a': 1} AS m", "");
        assertThatThrownBy(() -> ParquetReader.readRows(file))
                .isInstanceOf(ParquetFormatException.class)
                .hasMessageStartingWith(file.toString())
                .hasMessageContaining("m is a MAP");
    }

    @ParameterizedTest
    @ValueSource(strings = {"snappy", "zstd"})
    void largerStringColumnsRoundTrip(String codec) throws Exception {
        readAndCompare("""
                SELECT i AS id, repeat('Lorem ipsum dolor sit amet ' || i || ' ', 1 + (i % 20)) AS ctx
                FROM range(4000) t(i)""", "COMPRESSION " + codec);
    }
}
