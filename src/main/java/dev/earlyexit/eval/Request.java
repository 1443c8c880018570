package dev.earlyexit.eval;

/** One log-likelihood request, as the harness issues it: log p(continuation | context). */
public record Request(String context, String continuation) {
}
