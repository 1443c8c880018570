package dev.earlyexit.exits;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
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

    /** Heads read from a file: their identity is the file's SHA-256, so retrained heads need a new calibration. */
    public static HeadSet fromFile(String name, Path file, List<? extends ExitHead> heads) throws IOException {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        try (InputStream in = new DigestInputStream(Files.newInputStream(file), md)) {
            in.transferTo(java.io.OutputStream.nullOutputStream());
        }
        return new HeadSet(name, name + ":sha256:" + HexFormat.of().formatHex(md.digest()), List.copyOf(heads));
    }

    public int[] layers() {
        return heads.stream().mapToInt(ExitHead::layer).toArray();
    }

    /**
     * The labels of every exit in per-layer tables and JSON, the heads' in order and then the model's
     * classifier: a head's layer ("4"), "6-head" for a head after the last layer of a 6-layer model (it
     * shares its layer with the classifier), and "6" for the model's own classifier.
     */
    public static String[] exitLabels(int[] headLayers, int modelLayers) {
        String[] labels = new String[headLayers.length + 1];
        for (int k = 0; k < headLayers.length; k++) {
            labels[k] = headLayers[k] == modelLayers ? headLayers[k] + "-head" : Integer.toString(headLayers[k]);
        }
        labels[headLayers.length] = Integer.toString(modelLayers);
        return labels;
    }

    public int size() {
        return heads.size();
    }

    public ExitHead head(int i) {
        return heads.get(i);
    }
}
