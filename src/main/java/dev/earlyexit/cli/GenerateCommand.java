package dev.earlyexit.cli;

import dev.earlyexit.decoding.GenerationResult;
import dev.earlyexit.decoding.Generator;
import dev.earlyexit.decoding.SamplingOptions;
import dev.earlyexit.model.Transformer;
import dev.earlyexit.store.LoadedModel;
import dev.earlyexit.tensor.ThreadPool;
import dev.earlyexit.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Generate text from a prompt, streamed to the terminal (or one JSON object with --json).")
final class GenerateCommand implements Callable<Integer> {
    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--prompt", paramLabel = "TEXT", description = "Prompt text (BOS is prepended when the model uses one).")
    String prompt;

    @Option(names = "--prompt-ids", split = ",", paramLabel = "IDS",
            description = "Prompt as comma-separated token ids, used exactly as given (no BOS added).")
    int[] promptIds;

    @Option(names = "--max-tokens", defaultValue = "256", paramLabel = "N",
            description = "Most tokens to generate (default: ${DEFAULT-VALUE}); generation also stops at EOS or a full context.")
    int maxTokens;

    @Option(names = "--temperature", defaultValue = "0", paramLabel = "T",
            description = "Sampling temperature; 0 is greedy (default: ${DEFAULT-VALUE}).")
    float temperature;

    @Option(names = "--top-k", defaultValue = "0", paramLabel = "K", description = "Keep the K most likely tokens; 0 keeps all.")
    int topK;

    @Option(names = "--top-p", defaultValue = "1", paramLabel = "P",
            description = "Nucleus sampling: keep the smallest set of tokens with probability mass >= P (default: ${DEFAULT-VALUE}).")
    float topP;

    @Option(names = "--seed", defaultValue = "42", paramLabel = "S", description = "Random seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--json", description = "Print one JSON object instead of streaming text.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        if ((prompt == null) == (promptIds == null)) {
            throw new IllegalArgumentException("give exactly one of --prompt or --prompt-ids");
        }
        SamplingOptions sampling = new SamplingOptions(temperature, topK, topP, seed);
        if (maxTokens < 1) {
            throw new IllegalArgumentException("--max-tokens must be >= 1, got " + maxTokens);
        }
        LoadedModel model = modelOptions.load();
        int[] ids = promptIds != null ? promptIds : encodePrompt(model, prompt);
        Generator.checkPrompt(ids, model.config());
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        try (ThreadPool pool = modelOptions.pool()) {
            Generator generator = new Generator(new Transformer(model.config(), model.weights(), pool));
            Tokenizer tok = model.tokenizerOrNull();
            Generator.TokenListener listener = null;
            Tokenizer.StreamDecoder stream = null;
            if (!json && tok != null) {
                stream = tok.streamDecoder();
                // Prime the decoder with the prompt so the first new token decodes as a continuation
                // (SentencePiece drops the leading space only at the very start of a text).
                StringBuilder echo = new StringBuilder();
                for (int id : ids) {
                    echo.append(stream.push(id));
                }
                out.print(prompt != null ? prompt : echo);
                Tokenizer.StreamDecoder s = stream;
                listener = id -> out.print(s.push(id));
            } else if (!json) {
                listener = id -> out.print(id + " ");
            }
            GenerationResult r = generator.generate(ids, maxTokens, sampling, listener);
            if (json) {
                out.println(Json.write(toJson(r, tok)));
            } else {
                if (stream != null) {
                    out.print(stream.flush());
                }
                out.println();
                System.err.printf("%d prompt tokens, %d generated (%s), prefill %.1f ms, decode %.1f tokens/s%n",
                        ids.length, r.ids().length, r.stopReason().name().toLowerCase(), r.prefillMs(),
                        r.decodeTokensPerSecond());
            }
        }
        return 0;
    }

    /**
     * Prompt ids for text: BOS followed by the encoded text when the tokenizer prepends one (Llama's
     * do; GPT-2's, GPT-NeoX's and Qwen's do not, whatever config.json names as bos_token_id).
     */
    static int[] encodePrompt(LoadedModel model, String text) {
        Tokenizer tok = model.requireTokenizer();
        int[] body = tok.encode(text);
        int bos = tok.bosId();
        if (bos < 0) {
            return body;
        }
        int[] ids = new int[body.length + 1];
        ids[0] = bos;
        System.arraycopy(body, 0, ids, 1, body.length);
        return ids;
    }

    static Map<String, Object> toJson(GenerationResult r, Tokenizer tok) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("prompt_ids", r.promptIds());
        m.put("ids", r.ids());
        if (tok != null) {
            m.put("text", continuation(tok, r.promptIds(), r.ids()));
        }
        m.put("prompt_tokens", r.promptIds().length);
        m.put("generated_tokens", r.ids().length);
        m.put("stop_reason", r.stopReason().name().toLowerCase());
        m.put("prefill_ms", round(r.prefillMs()));
        m.put("decode_ms", round(r.decodeMs()));
        m.put("tokens_per_s", round(r.decodeTokensPerSecond()));
        return m;
    }

    /** The text the generated ids add after the prompt, decoded in context. */
    static String continuation(Tokenizer tok, int[] promptIds, int[] ids) {
        int[] all = new int[promptIds.length + ids.length];
        System.arraycopy(promptIds, 0, all, 0, promptIds.length);
        System.arraycopy(ids, 0, all, promptIds.length, ids.length);
        String full = tok.decode(all);
        String before = tok.decode(promptIds);
        return full.startsWith(before) ? full.substring(before.length()) : tok.decode(ids);
    }

    static double round(double v) {
        return Math.round(v * 1000.0) / 1000.0;
    }

}
