package dev.earlyexit.eval;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * One record of a data set, whatever the file format: field name to value (String, byte[], Long, Double,
 * Boolean, null, List, Map), and where it came from ("data.jsonl line 3", "data.parquet row 3"). The
 * typed getters turn a missing field or a wrong type into one message naming that place.
 */
public record Row(String location, Map<String, Object> fields) {

    public DatasetException error(String problem) {
        return new DatasetException(location, problem);
    }

    public boolean has(String field) {
        return fields.containsKey(field) && fields.get(field) != null;
    }

    public Object require(String field) {
        if (!fields.containsKey(field)) {
            throw error("missing field '" + field + "'");
        }
        Object v = fields.get(field);
        if (v == null) {
            throw error("field '" + field + "' is null");
        }
        return v;
    }

    public String string(String field) {
        return asString(require(field), field);
    }

    /** A string value; Parquet binary columns without a string annotation come as UTF-8 bytes. */
    String asString(Object v, String what) {
        if (v instanceof String s) {
            return s;
        }
        if (v instanceof byte[] b) {
            return new String(b, StandardCharsets.UTF_8);
        }
        throw error("field '" + what + "' must be a string, got " + describe(v));
    }

    /**
     * A list of strings: a JSON/Parquet list, or (CSV, where every cell is text) a list literal as
     * pandas and the datasets library write one: ["a", "b"], ['a', 'b'] or numpy's ['a' 'b'].
     */
    public List<String> stringList(String field) {
        Object v = require(field);
        if (v instanceof String s && !s.isEmpty() && PythonStrings.strip(s).startsWith("[")) {
            try {
                return ListLiteral.parse(s);
            } catch (IllegalArgumentException e) {
                throw error("field '" + field + "' is not a list: " + e.getMessage());
            }
        }
        if (!(v instanceof List<?> list)) {
            throw error("field '" + field + "' must be a list of strings, got " + describe(v));
        }
        List<String> out = new ArrayList<>(list.size());
        for (int i = 0; i < list.size(); i++) {
            Object e = list.get(i);
            if (e == null) {
                throw error("field '" + field + "' item " + i + " is null");
            }
            out.add(asString(e, field + "[" + i + "]"));
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    public Map<String, Object> struct(String field) {
        Object v = require(field);
        if (!(v instanceof Map<?, ?>)) {
            throw error("field '" + field + "' must be an object, got " + describe(v));
        }
        return (Map<String, Object>) v;
    }

    /** A row over a nested object, same location (ARC's original "question": {"stem", "choices"}). */
    public Row nested(String field) {
        return new Row(location, struct(field));
    }

    /**
     * An integer label: a number, or a string holding one (CSV cells, HellaSwag's "label": "2").
     * Returns null when the value is neither, so each task words its own message.
     */
    Long integerOrNull(Object v) {
        if (v instanceof Long l) {
            return l;
        }
        if (v instanceof Integer i) {
            return i.longValue();
        }
        if (v instanceof Double d && d == Math.rint(d) && !d.isInfinite()) {
            return d.longValue();
        }
        if (v instanceof String s) {
            try {
                return Long.parseLong(PythonStrings.strip(s));
            } catch (NumberFormatException e) {
                return null;
            }
        }
        return null;
    }

    /** An index in [0, size) from an integer field: the label of most tasks. */
    public int index(String field, int size) {
        Object v = require(field);
        Long l = integerOrNull(v);
        if (l == null || l < 0 || l >= size) {
            throw error("bad label " + show(v) + " in field '" + field + "' (expected 0 to " + (size - 1) + ")");
        }
        return (int) (long) l;
    }

    static String show(Object v) {
        if (v instanceof String s) {
            return "'" + s + "'";
        }
        return String.valueOf(v);
    }

    static String describe(Object v) {
        if (v == null) {
            return "null";
        }
        if (v instanceof String) {
            return "a string";
        }
        if (v instanceof Number) {
            return "a number (" + v + ")";
        }
        if (v instanceof Boolean) {
            return "a boolean";
        }
        if (v instanceof List<?>) {
            return "a list";
        }
        if (v instanceof Map<?, ?>) {
            return "an object";
        }
        if (v instanceof byte[]) {
            return "bytes";
        }
        return v.getClass().getSimpleName();
    }
}
