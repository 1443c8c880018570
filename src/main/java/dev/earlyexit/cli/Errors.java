package dev.earlyexit.cli;

import dev.earlyexit.format.ModelFormatException;
import picocli.CommandLine;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.NoSuchFileException;

/** One clear line per failure on standard error; the stack trace only with --verbose. */
public final class Errors {
    private Errors() {
    }

    static int report(Exception e, CommandLine cl, CommandLine.ParseResult parsed) {
        PrintWriter err = cl.getErr();
        err.println("earlyexit: error: " + describe(e));
        if (cl.getParseResult() != null && cl.getParseResult().hasMatchedOption("--verbose")) {
            e.printStackTrace(err);
        } else if (!(e instanceof IllegalArgumentException || e instanceof ModelFormatException
                || e instanceof IOException || e instanceof IllegalStateException)) {
            err.println("(run with --verbose for details)");
        }
        err.flush();
        return 1;
    }

    static int reportUsage(CommandLine.ParameterException e, String[] args) {
        CommandLine cl = e.getCommandLine();
        PrintWriter err = cl.getErr();
        err.println("earlyexit: " + e.getMessage());
        err.println("Try 'earlyexit " + (cl.getCommandName().equals("earlyexit") ? "" : cl.getCommandName() + " ")
                + "--help' for usage.");
        err.flush();
        return 2;
    }

    static String describe(Throwable e) {
        if (e instanceof NoSuchFileException nsf) {
            return "file not found: " + nsf.getFile();
        }
        if (e instanceof OutOfMemoryError) {
            return "out of memory (raise the JVM heap with JAVA_OPTS=-Xmx...)";
        }
        String m = e.getMessage();
        if (m == null || m.isBlank()) {
            return e.getClass().getSimpleName();
        }
        return m;
    }
}
