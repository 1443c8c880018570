package dev.earlyexit.exits;

import java.util.Locale;

/** How a head's weights start: random, or a copy of the model's final norm and classifier. */
public enum HeadInit {
    RANDOM,
    COPY;

    public String cliName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static HeadInit parse(String s) {
        for (HeadInit k : values()) {
            if (k.cliName().equals(s.toLowerCase(Locale.ROOT))) {
                return k;
            }
        }
        throw new IllegalArgumentException("unknown head init '" + s + "' (expected random or copy)");
    }
}
