package dev.earlyexit.dataset.parquet;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Random rows in the ARC and HellaSwag shapes, inserted into DuckDB, written as Parquet with a
 * random codec, and read back: readRows must return exactly the generated rows.
 */
class ParquetRoundTripPropertyTest {
    private static final List<String> CODECS = List.of("uncompressed", "snappy", "gzip", "zstd");
    private static DuckDb db;

    @BeforeContainer
    static void open() throws Exception {
        db = new DuckDb();
    }

    @AfterContainer
    static void close() throws Exception {
        db.close();
    }

    @Property(tries = 30)
    void arcRowsRoundTrip(@ForAll("arcRows") List<Map<String, Object>> rows, @ForAll("codecs") String codec)
            throws Exception {
        db.execute("CREATE OR REPLACE TABLE arc (id VARCHAR, question VARCHAR, "
                + "choices STRUCT(text VARCHAR[], label VARCHAR[]), answerKey VARCHAR)");
        for (Map<String, Object> row : rows) {
            Map<?, ?> choices = (Map<?, ?>) row.get("choices");
            String choicesSql = choices == null ? "NULL"
                    : "{'text': " + list((List<?>) choices.get("text")) + ", 'label': " + list((List<?>) choices.get("label")) + "}";
            db.execute("INSERT INTO arc VALUES (" + string(row.get("id")) + ", " + string(row.get("question")) + ", "
                    + choicesSql + ", " + string(row.get("answerKey")) + ")");
        }
        assertThat(writeAndRead("arc", codec)).isEqualTo(rows);
    }

    @Property(tries = 30)
    void hellaswagRowsRoundTrip(@ForAll("hellaswagRows") List<Map<String, Object>> rows,
                                @ForAll("codecs") String codec) throws Exception {
        db.execute("CREATE OR REPLACE TABLE hellaswag (ind BIGINT, ctx VARCHAR, endings VARCHAR[], label VARCHAR)");
        for (Map<String, Object> row : rows) {
            db.execute("INSERT INTO hellaswag VALUES (" + row.get("ind") + ", " + string(row.get("ctx")) + ", "
                    + list((List<?>) row.get("endings")) + ", " + string(row.get("label")) + ")");
        }
        assertThat(writeAndRead("hellaswag", codec)).isEqualTo(rows);
    }

    private static List<Map<String, Object>> writeAndRead(String table, String codec) throws Exception {
        Path file = Files.createTempFile("roundtrip", ".parquet");
        try {
            db.write("SELECT * FROM " + table + " ORDER BY rowid", file, "COMPRESSION " + codec);
            return ParquetReader.readRows(file);
        } finally {
            Files.delete(file);
        }
    }

    @Provide
    Arbitrary<String> codecs() {
        return Arbitraries.of(CODECS);
    }

    @Provide
    Arbitrary<List<Map<String, Object>>> arcRows() {
        Arbitrary<List<String>> labels = Arbitraries.of(List.of("A", "B", "C", "D"), List.of("1", "2", "3", "4"),
                List.of("A", "B", "C"), List.of());
        Arbitrary<Map<String, Object>> choices = labels.flatMap(l -> texts().list().ofSize(l.size()).map(t -> {
            Map<String, Object> map = new LinkedHashMap<>();
            map.put("text", t);
            map.put("label", l);
            return map;
        })).injectNull(0.05);
        Arbitrary<Map<String, Object>> row = Combinators.combine(texts(), texts(), choices,
                Arbitraries.of("A", "B", "C", "D", "1").injectNull(0.1)).as((id, question, c, key) -> {
                    Map<String, Object> map = new LinkedHashMap<>();
                    map.put("id", id);
                    map.put("question", question);
                    map.put("choices", c);
                    map.put("answerKey", key);
                    return map;
                });
        return row.list().ofMinSize(0).ofMaxSize(60);
    }

    @Provide
    Arbitrary<List<Map<String, Object>>> hellaswagRows() {
        Arbitrary<Map<String, Object>> row = Combinators.combine(
                Arbitraries.longs().between(-5, Long.MAX_VALUE),
                texts(),
                texts().injectNull(0.1).list().ofMaxSize(5).injectNull(0.1),
                Arbitraries.of("0", "1", "2", "3").injectNull(0.1)).as((ind, ctx, endings, label) -> {
                    Map<String, Object> map = new LinkedHashMap<>();
                    map.put("ind", ind);
                    map.put("ctx", ctx);
                    map.put("endings", endings);
                    map.put("label", label);
                    return map;
                });
        return row.list().ofMinSize(0).ofMaxSize(60);
    }

    /** Strings from all of Unicode but NUL and lone surrogates, often empty, sometimes null. */
    private static Arbitrary<String> texts() {
        Arbitrary<Integer> codePoint = Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(6, Arbitraries.integers().between(0x20, 0x7E)),
                net.jqwik.api.Tuple.of(2, Arbitraries.integers().between(0x80, 0xD7FF)),
                net.jqwik.api.Tuple.of(1, Arbitraries.integers().between(0x10000, 0x10FFFF)));
        return codePoint.list().ofMaxSize(40)
                .map(cps -> cps.stream().collect(StringBuilder::new, StringBuilder::appendCodePoint,
                        StringBuilder::append).toString())
                .injectNull(0.05);
    }

    private static String string(Object value) {
        return value == null ? "NULL" : "'" + ((String) value).replace("'", "''") + "'";
    }

    private static String list(List<?> values) {
        if (values == null) {
            return "NULL";
        }
        List<String> parts = new ArrayList<>();
        for (Object v : values) {
            parts.add(string(v));
        }
        // A typed empty list: DuckDB cannot infer the element type of [].
        return "CAST([" + parts.stream().collect(Collectors.joining(", ")) + "] AS VARCHAR[])";
    }
}
