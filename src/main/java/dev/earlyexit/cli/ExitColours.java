package dev.earlyexit.cli;

/** ANSI colours for text coloured by the layer each token exited at (terminals only). */
final class ExitColours {
    private static final String RESET = "\033[0m";
    /** Shallow to deep: red, yellow, green, cyan, blue, magenta; the final layer keeps the default colour. */
    private static final int[] CODES = {31, 33, 32, 36, 34, 35};

    private ExitColours() {
    }

    static String colour(int layer, int modelLayers) {
        if (layer >= modelLayers) {
            return "";
        }
        int i = (int) ((long) (layer - 1) * CODES.length / Math.max(1, modelLayers - 1));
        return "\033[" + CODES[Math.min(CODES.length - 1, Math.max(0, i))] + "m";
    }

    static String paint(String text, int layer, int modelLayers) {
        String c = colour(layer, modelLayers);
        return c.isEmpty() || text.isEmpty() ? text : c + text + RESET;
    }

    /** "exit layer: 3 4 5 6 (final)", each number in its colour. */
    static String legend(int[] headLayers, int modelLayers) {
        StringBuilder sb = new StringBuilder("exit layer:");
        for (int l : headLayers) {
            sb.append(' ').append(paint(Integer.toString(l), l, modelLayers));
        }
        sb.append(' ').append(modelLayers).append(" (final)");
        return sb.toString();
    }
}
