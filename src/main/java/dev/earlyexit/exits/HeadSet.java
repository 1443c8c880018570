package dev.earlyexit.exits;

import java.util.List;

/**
 * The exit heads one run uses, with what identifies them. A calibration is only valid for the heads
 * (and the model) it was made with, so it records {@link #identity()} and refuses other heads.
 *
 * @param name     short name for file names and reports (e.g. "copied-final", "subset")
 * @param identity stable identity of these heads: for trained heads a digest of their file, for
 *                 untrained copied heads their kind and layers (the model fingerprint covers the rest)
 * @param heads    heads in ascending, distinct layer order
 */
public record HeadSet(String name, String identity, List<ExitHead> heads) {

    public HeadSet {
        heads = List.copyOf(heads);
        for (int i = 1; i < heads.size(); i++) {
            if (heads.get(i).layer() <= heads.get(i - 1).layer()) {
                throw new IllegalArgumentException("exit heads must have ascending, distinct layers");
            }
        }
    }

    public int[] layers() {
        return heads.stream().mapToInt(ExitHead::layer).toArray();
    }

    public int size() {
        return heads.size();
    }

    public ExitHead head(int i) {
        return heads.get(i);
    }
}
