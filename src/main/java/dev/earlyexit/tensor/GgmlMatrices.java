package dev.earlyexit.tensor;

import java.nio.ByteBuffer;

/**
 * Weight matrices from ggml-encoded bytes (GGUF tensors), and ggml encodings of matrices (GGUF writer).
 */
public final class GgmlMatrices {
    private GgmlMatrices() {
    }

    /**
     * The storage a tensor of {@code type} is kept in: its own encoding where a kernel reads it as it is,
     * else the nearest kernel type (the loader says so in one line when they differ).
     */
    public static DType kernelTypeFor(GgmlType type) {
        return switch (type) {
            case Q8_0 -> DType.Q8;
            case Q4_0 -> DType.Q4_0;
            case Q4_K -> DType.Q4_K;
            case BF16 -> DType.BF16;
            // no kernel of their own yet: requantized to 8 bits per 32 values (error at most 1/254 of a
            // block's largest value, far under their own 2-6-bit error)
            case Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS -> DType.Q8;
            // F16 widened exactly
            default -> DType.F32;
        };
    }

    /**
     * A [rows, cols] matrix from {@code data}, which holds exactly rows * cols values of {@code type}
     * (row-major, each row a whole number of blocks), little-endian, from its position.
     */
    public static Matrix of(GgmlType type, ByteBuffer data, int rows, int cols) {
        long values = (long) rows * cols;
        if (cols % type.blockSize() != 0) {
            throw new IllegalArgumentException(type.ggmlName() + " rows of " + cols + " values are not a whole number of "
                    + type.blockSize() + "-value blocks");
        }
        if (type.bytesFor(values) > data.remaining()) {
            throw new IllegalArgumentException(type.ggmlName() + " " + rows + "x" + cols + " needs " + type.bytesFor(values)
                    + " bytes, " + data.remaining() + " given");
        }
        switch (type) {
            case Q8_0:
                return Q8Matrix.fromGgmlQ8_0(data, rows, cols);
            case Q4_0:
                return Q40Matrix.fromGgml(data, rows, cols);
            case Q4_K:
                return Q4KMatrix.fromGgml(data, rows, cols);
            case BF16: {
                float[] f = new float[Math.toIntExact(values)];
                GgmlDequant.dequantize(type, data.duplicate(), f, 0, f.length);
                return BF16Matrix.fromFloats(f, rows, cols); // exact: bf16 values round to themselves
            }
            default:
                break;
        }
        if (kernelTypeFor(type) == DType.Q8) {
            // dequantize a row chunk at a time (no float32 copy of the whole matrix)
            Q8Matrix m = new Q8Matrix(rows, cols);
            ByteBuffer b = data.duplicate();
            int chunkRows = Math.max(1, Math.min(rows, (1 << 18) / cols));
            float[] chunk = new float[chunkRows * cols];
            for (int r = 0; r < rows; r += chunkRows) {
                int n = Math.min(chunkRows, rows - r);
                GgmlDequant.dequantize(type, b, chunk, 0, n * cols);
                m.fillRows(r, n, chunk, 0);
            }
            return m;
        }
        F32Matrix m = F32Matrix.allocateAligned(rows, cols);
        GgmlDequant.dequantize(type, data.duplicate(), m.storage(), m.offset(), Math.toIntExact(values));
        return m;
    }

    /** Encodes rows*cols float32 values (row-major, from srcOff) as {@code type}, in ggml's block layout. */
    public static byte[] quantize(GgmlType type, float[] src, int srcOff, int rows, int cols) {
        long bytes = type.bytesFor((long) rows * cols);
        ByteBuffer out = ByteBuffer.allocate(Math.toIntExact(bytes)).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        int n = rows * cols;
        switch (type) {
            case F32 -> {
                for (int i = 0; i < n; i++) {
                    out.putFloat(src[srcOff + i]);
                }
            }
            case F16 -> {
                for (int i = 0; i < n; i++) {
                    out.putShort(Half.fromFloat(src[srcOff + i]));
                }
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) {
                    out.putShort((short) (BF16Matrix.toBf16(src[srcOff + i]) & 0xFFFF));
                }
            }
            case Q8_0 -> GgmlQuantizers.q8_0(src, srcOff, n, out);
            case Q4_0 -> GgmlQuantizers.q4_0(src, srcOff, n, out);
            case Q4_K -> GgmlQuantizers.q4_K(src, srcOff, n, out);
            default -> throw new IllegalArgumentException("writing " + type.ggmlName() + " is not supported");
        }
        return out.array();
    }
}
