package dev.earlyexit.cli;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class TeacherForcedScoringTest {
    /** Windows share one token, so n tokens make n - 1 predictions in windows of w - 1 predictions each. */
    @Test
    void windowsCoverEveryPredictionOnce() {
        assertThat(TeacherForcedScoring.windows(0, 256)).isZero();
        assertThat(TeacherForcedScoring.windows(1, 256)).isZero();
        assertThat(TeacherForcedScoring.windows(2, 256)).isEqualTo(1);
        assertThat(TeacherForcedScoring.windows(256, 256)).isEqualTo(1);
        assertThat(TeacherForcedScoring.windows(257, 256)).isEqualTo(2);
        assertThat(TeacherForcedScoring.windows(513, 256)).isEqualTo(3);
        assertThat(TeacherForcedScoring.windows(4097, 256)).isEqualTo(17); // 4096 predictions / 255 per window
    }
}
