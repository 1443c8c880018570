package dev.earlyexit.format;

import dev.earlyexit.model.ModelConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** tokenizer_config.json's BOS/EOS over config.json's, in the forms real checkpoints write it. */
class SpecialTokensTest {
    /** The tiny Qwen3 reference: config.json says bos 1, eos 2, vocabulary 384. */
    private static ModelConfig qwen3() throws Exception {
        return HfCheckpoint.config(Paths.get("src/test/resources/reference/arch/qwen3"));
    }

    @Test
    void qwenStatesNoBosAndNamesItsEosByContent(@TempDir Path dir) throws Exception {
        // Qwen3's own shape: bos_token null, add_bos_token false, eos_token by content.
        Files.writeString(dir.resolve("tokenizer_config.json"), """
                {"add_bos_token": false, "bos_token": null, "eos_token": "<|im_end|>",
                 "added_tokens_decoder": {"5": {"content": "<|endoftext|>", "special": true},
                                          "7": {"content": "<|im_end|>", "special": true}}}""");
        SpecialTokens s = SpecialTokens.read(dir);
        assertThat(s.decidesBos()).isTrue();
        ModelConfig c = s.apply(qwen3());
        assertThat(c.bosId()).isEqualTo(-1);
        assertThat(c.eosId()).isEqualTo(7);
    }

    @Test
    void llamaTwoStatesBosAsAnObject(@TempDir Path dir) throws Exception {
        // Llama 2's older form: tokens as {"content": ...} objects.
        Files.writeString(dir.resolve("tokenizer_config.json"), """
                {"add_bos_token": true, "bos_token": {"content": "<s>"}, "eos_token": {"content": "</s>"},
                 "added_tokens_decoder": {"3": {"content": "<s>"}, "4": {"content": "</s>"}}}""");
        ModelConfig c = SpecialTokens.read(dir).apply(qwen3());
        assertThat(c.bosId()).isEqualTo(3);
        assertThat(c.eosId()).isEqualTo(4);
    }

    @Test
    void aFileThatSaysNothingLeavesConfigJsonsIds(@TempDir Path dir) throws Exception {
        assertThat(SpecialTokens.read(dir)).isEqualTo(SpecialTokens.ABSENT);
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"model_max_length\": 2048}");
        SpecialTokens s = SpecialTokens.read(dir);
        assertThat(s.decidesBos()).isFalse();
        assertThat(s.apply(qwen3())).isEqualTo(qwen3());
    }

    @Test
    void badValuesAreOneClearError(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"add_bos_token\": \"yes\"}");
        assertThatThrownBy(() -> SpecialTokens.read(dir)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("\"add_bos_token\" is not a boolean");
        Files.writeString(dir.resolve("tokenizer_config.json"), """
                {"eos_token": "</s>", "added_tokens_decoder": {"999": {"content": "</s>"}}}""");
        assertThatThrownBy(() -> SpecialTokens.read(dir).apply(qwen3())).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("outside the vocabulary of 384");
    }
}
