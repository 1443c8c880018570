package dev.earlyexit.server;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A model's chat template (the Jinja text of tokenizer_config.json's {@code chat_template}, or a GGUF's
 * {@code tokenizer.chat_template}) rendered with HubSpot's Jinjava, with Hugging Face's settings
 * (trim_blocks, lstrip_blocks) and variables: {@code messages}, {@code add_generation_prompt},
 * {@code bos_token}, {@code eos_token} and the {@code raise_exception} function.
 */
public final class ChatTemplate {
    private final String source;
    private final String bosToken;
    private final String eosToken;
    private final Jinjava jinjava;

    public ChatTemplate(String source, String bosToken, String eosToken) {
        this.source = source;
        this.bosToken = bosToken == null ? "" : bosToken;
        this.eosToken = eosToken == null ? "" : eosToken;
        JinjavaConfig config = JinjavaConfig.newBuilder().withTrimBlocks(true).withLstripBlocks(true).build();
        this.jinjava = new Jinjava(config);
        jinjava.getGlobalContext().registerFunction(new ELFunctionDefinition("", "raise_exception", ChatTemplate.class,
                "raiseException", String.class));
    }

    public String bosToken() {
        return bosToken;
    }

    /** Called by templates ({@code raise_exception('...')}) to refuse a conversation. */
    public static String raiseException(String message) {
        throw new TemplateRefusal(message);
    }

    private static final class TemplateRefusal extends RuntimeException {
        TemplateRefusal(String message) {
            super(message);
        }
    }

    /** The prompt text for the messages, ending with the assistant's turn opened. */
    public String render(List<Map<String, Object>> messages) {
        Map<String, Object> vars = new HashMap<>();
        vars.put("messages", messages);
        vars.put("add_generation_prompt", true);
        vars.put("bos_token", bosToken);
        vars.put("eos_token", eosToken);
        RenderResult r;
        try {
            r = jinjava.renderForResult(source, vars);
        } catch (TemplateRefusal e) {
            throw ApiException.badRequest("the chat template refused the messages: " + e.getMessage(), "messages");
        } catch (RuntimeException e) {
            throw ApiException.badRequest("the chat template failed: " + e.getMessage(), "messages");
        }
        for (TemplateError e : r.getErrors()) {
            if (e.getSeverity() == TemplateError.ErrorType.FATAL) {
                String m = e.getMessage();
                Throwable cause = e.getException();
                while (cause != null) {
                    if (cause instanceof TemplateRefusal) {
                        throw ApiException.badRequest("the chat template refused the messages: " + cause.getMessage(),
                                "messages");
                    }
                    cause = cause.getCause();
                }
                throw ApiException.badRequest("the chat template failed: " + m, "messages");
            }
        }
        return r.getOutput();
    }
}
