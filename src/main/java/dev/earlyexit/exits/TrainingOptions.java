package dev.earlyexit.exits;

/**
 * Settings of one training run.
 *
 * @param lambda       weight of the entropy penalty, in [0, 1)
 * @param steps        optimizer steps
 * @param batch        positions per step
 * @param lr           peak learning rate (reached after the warm-up, then cosine decay to lr·minLrFraction)
 * @param weightDecay  AdamW's decoupled weight decay (matrices only)
 * @param warmupSteps  linear warm-up steps
 * @param minLrFraction floor of the cosine schedule as a fraction of lr
 * @param seed         seeds the order of the data (and, in the caller, random initialisation)
 */
public record TrainingOptions(float lambda, int steps, int batch, float lr, float weightDecay, int warmupSteps,
                              float minLrFraction, long seed) {
    public static final float BETA1 = 0.9f;
    public static final float BETA2 = 0.999f;
    public static final float EPS = 1e-8f;

    public TrainingOptions {
        if (!(lambda >= 0f && lambda < 1f)) {
            throw new IllegalArgumentException("lambda must be in [0, 1), got " + lambda);
        }
        if (steps < 0) {
            throw new IllegalArgumentException("steps must be >= 0, got " + steps);
        }
        if (batch < 1) {
            throw new IllegalArgumentException("batch must be >= 1, got " + batch);
        }
        if (!(lr > 0f) || Float.isInfinite(lr)) {
            throw new IllegalArgumentException("learning rate must be a positive number, got " + lr);
        }
        if (!(weightDecay >= 0f)) {
            throw new IllegalArgumentException("weight decay must be >= 0, got " + weightDecay);
        }
        if (warmupSteps < 0) {
            throw new IllegalArgumentException("warm-up steps must be >= 0, got " + warmupSteps);
        }
    }

    /** Learning rate of step t (0-based): linear warm-up, then cosine decay. */
    public float learningRate(int t) {
        if (t < warmupSteps) {
            return lr * (t + 1) / warmupSteps;
        }
        int decaySteps = Math.max(1, steps - warmupSteps);
        double progress = Math.min(1.0, (double) (t - warmupSteps) / decaySteps);
        double min = lr * minLrFraction;
        return (float) (min + (lr - min) * 0.5 * (1 + Math.cos(Math.PI * progress)));
    }
}
