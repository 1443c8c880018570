package dev.earlyexit.dataset.parquet;

import java.nio.charset.StandardCharsets;

/**
 * The Thrift compact protocol, as far as Parquet's metadata needs it: struct fields are read one by
 * one, and callers skip the fields they do not know with {@link #skip}, so newer writers' additions
 * are passed over rather than misread.
 */
final class ThriftCompactReader {
    static final int STOP = 0;
    static final int BOOLEAN_TRUE = 1;
    static final int BOOLEAN_FALSE = 2;
    static final int BYTE = 3;
    static final int I16 = 4;
    static final int I32 = 5;
    static final int I64 = 6;
    static final int DOUBLE = 7;
    static final int BINARY = 8;
    static final int LIST = 9;
    static final int SET = 10;
    static final int MAP = 11;
    static final int STRUCT = 12;

    // Garbage can look like deeply nested structs; a bound keeps skipping off the stack limit.
    private static final int MAX_DEPTH = 64;

    private final ByteSlice in;
    private final int[] lastFieldIds = new int[MAX_DEPTH + 1];
    private int depth;
    private int fieldType;
    private int fieldId;

    ThriftCompactReader(ByteSlice in) {
        this.in = in;
    }

    int position() {
        return in.position();
    }

    void structBegin() {
        if (depth == MAX_DEPTH) {
            throw new ParquetDataException("Thrift structs nested deeper than " + MAX_DEPTH);
        }
        lastFieldIds[++depth] = 0;
    }

    void structEnd() {
        depth--;
    }

    /**
     * Reads the next field header of the current struct; false at its end. The field's id and
     * type are then {@link #fieldId()} and {@link #fieldType()}.
     */
    boolean nextField() {
        int header = in.readUnsignedByte();
        if (header == STOP) {
            return false;
        }
        fieldType = header & 0x0F;
        int delta = header >>> 4;
        if (delta != 0) {
            fieldId = lastFieldIds[depth] + delta;
        } else {
            long id = in.readZigZagLong();
            if (id < Short.MIN_VALUE || id > Short.MAX_VALUE) {
                throw new ParquetDataException("Thrift field id " + id + " is out of range");
            }
            fieldId = (int) id;
        }
        if (fieldType < BOOLEAN_TRUE || fieldType > STRUCT) {
            throw new ParquetDataException("Thrift field " + fieldId + " has unknown type " + fieldType);
        }
        lastFieldIds[depth] = fieldId;
        return true;
    }

    int fieldId() {
        return fieldId;
    }

    int fieldType() {
        return fieldType;
    }

    /** Fails unless the current field has {@code type}; a wrong type means the bytes are not what we think. */
    void expect(int type, String name) {
        boolean ok = type == BOOLEAN_TRUE ? isBoolean(fieldType) : fieldType == type;
        if (!ok) {
            throw new ParquetDataException("Thrift field " + name + " has type " + fieldType + ", expected " + type);
        }
    }

    boolean readBoolField() {
        return fieldType == BOOLEAN_TRUE;
    }

    int readI32() {
        long v = in.readZigZagLong();
        if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
            throw new ParquetDataException("Thrift i32 value " + v + " is out of range");
        }
        return (int) v;
    }

    long readI64() {
        return in.readZigZagLong();
    }

    byte[] readBinary() {
        int length = in.readUleb128Int("Thrift binary length");
        int start = in.skip(length, "Thrift binary");
        byte[] out = new byte[length];
        System.arraycopy(in.array(), start, out, 0, length);
        return out;
    }

    String readString() {
        return new String(readBinary(), StandardCharsets.UTF_8);
    }

    /** Reads a list header, checks its element type and returns its size. */
    int readListHeader(int elementType, String name) {
        ListHeader h = listHeader("Thrift list " + name);
        int size = h.size();
        int type = h.type();
        boolean ok = elementType == BOOLEAN_TRUE ? isBoolean(type) : type == elementType;
        if (size > 0 && !ok) {
            throw new ParquetDataException("Thrift list " + name + " has element type " + type + ", expected "
                    + elementType);
        }
        return size;
    }

    /** Skips a value of {@code type}: the current field's value or a container element. */
    void skip(int type) {
        switch (type) {
            case BOOLEAN_TRUE, BOOLEAN_FALSE -> {
                // A field's boolean lives in its header; only container elements take a byte, and
                // skipList handles those itself.
            }
            case BYTE -> in.skip(1, "Thrift byte");
            case I16, I32, I64 -> in.readUleb128();
            case DOUBLE -> in.skip(8, "Thrift double");
            case BINARY -> in.skip(in.readUleb128Int("Thrift binary length"), "Thrift binary");
            case LIST, SET -> skipList();
            case MAP -> skipMap();
            case STRUCT -> skipStruct();
            default -> throw new ParquetDataException("unknown Thrift type " + type);
        }
    }

    private void skipStruct() {
        structBegin();
        while (nextField()) {
            skip(fieldType);
        }
        structEnd();
    }

    private void skipList() {
        ListHeader h = listHeader("Thrift list");
        for (int i = 0; i < h.size(); i++) {
            skipElement(h.type());
        }
    }

    private record ListHeader(int size, int type) {
    }

    /** A list or set header: element count (4 bits, or a varint after 15) and element type. */
    private ListHeader listHeader(String what) {
        int header = in.readUnsignedByte();
        int size = header >>> 4;
        if (size == 15) {
            size = in.readUleb128Int("Thrift list size");
        }
        // Every element takes at least one byte, so a larger count is garbage, not a big allocation.
        if (size > in.remaining()) {
            throw new ParquetDataException(what + " claims " + size + " elements in " + in.remaining() + " bytes");
        }
        return new ListHeader(size, header & 0x0F);
    }

    private void skipMap() {
        int size = in.readUleb128Int("Thrift map size");
        if (size == 0) {
            return;
        }
        int types = in.readUnsignedByte();
        if (size > in.remaining()) {
            throw new ParquetDataException("Thrift map claims " + size + " entries in " + in.remaining() + " bytes");
        }
        for (int i = 0; i < size; i++) {
            skipElement(types >>> 4);
            skipElement(types & 0x0F);
        }
    }

    private void skipElement(int type) {
        if (isBoolean(type)) {
            in.skip(1, "Thrift boolean");
        } else {
            nested(type);
        }
    }

    private void nested(int type) {
        if (depth == MAX_DEPTH) {
            throw new ParquetDataException("Thrift values nested deeper than " + MAX_DEPTH);
        }
        depth++;
        lastFieldIds[depth] = 0;
        try {
            skip(type);
        } finally {
            depth--;
        }
    }

    private static boolean isBoolean(int type) {
        return type == BOOLEAN_TRUE || type == BOOLEAN_FALSE;
    }
}
