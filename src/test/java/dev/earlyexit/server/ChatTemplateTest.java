package dev.earlyexit.server;

import dev.earlyexit.format.ModelFormatException;
import dev.earlyexit.store.ModelResolver;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Chat templates as Hugging Face writes them, read from tokenizer_config.json and rendered by Jinjava. */
class ChatTemplateTest {
    @TempDir
    Path dir;

    /** Qwen2's ChatML template (default system prompt when none is given), as in its tokenizer_config.json. */
    static final String CHATML = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
            + "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}"
            + "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
            + "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    /** Llama 2's template: strict alternation, enforced with raise_exception. */
    static final String LLAMA2 = "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
            + "{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}"
            + "{% set system_message = false %}{% endif %}{% for message in loop_messages %}"
            + "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
            + "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
            + "{% if loop.index0 == 0 and system_message != false %}"
            + "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
            + "{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}"
            + "{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}"
            + "{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}";

    private static Map<String, Object> msg(String role, String content) {
        return Map.of("role", role, "content", content);
    }

    @Test
    void rendersChatMl() {
        ChatTemplate t = new ChatTemplate(CHATML, "", "<|endoftext|>");
        assertThat(t.render(List.of(msg("user", "Hi")))).isEqualTo("<|im_start|>system\nYou are a helpful assistant."
                + "<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    }

    @Test
    void rendersLlama2AndItsRefusal() {
        ChatTemplate t = new ChatTemplate(LLAMA2, "<s>", "</s>");
        // As in Python: strip() trims the ends of the whole content, so the user's leading space stays
        // after the system block.
        assertThat(t.render(List.of(msg("system", "Be brief."), msg("user", " Hi "), msg("assistant", "Hello"),
                msg("user", "Bye")))).isEqualTo("<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\n Hi [/INST] Hello </s>"
                + "<s>[INST] Bye [/INST]");
        assertThatThrownBy(() -> t.render(List.of(msg("user", "a"), msg("user", "b"))))
                .isInstanceOf(ApiException.class).hasMessageContaining("roles must alternate");
    }

    @Test
    void readsTheTemplateFromTokenizerConfig() throws Exception {
        assertThat(ModelResolver.chatTemplate(dir)).isEmpty();
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"bos_token\": \"<s>\"}");
        assertThat(ModelResolver.chatTemplate(dir)).isEmpty();
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"chat_template\": \"{{ messages[0].content }}\"}");
        assertThat(ModelResolver.chatTemplate(dir)).contains("{{ messages[0].content }}");
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"chat_template\": [{\"name\": \"tool_use\", "
                + "\"template\": \"T\"}, {\"name\": \"default\", \"template\": \"D\"}]}");
        assertThat(ModelResolver.chatTemplate(dir)).contains("D");
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"chat_template\": 3}");
        assertThatThrownBy(() -> ModelResolver.chatTemplate(dir)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("chat_template");
    }

    @Test
    void stopStringsAreHeldBackUntilTheyCannotMatch() throws Exception {
        var tok = ServerFixture.model().requireTokenizer();
        int[] prompt = GenerationRequest.encodeWithBos(tok, "Once");
        TextAssembler a = new TextAssembler(tok, prompt, List.of("girl named"));
        StringBuilder out = new StringBuilder();
        for (int id : tok.encode("there was a little girl named Lily")) {
            a.push(id);
            out.append(a.release(false));
            if (a.stopped()) {
                break;
            }
        }
        assertThat(a.stopped()).isTrue();
        assertThat(out.toString()).isEqualTo(" there was a little ");
    }
}
