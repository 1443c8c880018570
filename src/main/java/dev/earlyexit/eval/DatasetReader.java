package dev.earlyexit.eval;

import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.earlyexit.dataset.parquet.ParquetReader;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.PushbackReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads a data set in the forms its publishers ship, by extension: JSON lines ({@code .jsonl}, and
 * {@code .json} unless the file is one JSON array), CSV ({@code .csv}, first record the header; MMLU's
 * original headerless files are recognised) and Parquet ({@code .parquet}). Every row carries its
 * location for error messages: "file line N" (the line a CSV record starts on), "file row N" for Parquet.
 */
public final class DatasetReader {
    /** Column names of the original MMLU (hendrycks/test) CSVs, which have no header. */
    static final List<String> HENDRYCKS_MMLU_COLUMNS = List.of("question", "A", "B", "C", "D", "answer");
    private static final Pattern SPLIT_SUFFIX = Pattern.compile("(.+)_(test|dev|val|validation|train|auxiliary_train)");
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private DatasetReader() {
    }

    /** Rows read and whether reading stopped at the limit (more rows may follow). */
    public record Rows(List<Row> rows, boolean limited) {
    }

    /** At most {@code limit} rows (0: all) of {@code file}; {@code task} only tells MMLU's headerless CSVs apart. */
    public static Rows read(Path file, Task task, int limit) throws IOException {
        try {
            return readByExtension(file, task, limit);
        } catch (java.nio.charset.CharacterCodingException e) {
            // the decoder's own message ("Input length = 1") names neither the file nor the problem
            throw new DatasetException(file.toString(), "not UTF-8 text (" + e.getMessage() + ")");
        }
    }

    private static Rows readByExtension(Path file, Task task, int limit) throws IOException {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        if (name.endsWith(".jsonl")) {
            try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
                return jsonLines(file, in, limit);
            }
        }
        if (name.endsWith(".json")) {
            return json(file, limit);
        }
        if (name.endsWith(".csv")) {
            return csv(file, task, limit);
        }
        if (name.endsWith(".parquet")) {
            return parquet(file, limit);
        }
        throw new IllegalArgumentException(file + ": unknown data format (expected .jsonl, .json, .csv or .parquet)");
    }

    private static Rows json(Path file, int limit) throws IOException {
        try (PushbackReader in = new PushbackReader(Files.newBufferedReader(file, StandardCharsets.UTF_8))) {
            int c = in.read();
            while (c != -1 && Character.isWhitespace(c)) {
                c = in.read();
            }
            if (c != -1) {
                in.unread(c);
            }
            // A .json file may be one array of objects (pandas' to_json) rather than JSON lines.
            return c == '[' ? jsonArray(file, in, limit) : jsonLines(file, new BufferedReader(in), limit);
        }
    }

    private static Rows jsonLines(Path file, BufferedReader in, int limit) throws IOException {
        List<Row> rows = new ArrayList<>();
        String text;
        int line = 0;
        while ((text = in.readLine()) != null) {
            line++;
            if (line == 1 && text.startsWith("\uFEFF")) {
                text = text.substring(1);
            }
            if (text.isBlank()) {
                continue;
            }
            if (limit > 0 && rows.size() == limit) {
                return new Rows(rows, true);
            }
            String where = file + " line " + line;
            JsonNode node;
            try {
                node = MAPPER.readTree(text);
            } catch (JsonProcessingException e) {
                throw new DatasetException(where, "unparsable JSON: " + e.getOriginalMessage());
            }
            if (node == null || !node.isObject()) {
                throw new DatasetException(where, "expected a JSON object, got " + (node == null ? "nothing"
                        : node.getNodeType().name().toLowerCase(Locale.ROOT)));
            }
            rows.add(new Row(where, toMap(node)));
        }
        return new Rows(rows, false);
    }

    private static Rows jsonArray(Path file, java.io.Reader in, int limit) throws IOException {
        List<Row> rows = new ArrayList<>();
        try (JsonParser p = MAPPER.getFactory().createParser(in)) {
            p.nextToken(); // [
            while (true) {
                JsonToken t = p.nextToken();
                if (t == JsonToken.END_ARRAY) {
                    return new Rows(rows, false);
                }
                String where = file + " line " + p.currentTokenLocation().getLineNr();
                if (t == null) {
                    throw new DatasetException(where, "unparsable JSON: the array is not closed");
                }
                if (limit > 0 && rows.size() == limit) {
                    return new Rows(rows, true);
                }
                JsonNode node = p.readValueAsTree();
                if (!node.isObject()) {
                    throw new DatasetException(where, "expected a JSON object, got "
                            + node.getNodeType().name().toLowerCase(Locale.ROOT));
                }
                rows.add(new Row(where, toMap(node)));
            }
        } catch (JsonParseException e) {
            throw new DatasetException(file + " line " + e.getLocation().getLineNr(), "unparsable JSON: "
                    + e.getOriginalMessage());
        }
    }

    /** Jackson's tree as the plain values Parquet rows have, so the tasks read one kind of row. */
    static Object toValue(JsonNode n) {
        if (n.isTextual()) {
            return n.textValue();
        }
        if (n.isIntegralNumber()) {
            return n.canConvertToLong() ? (Object) n.longValue() : (Object) n.doubleValue();
        }
        if (n.isNumber()) {
            return n.doubleValue();
        }
        if (n.isBoolean()) {
            return n.booleanValue();
        }
        if (n.isArray()) {
            List<Object> list = new ArrayList<>(n.size());
            for (JsonNode e : n) {
                list.add(toValue(e));
            }
            return list;
        }
        if (n.isObject()) {
            return toMap(n);
        }
        return null;
    }

    private static Map<String, Object> toMap(JsonNode object) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : object.properties()) {
            m.put(e.getKey(), toValue(e.getValue()));
        }
        return m;
    }

    private static Rows csv(Path file, Task task, int limit) throws IOException {
        List<Row> rows = new ArrayList<>();
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            CsvReader reader = new CsvReader(in, file.toString());
            CsvReader.Record first = reader.next();
            if (first == null) {
                return new Rows(rows, false);
            }
            List<String> columns = first.fields();
            String subject = null;
            CsvReader.Record pending = null;
            if (task == Task.MMLU && !columns.contains("question")) {
                // hendrycks/test ships data/test/<subject>_test.csv: question, A, B, C, D, answer, no header.
                columns = HENDRYCKS_MMLU_COLUMNS;
                subject = subjectOf(file);
                pending = first;
            }
            String expected = columns == HENDRYCKS_MMLU_COLUMNS ? " (question, A, B, C, D, answer: MMLU's "
                    + "original CSV)" : " (as the header)";
            while (true) {
                CsvReader.Record r = pending != null ? pending : reader.next();
                pending = null;
                if (r == null) {
                    return new Rows(rows, false);
                }
                if (limit > 0 && rows.size() == limit) {
                    return new Rows(rows, true);
                }
                String where = file + " line " + r.line();
                if (r.fields().size() != columns.size()) {
                    throw new DatasetException(where, r.fields().size() + " fields, expected " + columns.size()
                            + expected);
                }
                Map<String, Object> m = new LinkedHashMap<>();
                for (int i = 0; i < columns.size(); i++) {
                    m.put(columns.get(i), r.fields().get(i));
                }
                if (subject != null) {
                    m.put("subject", subject);
                }
                rows.add(new Row(where, m));
            }
        }
    }

    /** abstract_algebra_test.csv → abstract_algebra (the subject is only in the file name). */
    static String subjectOf(Path file) {
        String stem = file.getFileName().toString();
        stem = stem.substring(0, stem.length() - ".csv".length());
        Matcher m = SPLIT_SUFFIX.matcher(stem);
        return m.matches() ? m.group(1) : stem;
    }

    private static Rows parquet(Path file, int limit) throws IOException {
        List<Map<String, Object>> all;
        try {
            all = ParquetReader.readRows(file);
        } catch (IOException e) {
            String m = e.getMessage();
            if (m != null && m.contains(file.toString())) {
                throw e;
            }
            throw new IOException(file + ": " + m, e);
        }
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < all.size(); i++) {
            if (limit > 0 && rows.size() == limit) {
                return new Rows(rows, true);
            }
            rows.add(new Row(file + " row " + (i + 1), all.get(i)));
        }
        return new Rows(rows, false);
    }
}
