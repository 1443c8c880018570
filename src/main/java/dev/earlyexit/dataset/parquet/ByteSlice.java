package dev.earlyexit.dataset.parquet;

/**
 * A bounds-checked little-endian cursor over part of a byte array: every read checks that the
 * bytes are there, so truncated or corrupt data ends in a {@link ParquetDataException}, never an
 * index error or a read of a neighbouring page.
 */
final class ByteSlice {
    private final byte[] data;
    private final int end;
    private int position;

    ByteSlice(byte[] data, int offset, int length) {
        if (offset < 0 || length < 0 || offset > data.length - length) {
            throw new ParquetDataException("range [" + offset + ", " + ((long) offset + length) + ") lies outside "
                    + data.length + " bytes");
        }
        this.data = data;
        this.position = offset;
        this.end = offset + length;
    }

    static ByteSlice of(byte[] data) {
        return new ByteSlice(data, 0, data.length);
    }

    byte[] array() {
        return data;
    }

    int position() {
        return position;
    }

    int remaining() {
        return end - position;
    }

    /** Checks that {@code n} more bytes exist, naming {@code what} otherwise. */
    void require(long n, String what) {
        if (n < 0 || n > end - position) {
            throw new ParquetDataException("truncated " + what + ": needs " + n + " bytes, " + (end - position)
                    + " left");
        }
    }

    /** Advances past {@code n} bytes and returns where they started. */
    int skip(int n, String what) {
        require(n, what);
        int start = position;
        position += n;
        return start;
    }

    /** The next {@code n} bytes as their own slice; this cursor moves past them. */
    ByteSlice slice(int n, String what) {
        int start = skip(n, what);
        return new ByteSlice(data, start, n);
    }

    int readUnsignedByte() {
        require(1, "data");
        return data[position++] & 0xFF;
    }

    int readIntLE() {
        require(4, "data");
        int v = intLE(data, position);
        position += 4;
        return v;
    }

    long readLongLE() {
        require(8, "data");
        long v = longLE(data, position);
        position += 8;
        return v;
    }

    /** Unsigned LEB128, at most 64 bits. */
    long readUleb128() {
        long result = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            int b = readUnsignedByte();
            result |= (long) (b & 0x7F) << shift;
            if ((b & 0x80) == 0) {
                return result;
            }
        }
        throw new ParquetDataException("varint longer than 10 bytes");
    }

    /** An unsigned LEB128 that must fit a non-negative int (a length or a count). */
    int readUleb128Int(String what) {
        long v = readUleb128();
        if (v < 0 || v > Integer.MAX_VALUE) {
            throw new ParquetDataException(what + " " + Long.toUnsignedString(v) + " is out of range");
        }
        return (int) v;
    }

    long readZigZagLong() {
        long v = readUleb128();
        return (v >>> 1) ^ -(v & 1);
    }

    static int intLE(byte[] b, int i) {
        return (b[i] & 0xFF) | (b[i + 1] & 0xFF) << 8 | (b[i + 2] & 0xFF) << 16 | (b[i + 3] & 0xFF) << 24;
    }

    static long longLE(byte[] b, int i) {
        return (intLE(b, i) & 0xFFFFFFFFL) | (long) intLE(b, i + 4) << 32;
    }
}
