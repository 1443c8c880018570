package dev.earlyexit.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.earlyexit.format.ModelFormatException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** Regexes from a tokenizer.json cannot hang or crash the process (issue 17). */
class HfRegexGuardTest {

    @Test
    void catastrophicBacktrackingTripsTheBudget() {
        Pattern evil = Pattern.compile("(.*a){20}$");
        Matcher m = HfRegex.matcher(evil, "a".repeat(28) + "!");
        assertThatThrownBy(() -> HfRegex.guard(evil, m::find))
                .isInstanceOf(ModelFormatException.class).hasMessageContaining("step budget");
    }

    @Test
    void deepRecursionIsAClearError() {
        Pattern p = Pattern.compile("(a|b)*");
        Matcher m = HfRegex.matcher(p, "ab".repeat(200_000));
        assertThatThrownBy(() -> HfRegex.guard(p, m::find))
                .isInstanceOf(ModelFormatException.class).hasMessageContaining("recursed too deeply");
    }

    @Test
    void thePublishedPatternsStayWellInsideTheBudget() {
        Pattern gpt2 = Pattern.compile(HfRegex.GPT2, Pattern.UNICODE_CHARACTER_CLASS | Pattern.UNICODE_CASE);
        String text = "Once upon a time, there was a little girl named Lily.   She's 3 years old!\n".repeat(2000);
        Matcher m = HfRegex.matcher(gpt2, text);
        int words = 0;
        while (HfRegex.guard(gpt2, m::find)) {
            words++;
        }
        assertThat(words).isEqualTo(2000 * 21);
    }
}
