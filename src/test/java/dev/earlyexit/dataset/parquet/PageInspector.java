package dev.earlyexit.dataset.parquet;

import dev.earlyexit.dataset.parquet.ParquetMetadata.ColumnMetaData;
import dev.earlyexit.dataset.parquet.ParquetMetadata.FileMetaData;
import dev.earlyexit.dataset.parquet.ParquetMetadata.PageHeader;
import dev.earlyexit.dataset.parquet.ParquetMetadata.RowGroup;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Lists a file's pages, so tests can check that a file written by DuckDB really exercises the
 * feature they are about (v2 pages, dictionaries, several pages or row groups, an encoding).
 */
final class PageInspector {
    /** One page: its row group, column path, page type name, value encoding name and codec name. */
    record Page(int rowGroup, String column, String type, String encoding, String codec) {
    }

    private PageInspector() {
    }

    static FileMetaData footer(Path file) throws IOException {
        byte[] data = Files.readAllBytes(file);
        int length = ByteSlice.intLE(data, data.length - 8);
        return ParquetMetadata.readFileMetaData(
                new ThriftCompactReader(new ByteSlice(data, data.length - 8 - length, length)));
    }

    static List<Page> pages(Path file) throws IOException {
        byte[] data = Files.readAllBytes(file);
        FileMetaData footer = footer(file);
        List<Page> pages = new ArrayList<>();
        for (int g = 0; g < footer.rowGroups().size(); g++) {
            RowGroup rowGroup = footer.rowGroups().get(g);
            for (var chunk : rowGroup.columns()) {
                ColumnMetaData meta = chunk.metaData();
                long start = meta.dataPageOffset();
                if (meta.dictionaryPageOffset() != null && meta.dictionaryPageOffset() > 0
                        && meta.dictionaryPageOffset() < start) {
                    start = meta.dictionaryPageOffset();
                }
                ByteSlice in = new ByteSlice(data, (int) start, (int) meta.totalCompressedSize());
                while (in.remaining() > 0) {
                    PageHeader header = ParquetMetadata.readPageHeader(new ThriftCompactReader(in));
                    in.skip(header.compressedSize(), "page");
                    String type = switch (header.type()) {
                        case ParquetMetadata.PAGE_DATA -> "DATA_PAGE";
                        case ParquetMetadata.PAGE_DATA_V2 -> "DATA_PAGE_V2";
                        case ParquetMetadata.PAGE_DICTIONARY -> "DICTIONARY_PAGE";
                        default -> "INDEX_PAGE";
                    };
                    int encoding = header.dataPage() != null ? header.dataPage().encoding()
                            : header.dataPageV2() != null ? header.dataPageV2().encoding()
                            : header.dictionaryPage() != null ? header.dictionaryPage().encoding() : -1;
                    pages.add(new Page(g, String.join(".", meta.pathInSchema()), type, Encodings.name(encoding),
                            Codecs.name(meta.codec())));
                }
            }
        }
        return pages;
    }
}
