package dev.earlyexit.exits;

import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.ModelWeights;

import java.io.IOException;
import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * Where exit heads come from: the one seam between early exit (calibration, decoding, scoring) and
 * the way heads are made. Copied heads need nothing; trained heads are read from a file.
 */
@FunctionalInterface
public interface ExitHeadProvider {

    HeadSet heads(ModelConfig config, ModelWeights weights) throws IOException;

    /** Untrained copies of the final norm and classifier after the given layers (1-based). */
    static ExitHeadProvider copied(int[] layers) {
        return (c, w) -> {
            for (int l : layers) {
                if (l < 1 || l >= c.layers()) {
                    throw new IllegalArgumentException("exit head layer " + l + " must be in [1, " + (c.layers() - 1)
                            + "] (the last layer is the model's own output)");
                }
            }
            int[] sorted = Arrays.stream(layers).sorted().distinct().toArray();
            String list = Arrays.stream(sorted).mapToObj(Integer::toString).collect(Collectors.joining(","));
            return new HeadSet("copied-final", "copied-final:layers=" + list, CopiedFinalHead.at(sorted, c, w));
        };
    }

    /** Copied heads after every layer but the last (the default until trained heads are given). */
    static ExitHeadProvider copiedEveryLayer() {
        return (c, w) -> copied(defaultLayers(c)).heads(c, w);
    }

    /** Every layer but the last: 1, 2, ..., layers - 1. */
    static int[] defaultLayers(ModelConfig c) {
        int[] l = new int[c.layers() - 1];
        for (int i = 0; i < l.length; i++) {
            l[i] = i + 1;
        }
        return l;
    }
}
