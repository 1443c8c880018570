package dev.earlyexit.dataset.parquet;

import dev.earlyexit.dataset.parquet.TestParquetWriter.Element;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.earlyexit.dataset.parquet.ParquetMetadata.CONVERTED_LIST;
import static dev.earlyexit.dataset.parquet.ParquetMetadata.CONVERTED_UTF8;
import static dev.earlyexit.dataset.parquet.ParquetMetadata.OPTIONAL;
import static dev.earlyexit.dataset.parquet.ParquetMetadata.REPEATED;
import static dev.earlyexit.dataset.parquet.ParquetMetadata.REQUIRED;
import static dev.earlyexit.dataset.parquet.ParquetMetadata.TYPE_BYTE_ARRAY;
import static dev.earlyexit.dataset.parquet.ParquetMetadata.TYPE_INT32;
import static dev.earlyexit.dataset.parquet.TestParquetWriter.chunk;
import static dev.earlyexit.dataset.parquet.TestParquetWriter.group;
import static dev.earlyexit.dataset.parquet.TestParquetWriter.leaf;
import static dev.earlyexit.dataset.parquet.TestParquetWriter.page;
import static dev.earlyexit.dataset.parquet.TestParquetWriter.root;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Files built byte by byte for what DuckDB does not write: data page v2, several pages per
 * column chunk, legacy 2-level lists, deprecated BIT_PACKED levels, page checksums. Expected rows
 * are spelled out, and DuckDB's reader is asked too where the layout is unambiguous.
 */
class ParquetHandBuiltFilesTest {
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

    private Path save(byte[] bytes) throws Exception {
        return Files.write(dir.resolve("hand.parquet"), bytes);
    }

    private static Map<String, Object> row(Object... keysAndValues) {
        Map<String, Object> row = new LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            row.put((String) keysAndValues[i], keysAndValues[i + 1]);
        }
        return row;
    }

    /** text: optional string; endings: optional 3-level list of optional strings; two pages each. */
    private static TestParquetWriter textAndEndings() {
        return new TestParquetWriter(
                root(2),
                leaf("text", OPTIONAL, TYPE_BYTE_ARRAY, CONVERTED_UTF8),
                group("endings", OPTIONAL, CONVERTED_LIST, 1),
                group("list", REPEATED, null, 1),
                leaf("element", OPTIONAL, TYPE_BYTE_ARRAY, CONVERTED_UTF8))
                .rowGroup(5,
                        chunk(TYPE_BYTE_ARRAY, "text",
                                page(new int[] {1, 0, 1}, null, "a", "ü"),
                                page(new int[] {1, 1}, null, "", "last")),
                        chunk(TYPE_BYTE_ARRAY, "endings.list.element",
                                page(new int[] {3, 3, 1}, new int[] {0, 1, 0}, "x", "y"),
                                page(new int[] {0, 2, 3, 3}, new int[] {0, 0, 1, 0}, "z", "w")))
                .rowGroup(1,
                        chunk(TYPE_BYTE_ARRAY, "text", page(new int[] {1}, null, "second group")),
                        chunk(TYPE_BYTE_ARRAY, "endings.list.element",
                                page(new int[] {3, 3, 3}, new int[] {0, 1, 1}, "x", "x", "x")));
    }

    private static final List<Map<String, Object>> TEXT_AND_ENDINGS = List.of(
            row("text", "a", "endings", List.of("x", "y")),
            row("text", null, "endings", List.of()),
            row("text", "ü", "endings", null),
            row("text", "", "endings", Arrays.asList(null, "z")),
            row("text", "last", "endings", List.of("w")),
            row("text", "second group", "endings", List.of("x", "x", "x")));

    @ParameterizedTest(name = "v2={0} snappy={1} dictionary={2} bitPacked={3} checksums={4}")
    @CsvSource({
            "false, false, false, false, false",
            "true,  false, false, false, false",
            "true,  true,  false, false, true",
            "false, true,  true,  true,  true",
            "true,  true,  true,  false, false",
            "true,  false, true,  true,  false"})
    void pagesInEveryLayout(boolean v2, boolean snappy, boolean dictionary, boolean bitPacked, boolean checksums)
            throws Exception {
        TestParquetWriter writer = textAndEndings();
        if (v2) {
            writer.v2Pages();
        }
        if (snappy) {
            writer.snappy();
        }
        if (dictionary) {
            writer.dictionary();
        }
        if (bitPacked) {
            writer.bitPackedRuns();
        }
        if (checksums) {
            writer.checksums();
        }
        Path file = save(writer.build());
        List<String> types = PageInspector.pages(file).stream().map(PageInspector.Page::type).toList();
        assertThat(types).contains(v2 ? "DATA_PAGE_V2" : "DATA_PAGE");
        assertThat(types.stream().filter(t -> t.startsWith("DATA")).count()).isEqualTo(6);
        assertThat(ParquetReader.readRows(file)).isEqualTo(TEXT_AND_ENDINGS);
        assertThat(db.readParquet(file)).isEqualTo(TEXT_AND_ENDINGS);
    }

    @Test
    void deprecatedBitPackedLevels() throws Exception {
        Path file = save(textAndEndings().deprecatedBitPackedLevels().build());
        assertThat(ParquetReader.readRows(file)).isEqualTo(TEXT_AND_ENDINGS);
    }

    @Test
    void pageChecksumMismatchIsReported() throws Exception {
        byte[] bytes = textAndEndings().checksums().build();
        // The first page's data ("a" and "ü" after the levels) starts a few bytes into the file.
        int at = indexOf(bytes, "ü".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        bytes[at] ^= 0x01;
        Path file = save(bytes);
        assertThatThrownBy(() -> ParquetReader.readRows(file))
                .isInstanceOf(ParquetFormatException.class)
                .hasMessageStartingWith(file.toString())
                .hasMessageContaining("row group 0")
                .hasMessageContaining("column text")
                .hasMessageContaining("page 0")
                .hasMessageContaining("checksum mismatch");
    }

    @Test
    void legacyTwoLevelListOfPrimitivesNamedArray() throws Exception {
        // optional group tags (LIST) { repeated binary array (UTF8); } : elements are the repeated field.
        Path file = save(new TestParquetWriter(
                root(1),
                group("tags", OPTIONAL, CONVERTED_LIST, 1),
                leaf("array", REPEATED, TYPE_BYTE_ARRAY, CONVERTED_UTF8))
                .rowGroup(3, chunk(TYPE_BYTE_ARRAY, "tags.array",
                        page(new int[] {2, 2, 1, 0}, new int[] {0, 1, 0, 0}, "a", "b")))
                .build());
        List<Map<String, Object>> expected = List.of(row("tags", List.of("a", "b")), row("tags", List.of()),
                row("tags", null));
        assertThat(ParquetReader.readRows(file)).isEqualTo(expected);
        assertThat(db.readParquet(file)).isEqualTo(expected);
    }

    @Test
    void legacyTwoLevelListOfRequiredInts() throws Exception {
        // required group nums (LIST) { repeated int32 element; } : a primitive repeated field is the element.
        Path file = save(new TestParquetWriter(
                root(1),
                group("nums", REQUIRED, CONVERTED_LIST, 1),
                leaf("element", REPEATED, TYPE_INT32, null))
                .rowGroup(3, chunk(TYPE_INT32, "nums.element",
                        page(new int[] {1, 1, 1, 0, 1}, new int[] {0, 1, 1, 0, 0}, 1, 2, 3, 4)))
                .build());
        List<Map<String, Object>> expected = List.of(row("nums", List.of(1L, 2L, 3L)), row("nums", List.of()),
                row("nums", List.of(4L)));
        assertThat(ParquetReader.readRows(file)).isEqualTo(expected);
        assertThat(db.readParquet(file)).isEqualTo(expected);
    }

    @Test
    void legacyTwoLevelListsOfOneFieldGroupsNamedArrayOrTuple() throws Exception {
        // A repeated one-field group named "array" or "<list>_tuple" is the element itself (a struct),
        // not the 3-level wrapper.
        Path file = save(new TestParquetWriter(
                root(2),
                group("pairs", OPTIONAL, CONVERTED_LIST, 1),
                group("array", REPEATED, null, 1),
                leaf("str", REQUIRED, TYPE_BYTE_ARRAY, CONVERTED_UTF8),
                group("things", OPTIONAL, CONVERTED_LIST, 1),
                group("things_tuple", REPEATED, null, 1),
                leaf("str", REQUIRED, TYPE_BYTE_ARRAY, CONVERTED_UTF8))
                .rowGroup(2,
                        chunk(TYPE_BYTE_ARRAY, "pairs.array.str", page(new int[] {2, 2, 0}, new int[] {0, 1, 0}, "a", "b")),
                        chunk(TYPE_BYTE_ARRAY, "things.things_tuple.str", page(new int[] {1, 2}, new int[] {0, 0}, "t")))
                .build());
        assertThat(ParquetReader.readRows(file)).isEqualTo(List.of(
                row("pairs", List.of(row("str", "a"), row("str", "b")), "things", List.of()),
                row("pairs", null, "things", List.of(row("str", "t")))));
    }

    @Test
    void legacyTwoLevelListOfMultiFieldGroupsAndBareRepeatedField() throws Exception {
        // optional group kv (LIST) { repeated group entry { required binary k; optional int32 v; } }
        // and a bare repeated binary names (UTF8) outside any LIST annotation.
        Path file = save(new TestParquetWriter(
                root(2),
                group("kv", OPTIONAL, CONVERTED_LIST, 1),
                group("entry", REPEATED, null, 2),
                leaf("k", REQUIRED, TYPE_BYTE_ARRAY, CONVERTED_UTF8),
                leaf("v", OPTIONAL, TYPE_INT32, null),
                leaf("names", REPEATED, TYPE_BYTE_ARRAY, CONVERTED_UTF8))
                .rowGroup(3,
                        chunk(TYPE_BYTE_ARRAY, "kv.entry.k",
                                page(new int[] {2, 2, 0, 1}, new int[] {0, 1, 0, 0}, "p", "q")),
                        chunk(TYPE_INT32, "kv.entry.v",
                                page(new int[] {3, 2, 0, 1}, new int[] {0, 1, 0, 0}, 7)),
                        chunk(TYPE_BYTE_ARRAY, "names",
                                page(new int[] {1, 0, 1, 1}, new int[] {0, 0, 0, 1}, "n1", "n2", "n3")))
                .build());
        List<Map<String, Object>> expected = List.of(
                row("kv", List.of(row("k", "p", "v", 7L), row("k", "q", "v", null)), "names", List.of("n1")),
                row("kv", null, "names", List.of()),
                row("kv", List.of(), "names", List.of("n2", "n3")));
        assertThat(ParquetReader.readRows(file)).isEqualTo(expected);
        assertThat(db.readParquet(file)).isEqualTo(expected);
    }

    @Test
    void columnsWhoseListLengthsDisagreeAreReportedNotMisassembled() throws Exception {
        // kv.entry.k says row 0 has two entries, kv.entry.v says one: the struct list cannot be rebuilt.
        Path file = save(new TestParquetWriter(
                root(1),
                group("kv", OPTIONAL, CONVERTED_LIST, 1),
                group("entry", REPEATED, null, 2),
                leaf("k", REQUIRED, TYPE_BYTE_ARRAY, CONVERTED_UTF8),
                leaf("v", OPTIONAL, TYPE_INT32, null))
                .rowGroup(2,
                        chunk(TYPE_BYTE_ARRAY, "kv.entry.k", page(new int[] {2, 2, 2}, new int[] {0, 1, 0}, "p", "q", "r")),
                        chunk(TYPE_INT32, "kv.entry.v", page(new int[] {3, 3, 3}, new int[] {0, 0, 1}, 1, 2, 3)))
                .build());
        assertThatThrownBy(() -> ParquetReader.readRows(file))
                .isInstanceOf(ParquetFormatException.class)
                .hasMessageStartingWith(file.toString())
                .hasMessageStartingWith(file + ": row group 0: row 0, column kv.entry.v: ");
    }

    @Test
    void rowCountMismatchBetweenFooterAndLevelsIsReportedWithTheFilesRowIndex() throws Exception {
        Path file = save(new TestParquetWriter(root(1), leaf("x", REQUIRED, TYPE_INT32, null))
                .rowGroup(2, chunk(TYPE_INT32, "x", page(null, null, 1, 2)))
                .rowGroup(4, chunk(TYPE_INT32, "x", page(null, null, 3, 4, 5)))
                .build());
        assertThatThrownBy(() -> ParquetReader.readRows(file))
                .isInstanceOf(ParquetFormatException.class)
                .hasMessage(file + ": row group 1: row 5, column x: the column ends before the row group's 4 rows");
    }

    @Test
    void unsupportedEncodingIsNamedWithItsColumn() throws Exception {
        Path file = save(textAndEndings().claimEncoding(Encodings.DELTA_BINARY_PACKED).build());
        assertThatThrownBy(() -> ParquetReader.readRows(file))
                .isInstanceOf(ParquetFormatException.class)
                .hasMessage(file + ": row group 0: column text: page 0: unsupported encoding DELTA_BINARY_PACKED"
                        + " for BYTE_ARRAY values");
        Path unknown = save(textAndEndings().claimEncoding(1).build());
        assertThatThrownBy(() -> ParquetReader.readRows(unknown))
                .isInstanceOf(ParquetFormatException.class)
                .hasMessageContaining("column text: page 0: unsupported encoding GROUP_VAR_INT");
    }

    @Test
    void int96IsRefusedByName() throws Exception {
        Path file = save(new TestParquetWriter(root(1), leaf("ts", OPTIONAL, ParquetMetadata.TYPE_INT96, null))
                .build());
        assertThatThrownBy(() -> ParquetReader.readRows(file))
                .isInstanceOf(ParquetFormatException.class)
                .hasMessage(file + ": column ts has the legacy INT96 type (old timestamps), which this reader"
                        + " does not support");
    }

    @Test
    void invalidUtf8InAStringColumnIsReported() throws Exception {
        Path file = save(new TestParquetWriter(root(1), leaf("s", REQUIRED, TYPE_BYTE_ARRAY, CONVERTED_UTF8))
                .rowGroup(2, chunk(TYPE_BYTE_ARRAY, "s",
                        page(null, null, "fine \uFFFD replacement char", new byte[] {'b', 'a', (byte) 0xC3, 'd'})))
                .build());
        assertThatThrownBy(() -> ParquetReader.readRows(file))
                .isInstanceOf(ParquetFormatException.class)
                .hasMessage(file + ": row group 0: column s: page 0: string value is not valid UTF-8");
    }

    @Test
    void genuineReplacementCharactersAreKept() throws Exception {
        Path file = save(new TestParquetWriter(root(1), leaf("s", REQUIRED, TYPE_BYTE_ARRAY, CONVERTED_UTF8))
                .rowGroup(1, chunk(TYPE_BYTE_ARRAY, "s", page(null, null, "a \uFFFD b")))
                .build());
        assertThat(ParquetReader.readRows(file)).isEqualTo(List.of(row("s", "a \uFFFD b")));
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        throw new AssertionError("not found");
    }
}
