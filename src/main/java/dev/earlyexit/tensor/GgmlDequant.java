package dev.earlyexit.tensor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * ggml's weight encodings widened to float32, value for value as ggml's own {@code to_float} does
 * (the same float operations in the same order, so the results are bit-identical; checked against
 * ggml's output in GgmlDequantTest).
 */
public final class GgmlDequant {
    /** IQ4_NL's and IQ4_XS's 16 non-linear levels (ggml-common.h kvalues_iq4nl). */
    static final byte[] IQ4_LEVELS = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

    private GgmlDequant() {
    }

    /**
     * Widens {@code count} values (a whole number of blocks) of {@code type} read from {@code src} at its
     * position into dst[dstOff, dstOff + count). The buffer's position advances past what was read.
     */
    /** Whether {@link #dequantize} reads this type (the weight types of real GGUF files). */
    public static boolean supports(GgmlType type) {
        return switch (type) {
            case F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS -> true;
            default -> false;
        };
    }

    public static void dequantize(GgmlType type, ByteBuffer src, float[] dst, int dstOff, int count) {
        ByteBuffer b = src.order(ByteOrder.LITTLE_ENDIAN);
        long bytes = type.bytesFor(count); // checks whole blocks
        if (bytes > b.remaining()) {
            throw new IllegalArgumentException(type.ggmlName() + ": " + count + " values need " + bytes
                    + " bytes, " + b.remaining() + " left");
        }
        int blocks = count / type.blockSize();
        int p = b.position();
        int o = dstOff;
        switch (type) {
            case F32 -> {
                for (int i = 0; i < count; i++) {
                    dst[o + i] = b.getFloat(p + 4 * i);
                }
            }
            case F16 -> {
                for (int i = 0; i < count; i++) {
                    dst[o + i] = Half.toFloat(b.getShort(p + 2 * i) & 0xFFFF);
                }
            }
            case BF16 -> {
                for (int i = 0; i < count; i++) {
                    dst[o + i] = Float.intBitsToFloat((b.getShort(p + 2 * i) & 0xFFFF) << 16);
                }
            }
            case Q8_0 -> {
                for (int k = 0; k < blocks; k++, p += 34, o += 32) {
                    float d = half(b, p);
                    for (int j = 0; j < 32; j++) {
                        dst[o + j] = b.get(p + 2 + j) * d;
                    }
                }
            }
            case Q4_0 -> {
                for (int k = 0; k < blocks; k++, p += 18, o += 32) {
                    float d = half(b, p);
                    for (int j = 0; j < 16; j++) {
                        int q = b.get(p + 2 + j) & 0xFF;
                        dst[o + j] = ((q & 0xF) - 8) * d;
                        dst[o + j + 16] = ((q >>> 4) - 8) * d;
                    }
                }
            }
            case Q4_1 -> {
                for (int k = 0; k < blocks; k++, p += 20, o += 32) {
                    float d = half(b, p);
                    float m = half(b, p + 2);
                    for (int j = 0; j < 16; j++) {
                        int q = b.get(p + 4 + j) & 0xFF;
                        dst[o + j] = (q & 0xF) * d + m;
                        dst[o + j + 16] = (q >>> 4) * d + m;
                    }
                }
            }
            case Q5_0 -> {
                for (int k = 0; k < blocks; k++, p += 22, o += 32) {
                    float d = half(b, p);
                    int qh = b.getInt(p + 2);
                    for (int j = 0; j < 16; j++) {
                        int q = b.get(p + 6 + j) & 0xFF;
                        dst[o + j] = (((q & 0xF) | ((qh >>> j) << 4 & 0x10)) - 16) * d;
                        dst[o + j + 16] = (((q >>> 4) | ((qh >>> (j + 12)) & 0x10)) - 16) * d;
                    }
                }
            }
            case Q5_1 -> {
                for (int k = 0; k < blocks; k++, p += 24, o += 32) {
                    float d = half(b, p);
                    float m = half(b, p + 2);
                    int qh = b.getInt(p + 4);
                    for (int j = 0; j < 16; j++) {
                        int q = b.get(p + 8 + j) & 0xFF;
                        dst[o + j] = ((q & 0xF) | ((qh >>> j) << 4 & 0x10)) * d + m;
                        dst[o + j + 16] = ((q >>> 4) | ((qh >>> (j + 12)) & 0x10)) * d + m;
                    }
                }
            }
            case Q2_K -> {
                for (int k = 0; k < blocks; k++, p += 84, o += 256) {
                    // scales[16] at 0, qs[64] at 16, d at 80, dmin at 82
                    float d = half(b, p + 80);
                    float min = half(b, p + 82);
                    int y = o;
                    for (int n = 0; n < 2; n++) {
                        int q = p + 16 + 32 * n;
                        for (int j = 0; j < 4; j++) {
                            int shift = 2 * j;
                            for (int half16 = 0; half16 < 2; half16++) {
                                int sc = b.get(p + n * 8 + j * 2 + half16) & 0xFF;
                                float dl = d * (sc & 0xF);
                                float ml = min * (sc >>> 4);
                                for (int l = 0; l < 16; l++) {
                                    dst[y++] = dl * ((b.get(q + 16 * half16 + l) >>> shift) & 3) - ml;
                                }
                            }
                        }
                    }
                }
            }
            case Q3_K -> {
                int[] sc = new int[16];
                for (int k = 0; k < blocks; k++, p += 110, o += 256) {
                    // hmask[32] at 0, qs[64] at 32, scales[12] at 96, d at 108
                    float dAll = half(b, p + 108);
                    q3Scales(b, p + 96, sc);
                    int y = o;
                    int m = 1;
                    int is = 0;
                    for (int n = 0; n < 2; n++) {
                        int q = p + 32 + 32 * n;
                        for (int j = 0; j < 4; j++) {
                            int shift = 2 * j;
                            for (int half16 = 0; half16 < 2; half16++) {
                                float dl = dAll * (sc[is++] - 32);
                                for (int l = 0; l < 16; l++) {
                                    int i = 16 * half16 + l;
                                    int lo = (b.get(q + i) >>> shift) & 3;
                                    int hi = (b.get(p + i) & m) != 0 ? 0 : 4;
                                    dst[y++] = dl * (lo - hi);
                                }
                            }
                            m <<= 1;
                        }
                    }
                }
            }
            case Q4_K -> {
                for (int k = 0; k < blocks; k++, p += 144, o += 256) {
                    // d, dmin, scales[12] at 4, qs[128] at 16
                    float d = half(b, p);
                    float min = half(b, p + 2);
                    int y = o;
                    for (int j = 0; j < 4; j++) {
                        float d1 = d * kScale(b, p + 4, 2 * j);
                        float m1 = min * kMin(b, p + 4, 2 * j);
                        float d2 = d * kScale(b, p + 4, 2 * j + 1);
                        float m2 = min * kMin(b, p + 4, 2 * j + 1);
                        int q = p + 16 + 32 * j;
                        for (int l = 0; l < 32; l++) {
                            dst[y + l] = d1 * (b.get(q + l) & 0xF) - m1;
                            dst[y + 32 + l] = d2 * ((b.get(q + l) & 0xFF) >>> 4) - m2;
                        }
                        y += 64;
                    }
                }
            }
            case Q5_K -> {
                for (int k = 0; k < blocks; k++, p += 176, o += 256) {
                    // d, dmin, scales[12] at 4, qh[32] at 16, qs[128] at 48
                    float d = half(b, p);
                    float min = half(b, p + 2);
                    int y = o;
                    for (int j = 0; j < 4; j++) {
                        float d1 = d * kScale(b, p + 4, 2 * j);
                        float m1 = min * kMin(b, p + 4, 2 * j);
                        float d2 = d * kScale(b, p + 4, 2 * j + 1);
                        float m2 = min * kMin(b, p + 4, 2 * j + 1);
                        int q = p + 48 + 32 * j;
                        for (int l = 0; l < 32; l++) {
                            int h = b.get(p + 16 + l) >>> (2 * j);
                            int ql = b.get(q + l) & 0xFF;
                            dst[y + l] = d1 * ((ql & 0xF) + ((h & 1) << 4)) - m1;
                            dst[y + 32 + l] = d2 * ((ql >>> 4) + ((h & 2) << 3)) - m2;
                        }
                        y += 64;
                    }
                }
            }
            case Q6_K -> {
                for (int k = 0; k < blocks; k++, p += 210, o += 256) {
                    // ql[128] at 0, qh[64] at 128, scales[16] (signed) at 192, d at 208
                    float d = half(b, p + 208);
                    for (int n = 0; n < 2; n++) {
                        int ql = p + 64 * n;
                        int qh = p + 128 + 32 * n;
                        int sc = p + 192 + 8 * n;
                        int y = o + 128 * n;
                        for (int l = 0; l < 32; l++) {
                            int is = l / 16;
                            int lo0 = b.get(ql + l) & 0xFF;
                            int lo1 = b.get(ql + l + 32) & 0xFF;
                            int h = b.get(qh + l) & 0xFF;
                            int q1 = ((lo0 & 0xF) | ((h & 3) << 4)) - 32;
                            int q2 = ((lo1 & 0xF) | (((h >>> 2) & 3) << 4)) - 32;
                            int q3 = ((lo0 >>> 4) | (((h >>> 4) & 3) << 4)) - 32;
                            int q4 = ((lo1 >>> 4) | (((h >>> 6) & 3) << 4)) - 32;
                            dst[y + l] = d * b.get(sc + is) * q1;
                            dst[y + l + 32] = d * b.get(sc + is + 2) * q2;
                            dst[y + l + 64] = d * b.get(sc + is + 4) * q3;
                            dst[y + l + 96] = d * b.get(sc + is + 6) * q4;
                        }
                    }
                }
            }
            case IQ4_NL -> {
                for (int k = 0; k < blocks; k++, p += 18, o += 32) {
                    float d = half(b, p);
                    for (int j = 0; j < 16; j++) {
                        int q = b.get(p + 2 + j) & 0xFF;
                        dst[o + j] = d * IQ4_LEVELS[q & 0xF];
                        dst[o + j + 16] = d * IQ4_LEVELS[q >>> 4];
                    }
                }
            }
            case IQ4_XS -> {
                for (int k = 0; k < blocks; k++, p += 136, o += 256) {
                    // d, scales_h (u16), scales_l[4] at 4, qs[128] at 8
                    float d = half(b, p);
                    int scalesH = b.getShort(p + 2) & 0xFFFF;
                    for (int ib = 0; ib < 8; ib++) {
                        int ls = iq4xsScale(b, p, scalesH, ib);
                        float dl = d * (ls - 32);
                        int q = p + 8 + 16 * ib;
                        int y = o + 32 * ib;
                        for (int j = 0; j < 16; j++) {
                            int v = b.get(q + j) & 0xFF;
                            dst[y + j] = dl * IQ4_LEVELS[v & 0xF];
                            dst[y + j + 16] = dl * IQ4_LEVELS[v >>> 4];
                        }
                    }
                }
            }
            default -> throw new IllegalArgumentException("dequantizing " + type.ggmlName() + " is not supported");
        }
        b.position(Math.toIntExact(b.position() + bytes));
    }

    static float half(ByteBuffer b, int at) {
        return Half.toFloat(b.getShort(at) & 0xFFFF);
    }

    /** The 6-bit scale of sub-block j of a Q4_K/Q5_K super-block whose 12 scale bytes start at s. */
    static int kScale(ByteBuffer b, int s, int j) {
        if (j < 4) {
            return b.get(s + j) & 63;
        }
        return (b.get(s + j + 4) & 0xF) | (((b.get(s + j - 4) & 0xFF) >>> 6) << 4);
    }

    /** The 6-bit min of sub-block j (see {@link #kScale}). */
    static int kMin(ByteBuffer b, int s, int j) {
        if (j < 4) {
            return b.get(s + j + 4) & 63;
        }
        return ((b.get(s + j + 4) & 0xFF) >>> 4) | (((b.get(s + j) & 0xFF) >>> 6) << 4);
    }

    /** IQ4_XS's 6-bit scale of 32-value block ib. */
    static int iq4xsScale(ByteBuffer b, int p, int scalesH, int ib) {
        return (((b.get(p + 4 + ib / 2) & 0xFF) >>> (4 * (ib % 2))) & 0xF) | (((scalesH >>> (2 * ib)) & 3) << 4);
    }

    /** Q3_K's sixteen 6-bit scales (unsigned, 0..63; the value is scale - 32) from the 12 bytes at s. */
    static void q3Scales(ByteBuffer b, int s, int[] out) {
        for (int j = 0; j < 16; j++) {
            int low = j < 8 ? b.get(s + j) & 0xF : (b.get(s + j - 8) & 0xFF) >>> 4;
            int high = ((b.get(s + 8 + j % 4) & 0xFF) >>> (2 * (j / 4))) & 3;
            out[j] = low | high << 4;
        }
    }
}
