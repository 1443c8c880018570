package dev.earlyexit.dataset.parquet;

import java.nio.file.Path;
import java.sql.Array;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Struct;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An in-memory DuckDB, the independent writer the reader is tested against: it writes Parquet
 * files with COPY and reads query results back as the values {@link ParquetReader} should return.
 */
final class DuckDb implements AutoCloseable {
    private final Connection connection;

    DuckDb() throws SQLException {
        connection = DriverManager.getConnection("jdbc:duckdb:");
    }

    void execute(String sql) throws SQLException {
        try (Statement statement = connection.createStatement()) {
            statement.execute(sql);
        }
    }

    /** Writes {@code select}'s result to {@code file} with the given COPY options (after FORMAT parquet). */
    Path write(String select, Path file, String options) throws SQLException {
        String extra = options.isBlank() ? "" : ", " + options;
        execute("COPY (" + select + ") TO '" + file + "' (FORMAT parquet" + extra + ")");
        return file;
    }

    /** The rows of {@code sql}, converted to the Java types ParquetReader returns. */
    List<Map<String, Object>> query(String sql) throws SQLException {
        List<Map<String, Object>> rows = new ArrayList<>();
        try (Statement statement = connection.createStatement(); ResultSet rs = statement.executeQuery(sql)) {
            ResultSetMetaData meta = rs.getMetaData();
            while (rs.next()) {
                Map<String, Object> row = new LinkedHashMap<>();
                for (int c = 1; c <= meta.getColumnCount(); c++) {
                    row.put(meta.getColumnLabel(c), normalize(rs.getObject(c)));
                }
                rows.add(row);
            }
        }
        return rows;
    }

    /** The rows of a Parquet file as DuckDB reads them. */
    List<Map<String, Object>> readParquet(Path file) throws SQLException {
        return query("SELECT * FROM read_parquet('" + file + "')");
    }

    static Object normalize(Object value) throws SQLException {
        if (value instanceof Integer || value instanceof Short || value instanceof Byte) {
            return ((Number) value).longValue();
        }
        if (value instanceof Float f) {
            return (double) f;
        }
        if (value instanceof Array array) {
            List<Object> list = new ArrayList<>();
            for (Object element : (Object[]) array.getArray()) {
                list.add(normalize(element));
            }
            return list;
        }
        if (value instanceof Struct struct) {
            Map<String, Object> map = new LinkedHashMap<>();
            Object[] attributes = struct.getAttributes();
            Map<String, Object> named = structMap(struct);
            int i = 0;
            for (Map.Entry<String, Object> e : named.entrySet()) {
                map.put(e.getKey(), normalize(attributes[i++]));
            }
            return map;
        }
        return value;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> structMap(Struct struct) throws SQLException {
        try {
            return (Map<String, Object>) struct.getClass().getMethod("getMap").invoke(struct);
        } catch (ReflectiveOperationException e) {
            throw new SQLException("DuckDB struct without getMap()", e);
        }
    }

    @Override
    public void close() throws SQLException {
        connection.close();
    }
}
