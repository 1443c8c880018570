package dev.earlyexit.dataset.parquet;

import io.airlift.compress.lz4.Lz4Decompressor;
import io.airlift.compress.zstd.ZstdDecompressor;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.zip.GZIPInputStream;

/** Page decompression for the CompressionCodec values this reader supports. */
final class Codecs {
    static final int UNCOMPRESSED = 0;
    static final int SNAPPY = 1;
    static final int GZIP = 2;
    static final int LZO = 3;
    static final int BROTLI = 4;
    static final int LZ4 = 5;
    static final int ZSTD = 6;
    static final int LZ4_RAW = 7;

    private Codecs() {
    }

    static String name(int codec) {
        return switch (codec) {
            case UNCOMPRESSED -> "UNCOMPRESSED";
            case SNAPPY -> "SNAPPY";
            case GZIP -> "GZIP";
            case LZO -> "LZO";
            case BROTLI -> "BROTLI";
            case LZ4 -> "LZ4";
            case ZSTD -> "ZSTD";
            case LZ4_RAW -> "LZ4_RAW";
            default -> "codec " + codec;
        };
    }

    static boolean isSupported(int codec) {
        return codec == UNCOMPRESSED || codec == SNAPPY || codec == GZIP || codec == ZSTD || codec == LZ4_RAW;
    }

    /** Decompresses data[offset, offset+length) into exactly {@code uncompressedLength} bytes. */
    static byte[] decompress(int codec, byte[] data, int offset, int length, int uncompressedLength) {
        return switch (codec) {
            case UNCOMPRESSED -> {
                if (length != uncompressedLength) {
                    throw new ParquetDataException("uncompressed page of " + length + " bytes claims "
                            + uncompressedLength);
                }
                byte[] out = new byte[length];
                System.arraycopy(data, offset, out, 0, length);
                yield out;
            }
            case SNAPPY -> Snappy.decompress(data, offset, length, uncompressedLength);
            case GZIP -> gunzip(data, offset, length, uncompressedLength);
            case ZSTD -> unzstd(data, offset, length, uncompressedLength);
            case LZ4_RAW -> unlz4(data, offset, length, uncompressedLength);
            default -> throw new ParquetDataException("unsupported compression codec " + name(codec));
        };
    }

    private static byte[] gunzip(byte[] data, int offset, int length, int uncompressedLength) {
        try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(data, offset, length))) {
            // readNBytes grows its buffer as data arrives, so a lying header cannot force a huge allocation.
            byte[] out = in.readNBytes(uncompressedLength);
            if (out.length != uncompressedLength || in.read() != -1) {
                throw new ParquetDataException("GZIP page does not inflate to the " + uncompressedLength
                        + " bytes its header says");
            }
            return out;
        } catch (IOException e) {
            throw new ParquetDataException("corrupt GZIP page: " + e.getMessage(), e);
        }
    }

    private static byte[] unzstd(byte[] data, int offset, int length, int uncompressedLength) {
        try {
            long frameSize = ZstdDecompressor.getDecompressedSize(data, offset, length);
            // The frame states its size when the writer knew it (Parquet writers do); check before allocating.
            if (frameSize >= 0 && frameSize != uncompressedLength) {
                throw new ParquetDataException("ZSTD frame holds " + frameSize + " bytes but the page header says "
                        + uncompressedLength);
            }
            byte[] out = new byte[uncompressedLength];
            int n = new ZstdDecompressor().decompress(data, offset, length, out, 0, out.length);
            if (n != uncompressedLength) {
                throw new ParquetDataException("ZSTD page inflates to " + n + " bytes, its header says "
                        + uncompressedLength);
            }
            return out;
        } catch (ParquetDataException e) {
            throw e;
        } catch (RuntimeException e) {
            // aircompressor reports bad input as MalformedInputException, and may fail otherwise on garbage.
            throw new ParquetDataException("corrupt ZSTD page: " + e.getMessage(), e);
        }
    }

    private static byte[] unlz4(byte[] data, int offset, int length, int uncompressedLength) {
        try {
            byte[] out = new byte[uncompressedLength];
            int n = new Lz4Decompressor().decompress(data, offset, length, out, 0, out.length);
            if (n != uncompressedLength) {
                throw new ParquetDataException("LZ4_RAW page inflates to " + n + " bytes, its header says "
                        + uncompressedLength);
            }
            return out;
        } catch (ParquetDataException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new ParquetDataException("corrupt LZ4_RAW page: " + e.getMessage(), e);
        }
    }
}
