package dev.earlyexit.dataset.parquet;

import dev.earlyexit.dataset.parquet.SchemaNode.ValueKind;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/** Decodes one leaf column's values from a page's value section into the Java objects readRows returns. */
final class ValueDecoder {
    private final SchemaNode leaf;
    // Strict: a string column with invalid UTF-8 is corrupt, not something to paper over with U+FFFD.
    private final CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT);

    ValueDecoder(SchemaNode leaf) {
        this.leaf = leaf;
    }

    /** Decodes {@code count} values with {@code encoding} into out[offset ...]. */
    void decode(int encoding, ByteSlice in, int count, Object[] dictionary, Object[] out, int offset) {
        switch (encoding) {
            case Encodings.PLAIN -> decodePlain(in, count, out, offset);
            case Encodings.PLAIN_DICTIONARY, Encodings.RLE_DICTIONARY -> decodeDictionaryIndices(in, count, dictionary,
                    out, offset);
            case Encodings.RLE -> {
                if (leaf.valueKind != ValueKind.BOOLEAN) {
                    throw unsupported(encoding);
                }
                // RLE booleans carry a 4-byte length prefix, like v1 levels.
                int length = in.readIntLE();
                int[] bits = new int[count];
                RleBitPackedHybrid.decode(in.slice(length, "RLE boolean data"), 1, bits, count);
                for (int i = 0; i < count; i++) {
                    out[offset + i] = bits[i] != 0;
                }
            }
            case Encodings.DELTA_BINARY_PACKED -> {
                if (leaf.physicalType != ParquetMetadata.TYPE_INT32 && leaf.physicalType != ParquetMetadata.TYPE_INT64) {
                    throw unsupported(encoding);
                }
                long[] values = DeltaEncodings.decodeBinaryPacked(in, count);
                for (int i = 0; i < count; i++) {
                    out[offset + i] = leaf.physicalType == ParquetMetadata.TYPE_INT32 ? int32((int) values[i])
                            : int64(values[i]);
                }
            }
            case Encodings.DELTA_LENGTH_BYTE_ARRAY, Encodings.DELTA_BYTE_ARRAY -> {
                if (leaf.physicalType != ParquetMetadata.TYPE_BYTE_ARRAY
                        && !(encoding == Encodings.DELTA_BYTE_ARRAY
                        && leaf.physicalType == ParquetMetadata.TYPE_FIXED_LEN_BYTE_ARRAY)) {
                    throw unsupported(encoding);
                }
                byte[][] values = encoding == Encodings.DELTA_BYTE_ARRAY ? DeltaEncodings.decodeByteArray(in, count)
                        : DeltaEncodings.decodeLengthByteArray(in, count);
                for (int i = 0; i < count; i++) {
                    if (leaf.physicalType == ParquetMetadata.TYPE_FIXED_LEN_BYTE_ARRAY
                            && values[i].length != leaf.typeLength) {
                        throw new ParquetDataException("value of " + values[i].length + " bytes in a "
                                + leaf.typeLength + "-byte FIXED_LEN_BYTE_ARRAY column");
                    }
                    out[offset + i] = binary(values[i]);
                }
            }
            case Encodings.BYTE_STREAM_SPLIT -> decodeByteStreamSplit(in, count, out, offset);
            default -> throw unsupported(encoding);
        }
    }

    /** Decodes a dictionary page (PLAIN, or PLAIN_DICTIONARY in old files). */
    Object[] decodeDictionary(int encoding, ByteSlice in, int count) {
        if (encoding != Encodings.PLAIN && encoding != Encodings.PLAIN_DICTIONARY) {
            throw new ParquetDataException("unsupported dictionary page encoding " + Encodings.name(encoding));
        }
        if (leaf.valueKind == ValueKind.BOOLEAN) {
            throw new ParquetDataException("a BOOLEAN column has a dictionary page");
        }
        // Each dictionary entry takes at least one byte, except zero-length fixed-width ones.
        if (count < 0 || (count > in.remaining() && !(leaf.physicalType == ParquetMetadata.TYPE_FIXED_LEN_BYTE_ARRAY
                && leaf.typeLength == 0))) {
            throw new ParquetDataException("dictionary page claims " + count + " values in " + in.remaining()
                    + " bytes");
        }
        Object[] dictionary = new Object[count];
        decodePlain(in, count, dictionary, 0);
        return dictionary;
    }

    private void decodePlain(ByteSlice in, int count, Object[] out, int offset) {
        byte[] data = in.array();
        switch (leaf.physicalType) {
            case ParquetMetadata.TYPE_BOOLEAN -> {
                int start = in.skip((count + 7) / 8, "PLAIN booleans");
                for (int i = 0; i < count; i++) {
                    out[offset + i] = ((data[start + (i >>> 3)] >>> (i & 7)) & 1) != 0;
                }
            }
            case ParquetMetadata.TYPE_INT32 -> {
                int start = in.skip(checkedBytes(count, 4), "PLAIN INT32 values");
                for (int i = 0; i < count; i++) {
                    out[offset + i] = int32(ByteSlice.intLE(data, start + 4 * i));
                }
            }
            case ParquetMetadata.TYPE_INT64 -> {
                int start = in.skip(checkedBytes(count, 8), "PLAIN INT64 values");
                for (int i = 0; i < count; i++) {
                    out[offset + i] = int64(ByteSlice.longLE(data, start + 8 * i));
                }
            }
            case ParquetMetadata.TYPE_FLOAT -> {
                int start = in.skip(checkedBytes(count, 4), "PLAIN FLOAT values");
                for (int i = 0; i < count; i++) {
                    out[offset + i] = (double) Float.intBitsToFloat(ByteSlice.intLE(data, start + 4 * i));
                }
            }
            case ParquetMetadata.TYPE_DOUBLE -> {
                int start = in.skip(checkedBytes(count, 8), "PLAIN DOUBLE values");
                for (int i = 0; i < count; i++) {
                    out[offset + i] = Double.longBitsToDouble(ByteSlice.longLE(data, start + 8 * i));
                }
            }
            case ParquetMetadata.TYPE_BYTE_ARRAY -> {
                for (int i = 0; i < count; i++) {
                    int length = in.readIntLE();
                    if (length < 0) {
                        throw new ParquetDataException("PLAIN BYTE_ARRAY value has negative length " + length);
                    }
                    int start = in.skip(length, "PLAIN BYTE_ARRAY value");
                    out[offset + i] = binary(data, start, length);
                }
            }
            case ParquetMetadata.TYPE_FIXED_LEN_BYTE_ARRAY -> {
                int width = leaf.typeLength;
                int start = in.skip(checkedBytes(count, width), "PLAIN FIXED_LEN_BYTE_ARRAY values");
                for (int i = 0; i < count; i++) {
                    out[offset + i] = binary(data, start + width * i, width);
                }
            }
            default -> throw new ParquetDataException("unsupported physical type "
                    + ParquetMetadata.typeName(leaf.physicalType));
        }
    }

    private void decodeDictionaryIndices(ByteSlice in, int count, Object[] dictionary, Object[] out, int offset) {
        if (dictionary == null) {
            throw new ParquetDataException("dictionary-encoded page without a dictionary page before it");
        }
        int bitWidth = count == 0 && in.remaining() == 0 ? 0 : in.readUnsignedByte();
        int[] indices = new int[count];
        RleBitPackedHybrid.decode(in, bitWidth, indices, count);
        for (int i = 0; i < count; i++) {
            int index = indices[i];
            if (index < 0 || index >= dictionary.length) {
                throw new ParquetDataException("dictionary index " + Integer.toUnsignedString(index)
                        + " is outside the " + dictionary.length + "-entry dictionary");
            }
            Object value = dictionary[index];
            // byte[] is mutable: each row gets its own copy; strings and numbers are shared safely.
            out[offset + i] = value instanceof byte[] bytes ? bytes.clone() : value;
        }
    }

    private void decodeByteStreamSplit(ByteSlice in, int count, Object[] out, int offset) {
        int width = switch (leaf.physicalType) {
            case ParquetMetadata.TYPE_INT32, ParquetMetadata.TYPE_FLOAT -> 4;
            case ParquetMetadata.TYPE_INT64, ParquetMetadata.TYPE_DOUBLE -> 8;
            case ParquetMetadata.TYPE_FIXED_LEN_BYTE_ARRAY -> leaf.typeLength;
            default -> throw unsupported(Encodings.BYTE_STREAM_SPLIT);
        };
        // Byte k of value i sits in stream k, at index i: regroup, then decode as PLAIN.
        int start = in.skip(checkedBytes(count, width), "BYTE_STREAM_SPLIT values");
        byte[] data = in.array();
        byte[] plain = new byte[count * width];
        for (int k = 0; k < width; k++) {
            for (int i = 0; i < count; i++) {
                plain[i * width + k] = data[start + k * count + i];
            }
        }
        decodePlain(ByteSlice.of(plain), count, out, offset);
    }

    private Object int32(int v) {
        if (leaf.valueKind == ValueKind.DECIMAL) {
            return BigDecimal.valueOf(v, leaf.decimalScale);
        }
        return leaf.valueKind == ValueKind.UINT32 ? Integer.toUnsignedLong(v) : (long) v;
    }

    private Object int64(long v) {
        if (leaf.valueKind == ValueKind.DECIMAL) {
            return BigDecimal.valueOf(v, leaf.decimalScale);
        }
        if (leaf.valueKind == ValueKind.UINT64 && v < 0) {
            throw new ParquetDataException("unsigned 64-bit value " + Long.toUnsignedString(v)
                    + " does not fit a Long");
        }
        return v;
    }

    private Object binary(byte[] data, int start, int length) {
        if (leaf.valueKind == ValueKind.STRING) {
            return utf8(data, start, length);
        }
        return binary(Arrays.copyOfRange(data, start, start + length));
    }

    private Object binary(byte[] value) {
        if (leaf.valueKind == ValueKind.DECIMAL) {
            if (value.length == 0) {
                throw new ParquetDataException("empty DECIMAL value");
            }
            return new BigDecimal(new BigInteger(value), leaf.decimalScale);
        }
        return leaf.valueKind == ValueKind.STRING ? utf8(value, 0, value.length) : value;
    }

    private String utf8(byte[] data, int start, int length) {
        // The String constructor is the fast path but replaces bad bytes with U+FFFD; only when a
        // U+FFFD shows up is the strict decoder asked whether it was really in the data.
        String s = new String(data, start, length, StandardCharsets.UTF_8);
        if (s.indexOf('\uFFFD') >= 0) {
            try {
                utf8.decode(ByteBuffer.wrap(data, start, length));
            } catch (CharacterCodingException e) {
                throw new ParquetDataException("string value is not valid UTF-8");
            }
        }
        return s;
    }

    private static int checkedBytes(int count, int width) {
        long n = (long) count * width;
        if (n > Integer.MAX_VALUE) {
            throw new ParquetDataException(count + " values of " + width + " bytes exceed any page");
        }
        return (int) n;
    }

    private ParquetDataException unsupported(int encoding) {
        return new ParquetDataException("unsupported encoding " + Encodings.name(encoding) + " for "
                + ParquetMetadata.typeName(leaf.physicalType) + " values");
    }
}
