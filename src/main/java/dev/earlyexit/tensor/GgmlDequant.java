package dev.earlyexit.tensor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * ggml's weight encodings widened to float32, value for value as ggml's own {@code to_float} does.
 */
public final class GgmlDequant {
    private GgmlDequant() {
    }

    /**
     * Widens {@code count} values (a whole number of blocks) of {@code type} read from {@code src} at its
     * position into dst[dstOff, dstOff + count). The buffer's position advances past what was read.
     */
    public static void dequantize(GgmlType type, ByteBuffer src, float[] dst, int dstOff, int count) {
        ByteBuffer b = src.order(ByteOrder.LITTLE_ENDIAN);
        type.bytesFor(count); // checks whole blocks
        switch (type) {
            case F32 -> {
                for (int i = 0; i < count; i++) {
                    dst[dstOff + i] = b.getFloat();
                }
            }
            case F16 -> {
                for (int i = 0; i < count; i++) {
                    dst[dstOff + i] = Half.toFloat(b.getShort() & 0xFFFF);
                }
            }
            case BF16 -> {
                for (int i = 0; i < count; i++) {
                    dst[dstOff + i] = Float.intBitsToFloat((b.getShort() & 0xFFFF) << 16);
                }
            }
            default -> throw new IllegalArgumentException("dequantizing " + type.ggmlName() + " is not supported");
        }
    }
}
