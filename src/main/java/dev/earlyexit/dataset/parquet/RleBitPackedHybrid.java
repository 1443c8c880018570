package dev.earlyexit.dataset.parquet;

/**
 * The RLE / bit-packing hybrid encoding (levels, dictionary indices, RLE booleans): runs of one
 * repeated value alternate with groups of eight values bit-packed least significant bit first.
 */
final class RleBitPackedHybrid {
    private RleBitPackedHybrid() {
    }

    /** Decodes {@code count} values of {@code bitWidth} bits from {@code in} into {@code out[0, count)}. */
    static void decode(ByteSlice in, int bitWidth, int[] out, int count) {
        decode(in, bitWidth, out, 0, count);
    }

    /** Decodes {@code count} values of {@code bitWidth} bits from {@code in} into {@code out[offset, offset+count)}. */
    static void decode(ByteSlice in, int bitWidth, int[] out, int offset, int count) {
        if (bitWidth < 0 || bitWidth > 32) {
            throw new ParquetDataException("RLE bit width " + bitWidth + " is out of range");
        }
        if (bitWidth == 0) {
            // Every value is zero; writers may still emit run headers, which carry nothing.
            java.util.Arrays.fill(out, offset, offset + count, 0);
            return;
        }
        byte[] data = in.array();
        int filled = 0;
        while (filled < count) {
            int header = in.readUleb128Int("RLE run header");
            if ((header & 1) == 0) {
                int runLength = header >>> 1;
                int valueBytes = (bitWidth + 7) / 8;
                int start = in.skip(valueBytes, "RLE run value");
                int value = 0;
                for (int i = 0; i < valueBytes; i++) {
                    value |= (data[start + i] & 0xFF) << (8 * i);
                }
                if (bitWidth < 32 && (value >>> bitWidth) != 0) {
                    throw new ParquetDataException("RLE run value " + value + " does not fit " + bitWidth + " bits");
                }
                int n = Math.min(runLength, count - filled);
                java.util.Arrays.fill(out, offset + filled, offset + filled + n, value);
                filled += n;
            } else {
                long valuesInRun = (long) (header >>> 1) * 8;
                int n = (int) Math.min(valuesInRun, count - filled);
                // Only the bytes of the values still needed must be present: some writers cut the
                // padding of the last group.
                long runBytes = valuesInRun * bitWidth / 8;
                long neededBytes = ((long) n * bitWidth + 7) / 8;
                int start = in.position();
                in.require(neededBytes, "bit-packed run");
                unpack(data, start, bitWidth, out, offset + filled, n);
                in.skip((int) Math.min(runBytes, in.remaining()), "bit-packed run");
                filled += n;
            }
        }
    }

    /** Unpacks {@code n} values of {@code bitWidth} bits, LSB first, starting at byte {@code start}. */
    static void unpack(byte[] data, int start, int bitWidth, int[] out, int outOffset, int n) {
        long mask = (1L << bitWidth) - 1;
        long bitPosition = (long) start * 8;
        for (int i = 0; i < n; i++) {
            int byteIndex = (int) (bitPosition >>> 3);
            int shift = (int) (bitPosition & 7);
            // Gather up to 40 bits (enough for 32 bits at any shift) without reading past the data.
            long word = 0;
            int bytesNeeded = (shift + bitWidth + 7) >>> 3;
            for (int b = 0; b < bytesNeeded; b++) {
                word |= (long) (data[byteIndex + b] & 0xFF) << (8 * b);
            }
            out[outOffset + i] = (int) ((word >>> shift) & mask);
            bitPosition += bitWidth;
        }
    }

    /** The bit width Parquet uses for levels up to {@code maxLevel}. */
    static int bitWidth(int maxLevel) {
        return 32 - Integer.numberOfLeadingZeros(maxLevel);
    }
}
