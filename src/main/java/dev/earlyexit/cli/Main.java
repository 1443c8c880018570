package dev.earlyexit.cli;

import dev.earlyexit.bench.*;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of the {@code earlyexit} command-line tool. */
@Command(name = "earlyexit", mixinStandardHelpOptions = true, version = "earlyexit 0.1.0",
        description = "Early-exit inference for pre-trained causal language models, in pure Java.",
        subcommands = {DemoCommand.class, GenerateCommand.class, TrainHeadsCommand.class, CalibrateCommand.class, ScoreCommand.class,
                EvalCommand.class,
                TokenizeCommand.class, BenchCommand.class, FetchCommand.class, ConvertCommand.class, ServeCommand.class,
                CommandLine.HelpCommand.class})
public final class Main {

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the tool and returns its exit code (0 ok, 1 failure, 2 usage error). */
    public static int run(String... args) {
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler(Errors::report);
        cl.setParameterExceptionHandler(Errors::reportUsage);
        return cl.execute(args);
    }
}
