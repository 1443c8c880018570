package dev.earlyexit.tensor;

import java.util.Locale;

/** How the engine stores weight matrices in memory (independent of how the file stores them). */
public enum DType {
    /** 32-bit floats: exact, the default, the one that must match the references. */
    F32("f32", 4.0),
    /** bfloat16: the top 16 bits of a float32, rounded to nearest even. */
    BF16("bf16", 2.0),
    /** 8-bit integers with one half-precision scale per group of {@link Q8Matrix#GROUP} values of a row (Q8_0). */
    Q8("q8", 1.0 + 2.0 / Q8Matrix.GROUP),
    /**
     * ggml's Q4_0: 4-bit values with one half-precision scale per 32. Made by our own
     * quantizer from float weights; rows whose width is not a multiple of 32 stay {@link #Q8}.
     */
    Q4_0("q4_0", 0.5 + 2.0 / 32),
    /**
     * ggml's Q4_K: 4-bit values, a 6-bit scale and min per 32, two super-scales per 256. Rows whose
     * width is not a multiple of 256 are stored as {@link #Q4_0} (as llama.cpp falls back too).
     */
    Q4_K("q4_k", 0.5 + 2.0 / 32 + 8.0 / 256),
    /**
     * ggml's Q5_K: Q4_K with a fifth bit per value. Rows whose width is not a multiple of 256 are
     * stored as {@link #Q8} (llama.cpp falls back to Q5_1, which we do not keep).
     */
    Q5_K("q5_k", 0.625 + 2.0 / 32 + 8.0 / 256),
    /**
     * ggml's Q6_K: 6-bit values, a signed 8-bit scale per 16, one super-scale per 256. Rows whose width
     * is not a multiple of 256 are stored as {@link #Q8} (as llama.cpp falls back to Q8_0).
     */
    Q6_K("q6_k", 0.75 + 1.0 / 16 + 4.0 / 256);

    private final String cliName;
    private final double bytesPerWeight;

    DType(String cliName, double bytesPerWeight) {
        this.cliName = cliName;
        this.bytesPerWeight = bytesPerWeight;
    }

    public String cliName() {
        return cliName;
    }

    public double bytesPerWeight() {
        return bytesPerWeight;
    }

    public static DType parse(String s) {
        String k = s.toLowerCase(Locale.ROOT);
        for (DType d : values()) {
            if (d.cliName.equals(k) || d.name().toLowerCase(Locale.ROOT).equals(k)) {
                return d;
            }
        }
        if (k.equals("fp32") || k.equals("float32")) {
            return F32;
        }
        if (k.equals("int8") || k.equals("q8_0")) { // q8 is ggml's Q8_0
            return Q8;
        }
        throw new IllegalArgumentException("unknown dtype '" + s + "' (expected f32, bf16, q8, q4_0, q4_k, q5_k or q6_k)");
    }
}
