package dev.earlyexit.decoding;

/**
 * How the next token is chosen from a distribution. temperature 0 means greedy (argmax); topK 0 and
 * topP 1 disable those filters.
 */
public record SamplingOptions(float temperature, int topK, float topP, long seed) {

    public static final SamplingOptions GREEDY = new SamplingOptions(0f, 0, 1f, 0L);

    public SamplingOptions {
        if (!(temperature >= 0f) || Float.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be a finite number >= 0, got " + temperature);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("top-k must be >= 0 (0 disables it), got " + topK);
        }
        if (!(topP > 0f && topP <= 1f)) {
            throw new IllegalArgumentException("top-p must be in (0, 1], got " + topP);
        }
    }

    public boolean greedy() {
        return temperature == 0f;
    }
}
