package dev.earlyexit.eval;

import java.util.List;

/**
 * One evaluated document: its requests (one per choice for a multiple-choice task, one for a cloze task),
 * the index of the right choice, each choice's length in characters for acc_norm, and a group (MMLU's
 * subject) for per-group accuracy.
 *
 * @param choiceLengths len(choice) as the harness computes it (Python characters of the choice text,
 *                      without the " " before it); empty for a cloze task
 * @param group         MMLU's subject, else null
 */
public record Example(String location, List<Request> requests, int gold, int[] choiceLengths, String group) {
}
