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
        return DType.F32;
    }

    /**
     * A [rows, cols] matrix from {@code data}, which holds exactly rows * cols values of {@code type}
     * (row-major, each row a whole number of blocks), little-endian, from its position.
     */
    public static Matrix of(GgmlType type, ByteBuffer data, int rows, int cols) {
        F32Matrix m = F32Matrix.allocateAligned(rows, cols);
        GgmlDequant.dequantize(type, data.duplicate(), m.storage(), m.offset(), Math.multiplyExact(rows, cols));
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
            default -> throw new IllegalArgumentException("writing " + type.ggmlName() + " is not supported");
        }
        return out.array();
    }
}
