package dev.earlyexit.dataset.parquet;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Deque;

/** The Thrift compact protocol's writing side, for building test metadata (and garbage) by hand. */
final class ThriftCompactWriter {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final Deque<Integer> lastIds = new ArrayDeque<>();
    private int lastId;

    byte[] toByteArray() {
        return out.toByteArray();
    }

    ThriftCompactWriter structBegin() {
        lastIds.push(lastId);
        lastId = 0;
        return this;
    }

    ThriftCompactWriter structEnd() {
        out.write(0);
        lastId = lastIds.pop();
        return this;
    }

    ThriftCompactWriter field(int id, int type) {
        int delta = id - lastId;
        if (delta > 0 && delta <= 15) {
            out.write(delta << 4 | type);
        } else {
            out.write(type);
            varint(((long) id << 1) ^ ((long) id >> 63));
        }
        lastId = id;
        return this;
    }

    ThriftCompactWriter i32(int id, int value) {
        field(id, ThriftCompactReader.I32);
        return zigzag(value);
    }

    ThriftCompactWriter i64(int id, long value) {
        field(id, ThriftCompactReader.I64);
        return zigzag(value);
    }

    ThriftCompactWriter bool(int id, boolean value) {
        return field(id, value ? ThriftCompactReader.BOOLEAN_TRUE : ThriftCompactReader.BOOLEAN_FALSE);
    }

    ThriftCompactWriter string(int id, String value) {
        field(id, ThriftCompactReader.BINARY);
        return binary(value.getBytes(StandardCharsets.UTF_8));
    }

    ThriftCompactWriter binary(byte[] bytes) {
        varint(bytes.length);
        out.writeBytes(bytes);
        return this;
    }

    ThriftCompactWriter listHeader(int id, int elementType, int size) {
        field(id, ThriftCompactReader.LIST);
        return listHeader(elementType, size);
    }

    ThriftCompactWriter listHeader(int elementType, int size) {
        if (size < 15) {
            out.write(size << 4 | elementType);
        } else {
            out.write(0xF0 | elementType);
            varint(size);
        }
        return this;
    }

    ThriftCompactWriter zigzag(long value) {
        return varint((value << 1) ^ (value >> 63));
    }

    ThriftCompactWriter varint(long value) {
        while ((value & ~0x7FL) != 0) {
            out.write((int) (value & 0x7F) | 0x80);
            value >>>= 7;
        }
        out.write((int) value);
        return this;
    }

    ThriftCompactWriter raw(int... bytes) {
        for (int b : bytes) {
            out.write(b);
        }
        return this;
    }
}
