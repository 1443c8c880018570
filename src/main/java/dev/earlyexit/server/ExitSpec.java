package dev.earlyexit.server;

import java.util.Locale;

/**
 * How one request decodes: the server's default, or the request's {@code early_exit} object.
 *
 * @param epsilon  early exit and DSSD: the calibrated agreement level that picks the thresholds
 * @param maxDraft DSSD: most tokens drafted before the full model verifies
 */
public record ExitSpec(Mode mode, double epsilon, int maxDraft) {

    public enum Mode {
        FULL("full"), EARLY_EXIT("early-exit"), DSSD("dssd");

        private final String id;

        Mode(String id) {
            this.id = id;
        }

        public String id() {
            return id;
        }

        public static Mode parse(String s) {
            for (Mode m : values()) {
                if (m.id.equals(s.toLowerCase(Locale.ROOT))) {
                    return m;
                }
            }
            throw new IllegalArgumentException("unknown mode '" + s + "' (full, early-exit or dssd)");
        }
    }
}
