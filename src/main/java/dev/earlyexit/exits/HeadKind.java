package dev.earlyexit.exits;

import java.util.Locale;

/** The three kinds of exit head (see {@code docs/heads.md} for what each costs). */
public enum HeadKind {
    /** The paper's head: a norm and a linear map to the whole vocabulary. */
    FULL,
    /** A norm and a low-rank residual adapter in front of the model's own frozen classifier. */
    ADAPTER,
    /** A norm and a linear map to a reduced vocabulary (the tokens the model predicts most). */
    SUBSET;

    public String cliName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Parses a CLI or file name; anything else is an IllegalArgumentException naming the choices. */
    public static HeadKind parse(String s) {
        for (HeadKind k : values()) {
            if (k.cliName().equals(s.toLowerCase(Locale.ROOT))) {
                return k;
            }
        }
        throw new IllegalArgumentException("unknown head kind '" + s + "' (expected full, adapter or subset)");
    }
}
