package dev.earlyexit.eval;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The evaluated tasks, each building its requests exactly as the named lm-evaluation-harness task
 * config does (zero-shot). Multiple-choice tasks score one request per choice and report {@code acc}
 * (argmax of the summed log-likelihood) and, where the harness does, {@code acc_norm} (log-likelihood
 * divided by len(choice)); LAMBADA is a cloze task: {@code acc} (every target token greedy) and
 * {@code perplexity}.
 */
public enum Task {
    /**
     * Harness task {@code hellaswag} (utils.process_docs): ctx = ctx_a + " " + ctx_b.capitalize();
     * query = preprocess(activity_label + ": " + ctx); choices = preprocess(ending); continuation " " + choice.
     */
    HELLASWAG("hellaswag", "hellaswag", true) {
        @Override
        Example example(Row row, Row label) {
            String ctx;
            if (row.fields().containsKey("ctx_a") || row.fields().containsKey("ctx_b")) {
                ctx = row.string("ctx_a") + " " + PythonStrings.capitalize(row.string("ctx_b"));
            } else {
                ctx = row.string("ctx"); // ctx is ctx_a + " " + ctx_b without the capitalisation
            }
            String query = hellaswagPreprocess(row.string("activity_label") + ": " + ctx);
            List<String> choices = new ArrayList<>();
            for (String ending : nonEmpty(row, "endings")) {
                choices.add(hellaswagPreprocess(ending));
            }
            return multipleChoice(row, query, choices, row.index("label", choices.size()));
        }
    },
    /**
     * Harness task {@code winogrande} (partial evaluation): for each option the context is the sentence up
     * to "_" with the option in its place; the continuation, the same for both, is " " + the rest after
     * "_" stripped. Choices differ in their contexts, so the log-likelihoods compare the same text.
     */
    WINOGRANDE("winogrande", "winogrande", false) {
        @Override
        Example example(Row row, Row label) {
            String sentence = row.string("sentence");
            int blank = sentence.indexOf('_');
            if (blank < 0) {
                throw row.error("field 'sentence' has no '_' for the options to fill");
            }
            String target = " " + PythonStrings.strip(sentence.substring(blank + 1));
            List<String> options = List.of(row.string("option1"), row.string("option2"));
            Object answer = row.require("answer");
            String a = answer instanceof String s ? PythonStrings.strip(s) : String.valueOf(answer);
            if (!a.equals("1") && !a.equals("2")) {
                throw row.error("bad label " + Row.show(answer) + " in field 'answer' (expected \"1\" or \"2\")");
            }
            List<Request> requests = new ArrayList<>();
            int[] lengths = new int[2];
            for (int i = 0; i < 2; i++) {
                String context = sentence.substring(0, blank) + options.get(i);
                requests.add(new Request(context, target));
                lengths[i] = PythonStrings.length(context); // the harness's choices are these contexts
            }
            return new Example(row.location(), requests, a.equals("1") ? 0 : 1, lengths, null);
        }
    },
    /**
     * Harness tasks {@code mmlu_<subject>} (default template, zero-shot): the description "The following
     * are multiple choice questions (with answers) about {subject, _ as space}.\n\n", then
     * "{question.strip()}\nA. {choices[0]}\nB. ..\nC. ..\nD. ..\nAnswer:"; continuations " A" to " D".
     */
    MMLU("mmlu", "mmlu", false) {
        @Override
        Example example(Row row, Row label) {
            if (!row.fields().containsKey("subject")) {
                throw row.error("missing field 'subject' (MMLU's headerless CSVs take it from the file name, "
                        + "e.g. abstract_algebra_test.csv)");
            }
            String subject = row.string("subject");
            List<String> choices = row.fields().containsKey("choices") ? row.stringList("choices")
                    : List.of(row.string("A"), row.string("B"), row.string("C"), row.string("D"));
            if (choices.size() != 4) {
                throw row.error("field 'choices' has " + choices.size() + " items, expected 4");
            }
            StringBuilder prompt = new StringBuilder("The following are multiple choice questions (with answers) about ")
                    .append(subject.replace('_', ' ')).append(".\n\n")
                    .append(PythonStrings.strip(row.string("question")));
            for (int i = 0; i < 4; i++) {
                prompt.append('\n').append(LETTERS.get(i)).append(". ").append(choices.get(i));
            }
            prompt.append("\nAnswer:");
            Example e = multipleChoice(row, prompt.toString(), LETTERS, mmluAnswer(row));
            return new Example(e.location(), e.requests(), e.gold(), e.choiceLengths(), subject);
        }
    },
    /**
     * Harness tasks {@code arc_easy} and {@code arc_challenge} (same prompt): "Question: {question}\nAnswer:",
     * continuation " " + choice text; the gold is the choice whose label is answerKey.
     */
    ARC("arc", "arc_easy/arc_challenge", true) {
        @Override
        Example example(Row row, Row label) {
            String question;
            List<String> texts = new ArrayList<>();
            List<String> labels = new ArrayList<>();
            if (row.fields().get("question") instanceof Map<?, ?>) {
                // The original ARC JSONL: {"question": {"stem": ..., "choices": [{"text", "label"}, ...]}}.
                Row q = row.nested("question");
                question = q.string("stem");
                Object list = q.require("choices");
                if (!(list instanceof List<?> items)) {
                    throw row.error("field 'question.choices' must be a list, got " + Row.describe(list));
                }
                for (Object item : items) {
                    if (!(item instanceof Map<?, ?>)) {
                        throw row.error("field 'question.choices' must hold objects, got " + Row.describe(item));
                    }
                    @SuppressWarnings("unchecked")
                    Row choice = new Row(row.location(), (Map<String, Object>) item);
                    texts.add(choice.string("text"));
                    labels.add(choice.string("label"));
                }
            } else {
                question = row.string("question");
                Row choices = row.nested("choices");
                texts.addAll(choices.stringList("text"));
                labels.addAll(choices.stringList("label"));
                if (texts.size() != labels.size()) {
                    throw row.error("field 'choices' has " + texts.size() + " texts but " + labels.size() + " labels");
                }
            }
            if (texts.isEmpty()) {
                throw row.error("no choices");
            }
            Object key = row.require("answerKey");
            int gold = labels.indexOf(key instanceof String s ? PythonStrings.strip(s) : String.valueOf(key));
            if (gold < 0) {
                throw row.error("bad label " + Row.show(key) + " in field 'answerKey' (the choices are labelled "
                        + String.join(", ", labels) + ")");
            }
            return multipleChoice(row, "Question: " + question + "\nAnswer:", texts, gold);
        }
    },
    /** Harness task {@code piqa}: "Question: {goal}\nAnswer:", continuations " " + sol1 and " " + sol2. */
    PIQA("piqa", "piqa", true) {
        @Override
        Example example(Row row, Row label) {
            Row source = label != null ? label : row;
            if (label == null && !row.fields().containsKey("label")) {
                throw row.error("missing field 'label' (PIQA's original release keeps the labels in a separate "
                        + "*-labels.lst file: pass it with --labels)");
            }
            List<String> choices = List.of(row.string("sol1"), row.string("sol2"));
            return multipleChoice(row, "Question: " + row.string("goal") + "\nAnswer:", choices,
                    source.index("label", 2));
        }
    },
    /**
     * Harness task {@code lambada_openai}: context = the text up to its last space, continuation = " " +
     * the last word (text.split(' ')).
     */
    LAMBADA("lambada", "lambada_openai", false) {
        @Override
        Example example(Row row, Row label) {
            String text = row.string("text");
            int space = text.lastIndexOf(' ');
            String context = space < 0 ? "" : text.substring(0, space);
            String target = " " + text.substring(space + 1);
            return new Example(row.location(), List.of(new Request(context, target)), 0, new int[0], null);
        }
    };

    static final List<String> LETTERS = List.of("A", "B", "C", "D");
    private static final Pattern BRACKETED = Pattern.compile("\\[.*?\\]");

    private final String cliName;
    private final String harnessName;
    private final boolean accNorm;

    Task(String cliName, String harnessName, boolean accNorm) {
        this.cliName = cliName;
        this.harnessName = harnessName;
        this.accNorm = accNorm;
    }

    /** The example of one data row; {@code label} is its row of a separate labels file, or null. */
    abstract Example example(Row row, Row label);

    public String cliName() {
        return cliName;
    }

    /** The lm-evaluation-harness task whose prompts and metrics this follows. */
    public String harnessName() {
        return harnessName;
    }

    /** Whether the harness reports acc_norm for this task. */
    public boolean reportsAccNorm() {
        return accNorm;
    }

    /** A cloze task (LAMBADA): one request, acc = all target tokens greedy, and perplexity. */
    public boolean isCloze() {
        return this == LAMBADA;
    }

    /** Whether labels may come from a separate file (--labels). */
    public boolean takesLabelsFile() {
        return this == PIQA;
    }

    public static Task byName(String name) {
        for (Task t : values()) {
            if (t.cliName.equals(name.toLowerCase(Locale.ROOT))) {
                return t;
            }
        }
        throw new IllegalArgumentException("unknown task '" + name + "' (" + String.join(", ",
                Arrays.stream(values()).map(Task::cliName).toList()) + ")");
    }

    /** The examples of the rows, labels (one per row) from a separate file when not null. */
    public List<Example> examples(List<Row> rows, List<Row> labels) {
        List<Example> out = new ArrayList<>(rows.size());
        for (int i = 0; i < rows.size(); i++) {
            out.add(example(rows.get(i), labels == null ? null : labels.get(i)));
        }
        return out;
    }

    /** The harness's hellaswag preprocess: strip, " [title]" to ". ", drop [bracketed] artifacts, "  " to " ". */
    static String hellaswagPreprocess(String text) {
        String s = PythonStrings.strip(text);
        s = s.replace(" [title]", ". ");
        s = BRACKETED.matcher(s).replaceAll("");
        return s.replace("  ", " ");
    }

    /** Choices placed in the continuation after the harness's default target delimiter " ". */
    private static Example multipleChoice(Row row, String context, List<String> choices, int gold) {
        List<Request> requests = new ArrayList<>(choices.size());
        int[] lengths = new int[choices.size()];
        for (int i = 0; i < choices.size(); i++) {
            requests.add(new Request(context, " " + choices.get(i)));
            lengths[i] = PythonStrings.length(choices.get(i));
        }
        return new Example(row.location(), requests, gold, lengths, null);
    }

    private static List<String> nonEmpty(Row row, String field) {
        List<String> list = row.stringList(field);
        if (list.isEmpty()) {
            throw row.error("field '" + field + "' is empty");
        }
        return list;
    }

    /** MMLU's answer: an index 0-3 (cais/mmlu) or a letter A-D (the original CSVs). */
    private static int mmluAnswer(Row row) {
        Object v = row.require("answer");
        if (v instanceof String s) {
            int letter = LETTERS.indexOf(PythonStrings.strip(s).toUpperCase(Locale.ROOT));
            if (letter >= 0) {
                return letter;
            }
        }
        Long l = row.integerOrNull(v);
        if (l == null || l < 0 || l > 3) {
            throw row.error("bad label " + Row.show(v) + " in field 'answer' (expected 0 to 3 or A to D)");
        }
        return (int) (long) l;
    }
}
