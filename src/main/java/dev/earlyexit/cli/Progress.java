package dev.earlyexit.cli;

import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * A progress bar on standard error in the one style of every long command, or nothing at all when
 * progress is off; callers step it without checking which.
 */
public final class Progress implements AutoCloseable {
    private final ProgressBar bar;

    private Progress(ProgressBar bar) {
        this.bar = bar;
    }

    public static Progress start(boolean enabled, String task, long steps) {
        return new Progress(enabled ? new ProgressBarBuilder().setTaskName(task).setInitialMax(steps)
                .setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(500).setMaxRenderedLength(140).build() : null);
    }

    public void step() {
        if (bar != null) {
            bar.step();
        }
    }

    void stepTo(long done) {
        if (bar != null) {
            bar.stepTo(done);
        }
    }

    void message(String text) {
        if (bar != null) {
            bar.setExtraMessage(text);
        }
    }

    @Override
    public void close() {
        if (bar != null) {
            bar.close();
        }
    }
}
