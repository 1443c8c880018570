package dev.earlyexit.dataset.parquet;

/** DELTA_BINARY_PACKED, DELTA_LENGTH_BYTE_ARRAY and DELTA_BYTE_ARRAY (Parquet's Encodings.md). */
final class DeltaEncodings {
    private DeltaEncodings() {
    }

    /**
     * Decodes a DELTA_BINARY_PACKED run of exactly {@code count} values, leaving {@code in} just past
     * it (DELTA_LENGTH_BYTE_ARRAY's bytes follow there). Arithmetic wraps, as the encoding requires;
     * INT32 callers narrow the results.
     */
    static long[] decodeBinaryPacked(ByteSlice in, int count) {
        int blockSize = in.readUleb128Int("DELTA_BINARY_PACKED block size");
        int miniblocks = in.readUleb128Int("DELTA_BINARY_PACKED miniblock count");
        int total = in.readUleb128Int("DELTA_BINARY_PACKED value count");
        long value = in.readZigZagLong();
        if (blockSize <= 0 || miniblocks <= 0 || blockSize % miniblocks != 0 || (blockSize / miniblocks) % 8 != 0) {
            throw new ParquetDataException("DELTA_BINARY_PACKED block of " + blockSize + " values in " + miniblocks
                    + " miniblocks is malformed");
        }
        if (total != count) {
            throw new ParquetDataException("DELTA_BINARY_PACKED run holds " + total + " values where " + count
                    + " are expected");
        }
        int perMiniblock = blockSize / miniblocks;
        long[] out = new long[count];
        if (count == 0) {
            return out;
        }
        out[0] = value;
        int filled = 1;
        byte[] data = in.array();
        while (filled < count) {
            long minDelta = in.readZigZagLong();
            int widthsStart = in.skip(miniblocks, "DELTA_BINARY_PACKED miniblock widths");
            for (int m = 0; m < miniblocks && filled < count; m++) {
                int width = data[widthsStart + m] & 0xFF;
                if (width > 64) {
                    throw new ParquetDataException("DELTA_BINARY_PACKED miniblock bit width " + width + " exceeds 64");
                }
                int start = in.skip(perMiniblock / 8 * width, "DELTA_BINARY_PACKED miniblock");
                int n = Math.min(perMiniblock, count - filled);
                long bitPosition = (long) start * 8;
                for (int i = 0; i < n; i++) {
                    value += minDelta + readBits(data, bitPosition, width);
                    out[filled++] = value;
                    bitPosition += width;
                }
            }
        }
        return out;
    }

    /** DELTA_LENGTH_BYTE_ARRAY: the lengths, delta-packed, then all the bytes back to back. */
    static byte[][] decodeLengthByteArray(ByteSlice in, int count) {
        long[] lengths = decodeBinaryPacked(in, count);
        byte[][] out = new byte[count][];
        for (int i = 0; i < count; i++) {
            long length = lengths[i];
            if (length < 0 || length > in.remaining()) {
                throw new ParquetDataException("DELTA_LENGTH_BYTE_ARRAY value of " + length + " bytes overruns the page");
            }
            int start = in.skip((int) length, "DELTA_LENGTH_BYTE_ARRAY value");
            out[i] = java.util.Arrays.copyOfRange(in.array(), start, start + (int) length);
        }
        return out;
    }

    /** DELTA_BYTE_ARRAY: each value is a prefix of the previous one plus a suffix. */
    static byte[][] decodeByteArray(ByteSlice in, int count) {
        long[] prefixLengths = decodeBinaryPacked(in, count);
        byte[][] suffixes = decodeLengthByteArray(in, count);
        byte[][] out = new byte[count][];
        byte[] previous = new byte[0];
        for (int i = 0; i < count; i++) {
            long prefix = prefixLengths[i];
            if (prefix < 0 || prefix > previous.length) {
                throw new ParquetDataException("DELTA_BYTE_ARRAY prefix of " + prefix + " bytes is longer than the "
                        + previous.length + "-byte previous value");
            }
            byte[] value = new byte[(int) prefix + suffixes[i].length];
            System.arraycopy(previous, 0, value, 0, (int) prefix);
            System.arraycopy(suffixes[i], 0, value, (int) prefix, suffixes[i].length);
            out[i] = value;
            previous = value;
        }
        return out;
    }

    /** {@code width} bits (0..64) at {@code bitPosition}, least significant bit first. */
    private static long readBits(byte[] data, long bitPosition, int width) {
        if (width == 0) {
            return 0;
        }
        int byteIndex = (int) (bitPosition >>> 3);
        int shift = (int) (bitPosition & 7);
        int bytesNeeded = (shift + width + 7) >>> 3;
        long low = 0;
        int inLow = Math.min(bytesNeeded, 8);
        for (int b = 0; b < inLow; b++) {
            low |= (long) (data[byteIndex + b] & 0xFF) << (8 * b);
        }
        long result = low >>> shift;
        if (bytesNeeded > 8) {
            // A 9th byte holds the top bits when the value straddles 64 bits.
            result |= (long) (data[byteIndex + 8] & 0xFF) << (64 - shift);
        }
        return width == 64 ? result : result & ((1L << width) - 1);
    }
}
