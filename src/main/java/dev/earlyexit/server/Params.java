package dev.earlyexit.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

/**
 * Typed access to a JSON request object: every field must be one the endpoint knows, and a value of
 * the wrong type or out of range is a 400 naming the parameter. JSON null counts as absent.
 */
final class Params {
    private final ObjectNode node;
    private final String prefix;

    Params(JsonNode node, Set<String> known, String prefix) {
        String where = prefix.isEmpty() ? "the request body" : prefix.substring(0, prefix.length() - 1);
        if (node == null || !node.isObject()) {
            throw ApiException.badRequest(where + " must be a JSON object", prefix.isEmpty() ? null : where);
        }
        this.node = (ObjectNode) node;
        this.prefix = prefix;
        List<String> unknown = new ArrayList<>();
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!known.contains(f)) {
                unknown.add(prefix + f);
            }
        }
        if (!unknown.isEmpty()) {
            throw ApiException.badRequest("Unrecognized request argument" + (unknown.size() > 1 ? "s" : "")
                    + " supplied: " + String.join(", ", unknown), unknown.get(0));
        }
    }

    boolean has(String name) {
        JsonNode v = node.get(name);
        return v != null && !v.isNull();
    }

    JsonNode raw(String name) {
        JsonNode v = node.get(name);
        return v == null || v.isNull() ? null : v;
    }

    Integer integer(String name, long min, long max) {
        JsonNode v = raw(name);
        if (v == null) {
            return null;
        }
        if (!v.isIntegralNumber() && !(v.isNumber() && v.asDouble() == Math.rint(v.asDouble()))) {
            throw ApiException.badRequest("'" + prefix + name + "' must be an integer, got " + v, prefix + name);
        }
        long x = v.asLong();
        if (x < min || x > max) {
            throw ApiException.badRequest("'" + prefix + name + "' must be in [" + min + ", " + max + "], got " + x,
                    prefix + name);
        }
        return (int) x;
    }

    Long longValue(String name) {
        JsonNode v = raw(name);
        if (v == null) {
            return null;
        }
        if (!v.isIntegralNumber() || !v.canConvertToLong()) {
            throw ApiException.badRequest("'" + prefix + name + "' must be an integer, got " + v, prefix + name);
        }
        return v.asLong();
    }

    Double number(String name, double min, double max) {
        JsonNode v = raw(name);
        if (v == null) {
            return null;
        }
        if (!v.isNumber()) {
            throw ApiException.badRequest("'" + prefix + name + "' must be a number, got " + v, prefix + name);
        }
        double x = v.asDouble();
        if (!(x >= min && x <= max)) {
            throw ApiException.badRequest("'" + prefix + name + "' must be in [" + min + ", " + max + "], got " + v,
                    prefix + name);
        }
        return x;
    }

    Boolean bool(String name) {
        JsonNode v = raw(name);
        if (v == null) {
            return null;
        }
        if (!v.isBoolean()) {
            throw ApiException.badRequest("'" + prefix + name + "' must be a boolean, got " + v, prefix + name);
        }
        return v.asBoolean();
    }

    String string(String name) {
        JsonNode v = raw(name);
        if (v == null) {
            return null;
        }
        if (!v.isTextual()) {
            throw ApiException.badRequest("'" + prefix + name + "' must be a string, got " + v, prefix + name);
        }
        return v.asText();
    }
}
