package dev.earlyexit.eval;

import dev.earlyexit.testutil.TestModels;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Each task's requests from the shipped file shapes, against strings worked out by hand from the harness configs. */
class TaskPromptsTest {

    static List<Example> load(Task task, String resource) throws Exception {
        return task.examples(DatasetReader.read(TestModels.resource("eval/" + resource), task, 0).rows(), null);
    }

    private static List<String> contexts(Example e) {
        return e.requests().stream().map(Request::context).toList();
    }

    private static List<String> continuations(Example e) {
        return e.requests().stream().map(Request::continuation).toList();
    }

    @Test
    void hellaswagCapitalisesCtxBAndStripsWikiHowArtifacts() throws Exception {
        List<Example> ex = load(Task.HELLASWAG, "hellaswag.jsonl");
        assertThat(ex).hasSize(4);
        Example first = ex.get(0);
        assertThat(contexts(first)).containsOnly(
                "Making a sandwich: A man stands at a kitchen counter with a loaf of bread. He");
        assertThat(continuations(first)).containsExactly(" throws the bread into the sink and walks away.",
                " paints the counter a bright shade of green.", " spreads butter on two slices and adds cheese.",
                " picks up a guitar and begins to sing loudly.");
        assertThat(first.gold()).isEqualTo(2); // "label": "2"
        assertThat(first.location()).endsWith("hellaswag.jsonl line 1");

        // " [title]" -> ". ", [header]/[step]/[substeps] removed, double spaces closed, ctx_b "if the soil feels
        // DRY," capitalised the Python way (the rest lower-cased).
        Example wiki = ex.get(1);
        assertThat(contexts(wiki)).containsOnly("Home and Garden: How to water a potted plant. Check the soil first. "
                + "Push a finger into the soil up to the first knuckle. If the soil feels dry,");
        assertThat(continuations(wiki)).containsExactly(
                " water the plant slowly until it drains from the bottom. Empty the saucer afterwards.",
                " put the plant in the freezer overnight.", " cover the pot with aluminum foil.",
                " sing to the plant for an hour.");
        assertThat(wiki.gold()).isZero(); // an integer label
        // acc_norm divides by len(choice): the preprocessed ending, without the space before it.
        assertThat(wiki.choiceLengths()).containsExactly(
                "water the plant slowly until it drains from the bottom. Empty the saucer afterwards.".length(),
                "put the plant in the freezer overnight.".length(), "cover the pot with aluminum foil.".length(),
                "sing to the plant for an hour.".length());

        // An empty ctx_b leaves a trailing space that preprocess strips.
        assertThat(contexts(ex.get(3))).containsOnly(
                "Brushing teeth: A little boy holds a toothbrush over the bathroom sink.");
        assertThat(ex.get(3).gold()).isEqualTo(3);
    }

    @Test
    void winograndeScoresTheSameContinuationAfterEachOption() throws Exception {
        List<Example> ex = load(Task.WINOGRANDE, "winogrande.jsonl");
        Example first = ex.get(0);
        assertThat(contexts(first)).containsExactly(
                "Maria poured the juice from the bottle into the glass until the bottle",
                "Maria poured the juice from the bottle into the glass until the glass");
        assertThat(continuations(first)).containsExactly(" was full.", " was full.");
        assertThat(first.gold()).isEqualTo(1); // answer "2"
        assertThat(contexts(ex.get(2))).containsExactly("Sam lent his umbrella to Leo because Sam",
                "Sam lent his umbrella to Leo because Leo");
        assertThat(continuations(ex.get(3))).containsOnly(" was left in the sun.");
        assertThat(contexts(ex.get(3)).get(0)).isEqualTo("The ice cream melted faster than the chocolate because the ice cream");
        assertThat(ex.stream().map(Example::gold)).containsExactly(1, 0, 1, 0);
    }

    @Test
    void mmluFromTheOriginalHeaderlessCsvTakesTheSubjectFromTheFileName() throws Exception {
        List<Example> ex = load(Task.MMLU, "mmlu/high_school_biology_test.csv");
        assertThat(ex).hasSize(3);
        Example first = ex.get(0);
        assertThat(contexts(first)).containsOnly("The following are multiple choice questions (with answers) about "
                + "high school biology.\n\nWhich organelle makes most of a cell's ATP?\nA. Nucleus\nB. Mitochondrion\n"
                + "C. Ribosome\nD. Golgi apparatus\nAnswer:");
        assertThat(continuations(first)).containsExactly(" A", " B", " C", " D");
        assertThat(first.gold()).isEqualTo(1);
        assertThat(first.group()).isEqualTo("high_school_biology");
        // A quoted field with "" quotes, a comma and a line break (CRLF records, LF inside the field).
        Example quoted = ex.get(1);
        assertThat(contexts(quoted).get(0)).contains("about high school biology.\n\n"
                + "What is the job of \"guard cells\" in a leaf?\nA. They store starch\n"
                + "B. They open and close the stomata\nC. They make chlorophyll, mostly\n"
                + "D. They carry water\ndown to the roots\nAnswer:");
        assertThat(quoted.location()).endsWith("high_school_biology_test.csv line 2");
        assertThat(ex.get(2).location()).endsWith("high_school_biology_test.csv line 4");
        assertThat(ex.get(2).gold()).isEqualTo(2);
    }

    @Test
    void mmluFromACaisExportReadsEveryListLiteralStyle() throws Exception {
        List<Example> ex = load(Task.MMLU, "mmlu_cais.csv");
        assertThat(contexts(ex.get(0))).containsOnly("The following are multiple choice questions (with answers) about "
                + "elementary mathematics.\n\nWhat is 7 times 8?\nA. 54\nB. 56\nC. 64\nD. 48\nAnswer:");
        assertThat(contexts(ex.get(1)).get(0)).endsWith("about astronomy.\n\nWhich planet is closest to the Sun?\n"
                + "A. Mercury\nB. Venus\nC. Earth\nD. Mars\nAnswer:");
        // numpy's repr (no commas, broken over lines) and question.strip().
        assertThat(contexts(ex.get(2)).get(0)).endsWith("about high school biology.\n\nWhich gas do plants take in "
                + "from the air?\nA. oxygen\nB. nitrogen\nC. carbon dioxide\nD. helium\nAnswer:");
        assertThat(ex.stream().map(Example::gold)).containsExactly(1, 0, 2);
        assertThat(ex.get(0).location()).endsWith("mmlu_cais.csv line 2");
    }

    @Test
    void arcReadsTheOriginalAndTheHuggingFaceShapes() throws Exception {
        List<Example> original = load(Task.ARC, "arc_original.jsonl");
        assertThat(contexts(original.get(0))).containsOnly("Question: Which of these gives off its own light?\nAnswer:");
        assertThat(continuations(original.get(0))).containsExactly(" a mirror", " the Sun", " the Moon", " a window");
        assertThat(original.get(0).gold()).isEqualTo(1);
        assertThat(original.get(1).requests()).hasSize(3);
        assertThat(original.get(1).gold()).isZero(); // labels "1", "2", "3"; answerKey "1"

        List<Example> hf = load(Task.ARC, "arc_hf.jsonl");
        assertThat(contexts(hf.get(0))).containsOnly("Question: Which part of a plant takes in water from the soil?\nAnswer:");
        assertThat(continuations(hf.get(0))).containsExactly(" the flowers", " the roots", " the leaves", " the seeds");
        assertThat(hf.stream().map(Example::gold)).containsExactly(1, 0, 2);
        assertThat(hf.get(0).choiceLengths()).containsExactly(11, 9, 10, 9);
    }

    @Test
    void piqaTakesItsLabelsFromTheSeparateFile() throws Exception {
        Path data = TestModels.resource("eval/piqa.jsonl");
        Path labels = TestModels.resource("eval/piqa-labels.lst");
        DatasetReader.Rows rows = DatasetReader.read(data, Task.PIQA, 0);
        List<Example> ex = Task.PIQA.examples(rows.rows(), LabelsFile.matching(LabelsFile.read(labels), labels, data, rows));
        assertThat(contexts(ex.get(1))).containsOnly("Question: To dry wet shoes quickly,\nAnswer:");
        assertThat(continuations(ex.get(1))).containsExactly(" fill them with ice cubes and close them in a box.",
                " stuff them with newspaper and leave them near a warm vent.");
        assertThat(ex.stream().map(Example::gold)).containsExactly(0, 1, 0);

        assertThatThrownBy(() -> Task.PIQA.examples(rows.rows(), null))
                .hasMessageEndingWith("piqa.jsonl line 1: missing field 'label' (PIQA's original release keeps the "
                        + "labels in a separate *-labels.lst file: pass it with --labels)");
    }

    @Test
    void lambadaSplitsAtTheLastSpace() throws Exception {
        List<Example> ex = load(Task.LAMBADA, "lambada.jsonl");
        Example first = ex.get(0);
        assertThat(first.requests()).containsExactly(new Request("Lily found a small kitten under the porch. It was cold "
                + "and hungry, so she gave it some warm milk. The kitten purred and rubbed against her leg. From that "
                + "day on, Lily and the kitten were best", " friends"));
        assertThat(ex.get(1).requests().get(0).continuation()).isEqualTo(" tower");
        assertThat(ex.get(2).requests().get(0).continuation()).isEqualTo(" bread");
    }

    @Test
    void pythonStringHelpersFollowPython() {
        assertThat(PythonStrings.capitalize("hELLO wORLD")).isEqualTo("Hello world");
        assertThat(PythonStrings.capitalize("")).isEmpty();
        assertThat(PythonStrings.strip("\u00a0 text\t\n")).isEqualTo("text");
        assertThat(PythonStrings.length("caf\u00e9 \ud83d\ude00")).isEqualTo(6);
        // One pass of replace("  ", " "), as Python's: three spaces left by a removed [step] become two.
        assertThat(Task.hellaswagPreprocess(" A [title] B [step]  C [x]D ")).isEqualTo("A. B  C D");
        assertThat(ListLiteral.parse("['it\\'s', \"say \\\"hi\\\"\"]")).containsExactly("it's", "say \"hi\"");
    }

    @Test
    void tasksAreFoundByTheirCliName() {
        assertThat(Task.byName("hellaswag")).isEqualTo(Task.HELLASWAG);
        assertThat(Task.byName("lambada").harnessName()).isEqualTo("lambada_openai");
        assertThatThrownBy(() -> Task.byName("squad"))
                .hasMessage("unknown task 'squad' (hellaswag, winogrande, mmlu, arc, piqa, lambada)");
    }
}
