package dev.earlyexit.cli;

/** ANSI colours for text coloured by the layer each token exited at (terminals only). */
public final class ExitColours {
    private static final String RESET = "\033[0m";
    /** Shallow to deep: red, yellow, green, cyan, blue, magenta; the final layer keeps the default colour. */
    private static final int[] CODES = {31, 33, 32, 36, 34, 35};

    private ExitColours() {
    }

    /**
     * Whether standard output is a terminal: System.console() exists (Java 17 to 21 give one only then);
     * from Java 22 a console may exist for redirected output, so its isTerminal() is asked too.
     */
    static boolean stdoutIsTerminal() {
        java.io.Console console = System.console();
        if (console == null) {
            return false;
        }
        try {
            return (Boolean) java.io.Console.class.getMethod("isTerminal").invoke(console);
        } catch (ReflectiveOperationException e) {
            return true; // before Java 22 there is no isTerminal(), and a console means a terminal
        }
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

    /** "exit layer: 3 4 5 6 (final)", each number in its colour; the final layer uncoloured, as its tokens print. */
    static String legend(int[] headLayers, int modelLayers) {
        StringBuilder sb = new StringBuilder("exit layer:");
        for (int l : headLayers) {
            if (l < modelLayers) { // a head after the last layer prints in the final layer's colour
                sb.append(' ').append(paint(Integer.toString(l), l, modelLayers));
            }
        }
        sb.append(' ').append(modelLayers).append(" (final)");
        return sb.toString();
    }
}
