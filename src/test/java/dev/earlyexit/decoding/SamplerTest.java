package dev.earlyexit.decoding;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class SamplerTest {
    private static final float[] LOGITS = {1f, 3f, 2f, 0f, 2.5f};

    @Test
    void greedyIsArgmax() {
        assertThat(new Sampler(SamplingOptions.GREEDY, 5).sample(LOGITS, 0)).isEqualTo(1);
    }

    @Test
    void sameSeedSameTokens() {
        SamplingOptions o = new SamplingOptions(1f, 0, 1f, 123);
        Sampler a = new Sampler(o, 5);
        Sampler b = new Sampler(o, 5);
        for (int i = 0; i < 100; i++) {
            assertThat(a.sample(LOGITS, 0)).isEqualTo(b.sample(LOGITS, 0));
        }
    }

    @Test
    void frequenciesFollowTheTemperedSoftmax() {
        float temperature = 0.7f;
        Sampler s = new Sampler(new SamplingOptions(temperature, 0, 1f, 9), 5);
        int n = 200_000;
        int[] counts = new int[5];
        for (int i = 0; i < n; i++) {
            counts[s.sample(LOGITS, 0)]++;
        }
        double z = 0;
        for (float l : LOGITS) {
            z += Math.exp(l / temperature);
        }
        for (int i = 0; i < 5; i++) {
            double p = Math.exp(LOGITS[i] / temperature) / z;
            // 5 standard deviations of a binomial count.
            assertThat((double) counts[i] / n).isCloseTo(p, within(5 * Math.sqrt(p * (1 - p) / n) + 1e-9));
        }
    }

    @Test
    void topKAndTopPKeepOnlyTheNucleus() {
        float[] d = new float[5];
        new Sampler(new SamplingOptions(1f, 2, 1f, 0), 5).distribution(LOGITS, 0, d);
        assertThat(d[0]).isZero();
        assertThat(d[2]).isZero();
        assertThat(d[3]).isZero();
        assertThat((double) (d[1] + d[4])).isCloseTo(1.0, within(1e-6));

        // softmax(LOGITS): 0.0589, 0.4353, 0.1601, 0.0217, 0.2640 -> the top two hold 0.699, the top three 0.859.
        new Sampler(new SamplingOptions(1f, 0, 0.8f, 0), 5).distribution(LOGITS, 0, d);
        assertThat(d[1]).isPositive();
        assertThat(d[4]).isPositive();
        assertThat(d[2]).isPositive();
        assertThat(d[0]).isZero();
        assertThat(d[3]).isZero();
        assertThat((double) (d[1] + d[2] + d[4])).isCloseTo(1.0, within(1e-6));
    }

    @Test
    void invalidParametersAreRejected() {
        assertThatThrownBy(() -> new SamplingOptions(-1f, 0, 1f, 0)).hasMessageContaining("temperature");
        assertThatThrownBy(() -> new SamplingOptions(Float.NaN, 0, 1f, 0)).hasMessageContaining("temperature");
        assertThatThrownBy(() -> new SamplingOptions(1f, -1, 1f, 0)).hasMessageContaining("top-k");
        assertThatThrownBy(() -> new SamplingOptions(1f, 0, 0f, 0)).hasMessageContaining("top-p");
        assertThatThrownBy(() -> new SamplingOptions(1f, 0, 1.5f, 0)).hasMessageContaining("top-p");
    }
}
