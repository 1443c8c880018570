package dev.earlyexit.model;

import java.util.Arrays;

/**
 * How a checkpoint rescales the rotary frequencies theta^(-2i/rotaryDim) of each rotated pair i. Only
 * the frequencies change (none of these variants scales the attention logits), so the forward pass
 * needs nothing but {@link #inverseFrequencies}. Never null in a {@link ModelConfig}: {@link #NONE}.
 */
public sealed interface RopeScaling {

    /** Plain RoPE. */
    None NONE = new None();

    static RopeScaling linear(double factor) {
        return new Linear(factor);
    }

    static RopeScaling llama3(double factor, double lowFreqFactor, double highFreqFactor, int originalMaxPositions) {
        return new Llama3(factor, lowFreqFactor, highFreqFactor, originalMaxPositions);
    }

    static RopeScaling freqFactors(float[] divisors) {
        return new FreqFactors(divisors);
    }

    /** The inverse frequency of each of the rotaryDim / 2 rotated pairs, base theta. */
    default double[] inverseFrequencies(int rotaryDim, double theta) {
        if (rotaryDim < 0 || rotaryDim % 2 != 0) {
            throw new IllegalArgumentException("rotary dims must be even and non-negative: " + rotaryDim);
        }
        double[] inv = new double[rotaryDim / 2];
        for (int i = 0; i < inv.length; i++) {
            inv[i] = rescale(i, 1.0 / Math.pow(theta, (2.0 * i) / rotaryDim));
        }
        return inv;
    }

    /** The scaled inverse frequency of pair i, whose unscaled value is invFreq. */
    double rescale(int pair, double invFreq);

    record None() implements RopeScaling {
        @Override
        public double rescale(int pair, double invFreq) {
            return invFreq;
        }
    }

    /** Position interpolation (HF rope_type "linear"): every frequency divided by factor. */
    record Linear(double factor) implements RopeScaling {
        public Linear {
            if (!(factor > 0) || Double.isInfinite(factor)) {
                throw new IllegalArgumentException("linear RoPE scaling factor must be positive: " + factor);
            }
        }

        @Override
        public double rescale(int pair, double invFreq) {
            return invFreq / factor;
        }
    }

    /**
     * Llama 3.1's scaling (HF rope_type "llama3"): wavelengths shorter than originalMaxPositions /
     * highFreqFactor are kept, those longer than originalMaxPositions / lowFreqFactor are divided by
     * factor, and those between move smoothly from one to the other with originalMaxPositions / wavelength.
     */
    record Llama3(double factor, double lowFreqFactor, double highFreqFactor, int originalMaxPositions)
            implements RopeScaling {
        public Llama3 {
            if (!(factor > 0) || Double.isInfinite(factor)) {
                throw new IllegalArgumentException("llama3 RoPE scaling factor must be positive: " + factor);
            }
            if (!(lowFreqFactor > 0) || !(highFreqFactor > lowFreqFactor) || Double.isInfinite(highFreqFactor)) {
                throw new IllegalArgumentException("llama3 RoPE scaling needs 0 < low_freq_factor < high_freq_factor, got "
                        + lowFreqFactor + " and " + highFreqFactor);
            }
            if (originalMaxPositions <= 0) {
                throw new IllegalArgumentException("llama3 RoPE scaling needs a positive original_max_position_embeddings: "
                        + originalMaxPositions);
            }
        }

        @Override
        public double rescale(int pair, double invFreq) {
            double wavelength = 2 * Math.PI / invFreq;
            if (wavelength < originalMaxPositions / highFreqFactor) {
                return invFreq;
            }
            if (wavelength > originalMaxPositions / lowFreqFactor) {
                return invFreq / factor;
            }
            double smooth = (originalMaxPositions / wavelength - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
            return (1 - smooth) * invFreq / factor + smooth * invFreq;
        }
    }

    /**
     * One divisor per rotated pair (GGUF's rope_freqs tensor, which llama.cpp-converted Llama 3.x files
     * carry instead of the llama3 parameters): inv_freq[i] / divisors[i].
     */
    record FreqFactors(float[] divisors) implements RopeScaling {
        public FreqFactors {
            divisors = divisors.clone();
            for (float d : divisors) {
                if (!(d > 0) || Float.isInfinite(d)) {
                    throw new IllegalArgumentException("RoPE frequency factors must be positive: " + d);
                }
            }
        }

        @Override
        public float[] divisors() {
            return divisors.clone();
        }

        @Override
        public double[] inverseFrequencies(int rotaryDim, double theta) {
            if (rotaryDim != 2 * divisors.length) {
                throw new IllegalArgumentException(divisors.length + " RoPE frequency factors for " + rotaryDim
                        + " rotary dims (one per pair expected)");
            }
            return RopeScaling.super.inverseFrequencies(rotaryDim, theta);
        }

        @Override
        public double rescale(int pair, double invFreq) {
            return invFreq / divisors[pair];
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof FreqFactors f && Arrays.equals(divisors, f.divisors);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(divisors);
        }

        @Override
        public String toString() {
            return "FreqFactors" + Arrays.toString(divisors);
        }
    }
}
