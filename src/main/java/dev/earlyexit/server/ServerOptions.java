package dev.earlyexit.server;

/**
 * How the server listens and what it allows.
 *
 * @param apiKey        null: no authentication; else the Bearer token every endpoint but /health needs
 * @param maxBodyBytes  larger request bodies get 413
 * @param defaults      the decoding mode of requests without an early_exit object
 * @param graceMillis   on shutdown, how long running requests may finish before they are cancelled
 */
public record ServerOptions(String host, int port, String apiKey, int maxBodyBytes, ExitSpec defaults,
                            long graceMillis) {
}
