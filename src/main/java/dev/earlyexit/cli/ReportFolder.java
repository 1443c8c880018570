package dev.earlyexit.cli;

import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;

/** Where a command writes its report when not told: a new folder per run, so runs never overwrite each other. */
public final class ReportFolder {
    private ReportFolder() {
    }

    /** reports/&lt;command&gt;-&lt;yyyyMMdd-HHmmss&gt; under the working directory. */
    public static Path timestamped(String command) {
        return Path.of("reports", command + "-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
    }
}
