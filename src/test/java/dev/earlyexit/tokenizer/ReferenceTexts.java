package dev.earlyexit.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.earlyexit.testutil.TestModels;
import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;

/** The reference texts and files the tokenizer tests share. */
final class ReferenceTexts {
    private ReferenceTexts() {
    }

    record Line(String text, int[] ids) {
    }

    static Path llama2TokenizerBin() {
        return TestModels.resource("reference/tokenizer/tokenizer.bin");
    }

    /** sentencepiece_llama2.jsonl: text and the ids the SentencePiece library gives. */
    static List<Line> sentencePieceLines() {
        Path p = TestModels.resource("reference/tokenizer/sentencepiece_llama2.jsonl");
        ObjectMapper mapper = new ObjectMapper();
        List<Line> lines = new ArrayList<>();
        try {
            for (String raw : Files.readAllLines(p, StandardCharsets.UTF_8)) {
                if (raw.isBlank()) {
                    continue;
                }
                JsonNode node = mapper.readTree(raw);
                JsonNode ids = node.get("ids");
                int[] arr = new int[ids.size()];
                for (int i = 0; i < arr.length; i++) {
                    arr[i] = ids.get(i).asInt();
                }
                lines.add(new Line(node.get("text").asText(), arr));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return lines;
    }

    /** Jane Austen's Emma from ../shared; skips the test when absent. */
    static String emma() {
        Path p = Paths.get("..", "shared", "corpus", "emma.txt");
        Assumptions.assumeTrue(Files.isRegularFile(p), "skipped: needs ../shared/corpus/emma.txt");
        try {
            return Files.readString(p, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Emma as passages of {@code lines} lines each. */
    static List<String> emmaPassages(int lines) {
        String[] all = emma().split("\n", -1);
        List<String> out = new ArrayList<>();
        for (int i = 0; i < all.length; i += lines) {
            out.add(String.join("\n", java.util.Arrays.copyOfRange(all, i, Math.min(all.length, i + lines))));
        }
        return out;
    }

    static String streamed(Tokenizer tokenizer, int[] ids) {
        Tokenizer.StreamDecoder d = tokenizer.streamDecoder();
        StringBuilder sb = new StringBuilder();
        for (int id : ids) {
            sb.append(d.push(id));
        }
        return sb.append(d.flush()).toString();
    }
}
