package dev.earlyexit.model;

import dev.earlyexit.tensor.Matrix;

/**
 * One transformer block. q, k and v are fused into one [qDim + 2*kvDim, dim] matrix (one pass
 * over the input for all three), and for SwiGLU the gate and up projections into one
 * [2*hiddenDim, dim] matrix (gate rows first; bUp then has 2*hiddenDim entries in the same order).
 * Bias arrays and the second norm are null when the architecture has none. qNorm and kNorm are the
 * per-head RMSNorm weights [headDim] applied to every query and key head before RoPE when
 * {@link ModelConfig#qkNorm()} (Qwen3), else null.
 */
public record LayerWeights(
        float[] attnNorm, float[] attnNormBias,
        Matrix wqkv, float[] bqkv,
        Matrix wo, float[] bo,
        float[] mlpNorm, float[] mlpNormBias,
        Matrix wUp, float[] bUp,
        Matrix wDown, float[] bDown,
        float[] qNorm, float[] kNorm) {
}
