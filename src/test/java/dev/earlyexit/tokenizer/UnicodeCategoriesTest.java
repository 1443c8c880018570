package dev.earlyexit.tokenizer;

import org.junit.jupiter.api.Test;

import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/** The Unicode 16.0 category table and the regex classes pinned to it, whichever JDK runs the tests. */
class UnicodeCategoriesTest {
    private static final int U0870_ARABIC_LETTER = 0x0870; // 14.0, Lo
    private static final int U1C89_CYRILLIC_CAPITAL_TJE = 0x1C89; // 16.0, Lu
    private static final int U1E4F0_NAG_MUNDARI_DIGIT_ZERO = 0x1E4F0; // 15.0, Nd
    private static final int U0898_ARABIC_SMALL_HIGH_MARK = 0x0898; // 14.0, Mn

    @Test
    void tableHasTheUnicode16Categories() {
        assertThat(UnicodeCategories.type('a')).isEqualTo(Character.LOWERCASE_LETTER);
        assertThat(UnicodeCategories.type(U0870_ARABIC_LETTER)).isEqualTo(Character.OTHER_LETTER);
        assertThat(UnicodeCategories.type(U1C89_CYRILLIC_CAPITAL_TJE)).isEqualTo(Character.UPPERCASE_LETTER);
        assertThat(UnicodeCategories.type(U1E4F0_NAG_MUNDARI_DIGIT_ZERO)).isEqualTo(Character.DECIMAL_DIGIT_NUMBER);
        assertThat(UnicodeCategories.type(U0898_ARABIC_SMALL_HIGH_MARK)).isEqualTo(Character.NON_SPACING_MARK);
        assertThat(UnicodeCategories.type(0x0378)).isEqualTo(Character.UNASSIGNED);
        assertThat(UnicodeCategories.type(0xD800)).isEqualTo(Character.SURROGATE);
        assertThat(UnicodeCategories.type(0x10FFFD)).isEqualTo(Character.PRIVATE_USE);
        assertThat(UnicodeCategories.type(0x110000)).isEqualTo(Character.UNASSIGNED);
    }

    @Test
    void tableDiffersFromTheJdkOnlyWhereUnicodeAddedCharacters() {
        int[] differing = UnicodeCategories.differingFromTheJdk();
        if (UnicodeCategoriesWriter.jdkIsAtUnicode16()) {
            assertThat(differing).as("Java 25 is at Unicode 16.0, as the table").isEmpty();
            return;
        }
        int recategorized = 0;
        for (int cp : differing) {
            if (Character.getType(cp) != Character.UNASSIGNED && UnicodeCategories.type(cp) != Character.UNASSIGNED) {
                recategorized++;
            }
        }
        // Unicode 13 -> 16 moved two assigned characters (Mn -> Mc); anything more means a broken table
        assertThat(recategorized).isLessThanOrEqualTo(16);
        assertThat(differing.length).isGreaterThan(0);
    }

    @Test
    void categoryClassesMatchAtUnicode16() {
        String newLetters = new StringBuilder().appendCodePoint(U0870_ARABIC_LETTER).appendCodePoint(U1C89_CYRILLIC_CAPITAL_TJE).toString();
        String newDigit = Character.toString(U1E4F0_NAG_MUNDARI_DIGIT_ZERO);
        String newMark = Character.toString(U0898_ARABIC_SMALL_HIGH_MARK);
        assertThat(matches("\\p{L}+", newLetters)).isTrue();
        assertThat(matches("\\pL+", newLetters)).isTrue();
        assertThat(matches("\\p{IsL}+", newLetters)).isTrue();
        assertThat(matches("\\p{Lu}", Character.toString(U1C89_CYRILLIC_CAPITAL_TJE))).isTrue();
        assertThat(matches("\\p{Lu}", Character.toString(U0870_ARABIC_LETTER))).isFalse();
        assertThat(matches("\\P{L}", Character.toString(U0870_ARABIC_LETTER))).isFalse();
        assertThat(matches("\\p{^L}", Character.toString(U0870_ARABIC_LETTER))).isFalse();
        assertThat(matches("[^\\s\\p{L}\\p{N}]", Character.toString(U0870_ARABIC_LETTER))).isFalse();
        assertThat(matches("[^\\s\\p{L}\\p{N}]", newDigit)).isFalse();
        assertThat(matches("[^\\s\\p{L}\\p{N}]", "'")).isTrue();
        assertThat(matches("\\p{N}", newDigit)).isTrue();
        assertThat(matches("\\d", newDigit)).isTrue();
        assertThat(matches("\\D", newDigit)).isFalse();
        assertThat(matches("\\w+", newLetters + newDigit + newMark + "_a1")).isTrue();
        assertThat(matches("\\W", newMark)).isFalse();
        assertThat(matches("\\p{M}", newMark)).isTrue();
        // still unassigned at 16.0: no letter, whatever the JDK
        assertThat(matches("\\p{L}", "\u0378")).isFalse();
        assertThat(matches("\\p{Cn}", "\u0378")).isTrue();
        // quoted text and escaped backslashes are left as they are
        assertThat(matches("\\Q\\p{L}\\E", "\\p{L}")).isTrue();
        assertThat(matches("\\\\p\\{L\\}", "\\p{L}")).isTrue();
        assertThat(matches(HfRegex.GPT2, " " + newLetters)).as("one GPT-2 word").isTrue();
    }

    @Test
    void whiteSpaceIsTheUnicodeProperty() {
        Pattern whiteSpace = Pattern.compile("\\s", Pattern.UNICODE_CHARACTER_CLASS); // White_Space in Java's Unicode mode
        for (int cp = 0; cp <= 0xFFFF; cp++) {
            assertThat(UnicodeCategories.isWhiteSpace(cp)).as("U+%04X", cp)
                    .isEqualTo(whiteSpace.matcher(Character.toString(cp)).matches());
        }
        assertThat(UnicodeCategories.isWhiteSpace(0x1F)).isFalse();
        assertThat(UnicodeCategories.isWhiteSpace(0xA0)).isTrue();
    }

    private static boolean matches(String regex, String text) {
        return HfRegex.compile(regex, new HfJson("test.json")).matcher(text).matches();
    }
}
