package dev.earlyexit.dataset.parquet;

/**
 * Decompressor for the Snappy block format (format_description.txt in google/snappy): a varint
 * length, then literals and back-references. Parquet's SNAPPY pages are single raw blocks, without
 * the framing format.
 */
final class Snappy {
    // A copy element of 3 bytes yields at most 64 bytes, so no valid block expands more than ~22x;
    // a larger claimed length is corruption, and is refused before allocating it.
    private static final int MAX_EXPANSION = 24;

    private Snappy() {
    }

    static byte[] decompress(byte[] data, int offset, int length, int expectedLength) {
        ByteSlice in = new ByteSlice(data, offset, length);
        long declared;
        try {
            declared = in.readUleb128();
        } catch (ParquetDataException e) {
            throw new ParquetDataException("Snappy block without a valid length: " + e.getMessage(), e);
        }
        if (declared != expectedLength) {
            throw new ParquetDataException("Snappy block holds " + declared + " bytes but the page header says "
                    + expectedLength);
        }
        if (declared > (long) length * MAX_EXPANSION + 64) {
            throw new ParquetDataException("Snappy block claims " + declared + " bytes from only " + length);
        }
        byte[] out = new byte[expectedLength];
        int pos = 0;
        int src = in.position();
        int end = offset + length;
        while (src < end) {
            int tag = data[src++] & 0xFF;
            int kind = tag & 3;
            if (kind == 0) {
                int literalLength = tag >>> 2;
                if (literalLength >= 60) {
                    int extraBytes = literalLength - 59;
                    if (end - src < extraBytes) {
                        throw truncated();
                    }
                    literalLength = 0;
                    for (int i = 0; i < extraBytes; i++) {
                        literalLength |= (data[src++] & 0xFF) << (8 * i);
                    }
                }
                long n = (literalLength & 0xFFFFFFFFL) + 1;
                if (n > end - src || n > out.length - pos) {
                    throw new ParquetDataException("Snappy literal of " + n + " bytes overruns the block");
                }
                System.arraycopy(data, src, out, pos, (int) n);
                src += (int) n;
                pos += (int) n;
                continue;
            }
            int copyLength;
            int copyOffset;
            if (kind == 1) {
                if (end - src < 1) {
                    throw truncated();
                }
                copyLength = 4 + ((tag >>> 2) & 7);
                copyOffset = (tag >>> 5) << 8 | (data[src++] & 0xFF);
            } else if (kind == 2) {
                if (end - src < 2) {
                    throw truncated();
                }
                copyLength = 1 + (tag >>> 2);
                copyOffset = (data[src] & 0xFF) | (data[src + 1] & 0xFF) << 8;
                src += 2;
            } else {
                if (end - src < 4) {
                    throw truncated();
                }
                copyLength = 1 + (tag >>> 2);
                copyOffset = ByteSlice.intLE(data, src);
                src += 4;
            }
            if (copyOffset <= 0 || copyOffset > pos) {
                throw new ParquetDataException("Snappy back-reference to offset " + Integer.toUnsignedString(copyOffset)
                        + " at output byte " + pos);
            }
            if (copyLength > out.length - pos) {
                throw new ParquetDataException("Snappy copy of " + copyLength + " bytes overruns the block");
            }
            int from = pos - copyOffset;
            if (copyOffset >= copyLength) {
                System.arraycopy(out, from, out, pos, copyLength);
                pos += copyLength;
            } else {
                // Overlapping copy: it repeats the last copyOffset bytes, so go byte by byte.
                for (int i = 0; i < copyLength; i++) {
                    out[pos++] = out[from + i];
                }
            }
        }
        if (pos != out.length) {
            throw new ParquetDataException("Snappy block ends after " + pos + " of " + out.length + " bytes");
        }
        return out;
    }

    private static ParquetDataException truncated() {
        return new ParquetDataException("truncated Snappy block");
    }
}
