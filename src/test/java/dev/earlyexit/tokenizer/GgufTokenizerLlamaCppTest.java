package dev.earlyexit.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.earlyexit.format.GgufFile;
import dev.earlyexit.testutil.TestModels;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The SentencePiece tokenizer built from stories15M-f16.gguf's metadata against llama.cpp's tokenizer on
 * the same file (fixtures made by scripts/llamacpp-reference.mjs tokenize).
 */
class GgufTokenizerLlamaCppTest {
    static Tokenizer stories15MGguf() throws Exception {
        Path p = Paths.get("..", "shared", "reference", "gguf", "stories15M-f16.gguf");
        Assumptions.assumeTrue(Files.isRegularFile(p), "skipped: needs " + p);
        GgufFile f = GgufFile.open(p);
        try {
            return GgufTokenizers.load(f);
        } finally {
            f.close();
        }
    }

    /** The lines llama.cpp was given: split on \n only, blank ones (JS trim) dropped. */
    static List<String> lines(Path file) throws Exception {
        return Arrays.stream(Files.readString(file, StandardCharsets.UTF_8).split("\n", -1))
                .filter(l -> !l.strip().isEmpty()).toList();
    }

    private static void check(Tokenizer tok, List<String> texts, JsonNode ids) {
        int agree = 0;
        for (int i = 0; i < ids.size(); i++) {
            int[] expected = new int[ids.get(i).size()];
            for (int j = 0; j < expected.length; j++) {
                expected[j] = ids.get(i).get(j).asInt();
            }
            if (Arrays.equals(tok.encode(texts.get(i)), expected)) {
                agree++;
            } else {
                System.out.println("differs: " + texts.get(i) + " ours " + Arrays.toString(tok.encode(texts.get(i)))
                        + " llama.cpp " + Arrays.toString(expected));
            }
        }
        System.out.printf("tokenizer agreement with llama.cpp: %d/%d lines%n", agree, ids.size());
        assertThat(agree).isEqualTo(ids.size());
    }

    @Test
    void unicodeSamplesMatchLlamaCpp() throws Exception {
        JsonNode fx = new ObjectMapper().readTree(TestModels.resource("gguf/llamacpp-sp-unicode.json").toFile());
        check(stories15MGguf(), lines(TestModels.resource("gguf/unicode-samples.txt")), fx.get("ids"));
    }

    @Test
    void emmaLinesMatchLlamaCpp() throws Exception {
        Path emma = Paths.get("..", "shared", "corpus", "emma.txt");
        Assumptions.assumeTrue(Files.isRegularFile(emma), "skipped: needs " + emma);
        JsonNode fx = new ObjectMapper().readTree(TestModels.resource("gguf/llamacpp-sp-emma.json").toFile());
        check(stories15MGguf(), lines(emma).subList(0, fx.get("ids").size()), fx.get("ids"));
    }

    /**
     * Byte-level BPE (gpt2, llama-bpe): a GGUF with the Llama-3 tokenizer named by -Dgguf.bpe (the
     * Llama-3.2-1B-shaped file of issue 12; not in ../shared), against llama.cpp on the same file.
     */
    @Test
    void byteLevelBpeMatchesLlamaCpp() throws Exception {
        String file = System.getProperty("gguf.bpe", "/tmp/llama1b/model-q8_0.gguf");
        Path p = Paths.get(file);
        Assumptions.assumeTrue(Files.isRegularFile(p), "skipped: needs a Llama-3 GGUF (-Dgguf.bpe=FILE), " + p + " is absent");
        GgufFile f = GgufFile.open(p);
        Tokenizer tok;
        try {
            tok = GgufTokenizers.load(f);
        } finally {
            f.close();
        }
        ObjectMapper om = new ObjectMapper();
        check(tok, lines(TestModels.resource("gguf/unicode-samples.txt")),
                om.readTree(TestModels.resource("gguf/llamacpp-bpe-unicode.json").toFile()).get("ids"));
        Path emma = Paths.get("..", "shared", "corpus", "emma.txt");
        if (Files.isRegularFile(emma)) {
            JsonNode ids = om.readTree(TestModels.resource("gguf/llamacpp-bpe-emma.json").toFile()).get("ids");
            check(tok, lines(emma).subList(0, ids.size()), ids);
        }
    }
}
