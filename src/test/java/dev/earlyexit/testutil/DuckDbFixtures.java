package dev.earlyexit.testutil;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Writes Parquet test files with DuckDB (the test dependency {@code org.duckdb:duckdb_jdbc}) from SQL.
 * The committed fixtures keep their SQL in the README beside them: every {@code ```sql} block of the
 * README, split into statements at a {@code ;} that ends a line, runs in one in-memory DuckDB
 * ({@code jdbc:duckdb:}). A statement's {@code TO 'name.parquet'} must name a bare file; it is written
 * into the chosen directory: the README's own when regenerating, a temporary one when a test checks
 * that the README still writes the committed bytes, or when a test writes a file of its own.
 *
 * <p>{@link #assertReadmeWritesTheCommittedFiles} keeps a README and its files in step; to regenerate
 * the fixtures after editing a README's SQL or upgrading DuckDB: {@code scripts/parquet-fixtures.sh}
 * (this class's {@link #main}, given the READMEs).
 */
public final class DuckDbFixtures {
    private static final Pattern SQL_BLOCK = Pattern.compile("```sql\\n(.*?)```", Pattern.DOTALL);
    private static final Pattern STATEMENT_END = Pattern.compile(";[ \\t]*(\\n|$)");
    private static final Pattern TARGET = Pattern.compile("\\bTO '([^']*)'");

    private DuckDbFixtures() {
    }

    /** The statements of the markdown's {@code ```sql} blocks, in order, without their final {@code ;}. */
    public static List<String> statements(String markdown) {
        List<String> out = new ArrayList<>();
        Matcher block = SQL_BLOCK.matcher(markdown);
        while (block.find()) {
            for (String s : STATEMENT_END.split(block.group(1))) {
                if (!s.isBlank()) {
                    out.add(s.strip());
                }
            }
        }
        return out;
    }

    /** Runs the README's SQL with its files written into {@code dir}; returns them in the order written. */
    public static List<Path> writeReadme(Path readme, Path dir) throws IOException, SQLException {
        List<String> statements = statements(Files.readString(readme));
        if (statements.isEmpty()) {
            throw new IllegalArgumentException(readme + ": no ```sql block");
        }
        return run(statements, dir);
    }

    /** Runs the statements (one ;-separated script) with their files written into {@code dir}. */
    public static List<Path> write(String sql, Path dir) throws SQLException {
        return run(statements("```sql\n" + sql + "\n```"), dir);
    }

    private static List<Path> run(List<String> statements, Path dir) throws SQLException {
        List<Path> written = new ArrayList<>();
        try (Connection connection = DriverManager.getConnection("jdbc:duckdb:");
             Statement statement = connection.createStatement()) {
            for (String sql : statements) {
                Matcher m = TARGET.matcher(sql);
                StringBuilder placed = new StringBuilder();
                while (m.find()) {
                    String name = m.group(1);
                    if (name.isEmpty() || name.contains("/") || name.contains("\\")) {
                        throw new IllegalArgumentException("COPY target '" + name + "' must be a bare file name");
                    }
                    Path file = dir.resolve(name);
                    written.add(file);
                    m.appendReplacement(placed, Matcher.quoteReplacement(
                            "TO '" + file.toAbsolutePath().toString().replace("'", "''") + "'"));
                }
                m.appendTail(placed);
                statement.execute(placed.toString());
            }
        }
        return written;
    }

    /**
     * The README's SQL, run into {@code dir}, writes exactly the committed .parquet files of its directory,
     * byte for byte (DuckDB's output is deterministic for one version).
     */
    public static void assertReadmeWritesTheCommittedFiles(Path readme, Path dir) throws Exception {
        List<Path> written = writeReadme(readme, dir);
        List<String> committed;
        try (Stream<Path> files = Files.list(readme.getParent())) {
            committed = files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".parquet")).sorted().toList();
        }
        assertThat(written.stream().map(p -> p.getFileName().toString()).sorted().toList())
                .as("the .parquet files %s writes", readme).isEqualTo(committed);
        for (Path file : written) {
            assertThat(Files.readAllBytes(file))
                    .as("%s as %s writes it (after changing the SQL or upgrading DuckDB: scripts/parquet-fixtures.sh)",
                            file.getFileName(), readme)
                    .isEqualTo(Files.readAllBytes(readme.getParent().resolve(file.getFileName())));
        }
    }

    /** Regenerates the fixtures of each README given, beside it. */
    public static void main(String[] args) throws Exception {
        if (args.length == 0) {
            System.err.println("usage: DuckDbFixtures README.md...");
            System.exit(2);
        }
        for (String arg : args) {
            Path readme = Path.of(arg);
            for (Path file : writeReadme(readme, readme.toAbsolutePath().getParent())) {
                System.out.println(file + " (" + Files.size(file) + " bytes)");
            }
        }
    }
}
