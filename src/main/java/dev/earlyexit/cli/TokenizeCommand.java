package dev.earlyexit.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.earlyexit.store.ModelCache;
import dev.earlyexit.store.ModelResolver;
import dev.earlyexit.tokenizer.Tokenizer;
import dev.earlyexit.tokenizer.Tokenizers;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

@Command(name = "tokenize", mixinStandardHelpOptions = true,
        description = "Print the token ids (no BOS/EOS) of UTF-8 text read from standard input.")
final class TokenizeCommand implements Callable<Integer> {
    @Option(names = "--model", paramLabel = "M", description = "Use this model's tokenizer (alias, .bin or HF directory).")
    String model;

    @Option(names = "--tokenizer", paramLabel = "PATH", description = "tokenizer.bin or tokenizer.json.")
    Path tokenizer;

    @Option(names = "--json", description = "Print {\"ids\": [...]} for the whole input.")
    boolean json;

    @Option(names = "--jsonl", description = "Read one JSON string per line; print one {\"ids\": [...]} line each.")
    boolean jsonl;

    @Option(names = "--verbose", description = "Show stack traces on errors.")
    boolean verbose;

    @Override
    public Integer call() throws Exception {
        if ((model == null) == (tokenizer == null)) {
            throw new IllegalArgumentException("give exactly one of --model or --tokenizer");
        }
        Tokenizer tok = tokenizer != null ? Tokenizers.load(tokenizer) : modelTokenizer();
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        if (jsonl) {
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            String line;
            int lineNumber = 0;
            while ((line = in.readLine()) != null) {
                lineNumber++;
                if (line.isBlank()) {
                    continue;
                }
                JsonNode node = Json.MAPPER.readTree(line);
                if (!node.isTextual()) {
                    throw new IllegalArgumentException("standard input line " + lineNumber + ": expected a JSON string");
                }
                out.println(Json.write(Map.of("ids", tok.encode(node.asText()))));
            }
            return 0;
        }
        String text = new String(System.in.readAllBytes(), StandardCharsets.UTF_8);
        int[] ids = tok.encode(text);
        if (json) {
            out.println(Json.write(Map.of("ids", ids)));
        } else {
            out.println(Arrays.stream(ids).mapToObj(Integer::toString).collect(Collectors.joining(" ")));
        }
        return 0;
    }

    private Tokenizer modelTokenizer() throws Exception {
        ModelResolver resolver = new ModelResolver(ModelCache.defaultCache(), System.err::println);
        Path path = resolver.locate(model);
        Path file = Files.isDirectory(path) ? path.resolve("tokenizer.json")
                : path.toAbsolutePath().getParent().resolve("tokenizer.bin");
        Tokenizer tok = ModelResolver.tokenizer(null, file);
        if (tok == null) {
            throw new IllegalArgumentException("no tokenizer found beside " + path + " (expected " + file.getFileName()
                    + "); give one with --tokenizer");
        }
        return tok;
    }

}
