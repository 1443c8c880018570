package dev.earlyexit.tensor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

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
            case Q5_K -> DType.Q5_K;
            case Q6_K -> DType.Q6_K;
            case BF16 -> DType.BF16;
            // no kernel of their own yet: requantized to 8 bits per 32 values (error at most 1/254 of a
            // block's largest value, far under their own 2-6-bit error)
            case Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, IQ4_NL, IQ4_XS -> DType.Q8;
            // F16 widened exactly
            default -> DType.F32;
        };
    }

    /** Whether a kernel reads this type's own encoding (the others are converted at load). */
    public static boolean keptAsIs(GgmlType type) {
        return switch (type) {
            case Q8_0, Q4_0, Q4_K, Q5_K, Q6_K, BF16, F32 -> true;
            default -> false;
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
        Matrix m = allocate(type, rows, cols);
        fillRows(m, type, 0, rows, data.duplicate().order(ByteOrder.LITTLE_ENDIAN));
        return m;
    }

    /** An all-zero [rows, cols] matrix in the storage {@link #kernelTypeFor} gives {@code type}, for {@link #fillRows}. */
    public static Matrix allocate(GgmlType type, int rows, int cols) {
        return switch (kernelTypeFor(type)) {
            case Q8 -> new Q8Matrix(rows, cols);
            case Q4_0 -> new Q40Matrix(rows, cols);
            case Q4_K -> new Q4KMatrix(rows, cols);
            case Q5_K -> new Q5KMatrix(rows, cols);
            case Q6_K -> new Q6KMatrix(rows, cols);
            case BF16 -> new BF16Matrix(rows, cols);
            case F32 -> F32Matrix.allocateAligned(rows, cols);
        };
    }

    /**
     * Rows [firstRow, firstRow + count) of {@code m} (made by {@link #allocate}, for this type or another
     * one: fused tensors may mix types) from as many whole rows of {@code type} at {@code src}'s position
     * (little-endian), which then stands past them. In the matrix's own encoding the blocks are copied as
     * they are (exact); otherwise the values go through float32, a chunk of rows at a time.
     */
    public static void fillRows(Matrix m, GgmlType type, int firstRow, int count, ByteBuffer src) {
        int cols = m.cols();
        if (m instanceof GgmlBlocks g && g.encoding() == type) {
            int blocksPerRow = cols / type.blockSize();
            g.fillBlocks(firstRow * blocksPerRow, count * blocksPerRow, src);
            return;
        }
        if (m instanceof F32Matrix f) {
            GgmlDequant.dequantize(type, src, f.storage(), f.offset() + firstRow * cols, Math.multiplyExact(count, cols));
            return;
        }
        int chunkRows = Math.max(1, Math.min(count, (1 << 18) / cols));
        float[] chunk = new float[chunkRows * cols];
        for (int r = 0; r < count; r += chunkRows) {
            int n = Math.min(chunkRows, count - r);
            GgmlDequant.dequantize(type, src, chunk, 0, n * cols);
            if (m instanceof Matrix.RowSink sink) {
                sink.fillRows(firstRow + r, n, chunk, 0);
            } else if (m instanceof GgmlBlocks g && g.encoding() != null) {
                GgmlType own = g.encoding();
                g.fillBlocks((firstRow + r) * (cols / own.blockSize()), n * (cols / own.blockSize()),
                        ByteBuffer.wrap(quantize(own, chunk, 0, n, cols)).order(ByteOrder.LITTLE_ENDIAN));
            } else {
                throw new IllegalArgumentException("cannot fill a " + m.dtype() + " matrix from " + type.ggmlName());
            }
        }
    }

    /**
     * The ggml encoding {@code dtype} keeps a matrix of {@code cols}-wide rows in, or null where it is
     * no ggml type or the rows are not whole blocks of any it falls back to (then {@link DType#Q8}): Q4_K
     * rows that are not whole 256-value super-blocks fall back to Q4_0, Q5_K and Q6_K rows to Q8_0.
     */
    static GgmlType storedType(DType dtype, int cols) {
        GgmlType t = switch (dtype) {
            case Q4_0 -> GgmlType.Q4_0;
            case Q4_K -> cols % 256 == 0 ? GgmlType.Q4_K : GgmlType.Q4_0;
            case Q5_K -> cols % 256 == 0 ? GgmlType.Q5_K : GgmlType.Q8_0;
            case Q6_K -> cols % 256 == 0 ? GgmlType.Q6_K : GgmlType.Q8_0;
            default -> null;
        };
        return t != null && cols % t.blockSize() == 0 ? t : null;
    }

    /**
     * The type a GGUF writer stores a 2-D tensor of {@code cols}-wide rows in when asked for {@code type}:
     * the type itself when the rows are whole blocks of it, else what llama.cpp's quantizer falls back to
     * for the k-quants we write (Q4_K: Q4_0, as our own storage does; Q5_K and Q6_K: Q8_0).
     */
    public static GgmlType writtenType(GgmlType type, int cols) {
        if (cols % type.blockSize() == 0) {
            return type;
        }
        return switch (type) {
            case Q4_K -> cols % 32 == 0 ? GgmlType.Q4_0 : GgmlType.F16;
            case Q5_K, Q6_K -> cols % 32 == 0 ? GgmlType.Q8_0 : GgmlType.F16;
            default -> type;
        };
    }

    /** Values below which a tensor is encoded on the calling thread alone. */
    private static final int PARALLEL_VALUES = 1 << 20;

    /**
     * Encodes rows*cols float32 values (row-major, from srcOff) as {@code type}, in ggml's block layout.
     * Every block depends on its own values only, so a large tensor is encoded a run of rows per core (the
     * k-quants' scale searches made {@code convert} of a 1.24 B model take minutes on one); the bytes are
     * the same whatever the split.
     */
    public static byte[] quantize(GgmlType type, float[] src, int srcOff, int rows, int cols) {
        byte[] out = new byte[Math.toIntExact(type.bytesFor((long) rows * cols))];
        long rowBytes = type.bytesFor(cols);
        int chunkRows = (long) rows * cols < PARALLEL_VALUES || rows < 2 ? rows
                : Math.max(1, Math.min(rows, PARALLEL_VALUES / 4 / cols));
        int chunks = (rows + chunkRows - 1) / chunkRows;
        java.util.stream.IntStream.range(0, chunks).parallel().forEach(c -> {
            int first = c * chunkRows;
            int n = Math.min(chunkRows, rows - first);
            ByteBuffer part = ByteBuffer.wrap(out, Math.toIntExact(first * rowBytes), Math.toIntExact(n * rowBytes))
                    .slice().order(ByteOrder.LITTLE_ENDIAN);
            encode(type, src, srcOff + first * cols, n * cols, part);
        });
        return out;
    }

    private static void encode(GgmlType type, float[] src, int srcOff, int n, ByteBuffer out) {
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
            case Q5_K -> GgmlQuantizers.q5_K(src, srcOff, n, out);
            case Q6_K -> GgmlQuantizers.q6_K(src, srcOff, n, out);
            default -> throw new IllegalArgumentException("writing " + type.ggmlName() + " is not supported");
        }
    }
}
