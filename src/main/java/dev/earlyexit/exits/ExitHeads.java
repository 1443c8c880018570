package dev.earlyexit.exits;

import dev.earlyexit.format.ModelFormatException;
import dev.earlyexit.format.Safetensors;
import dev.earlyexit.format.SafetensorsWriter;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.ModelWeights;
import dev.earlyexit.store.LoadedModel;
import dev.earlyexit.store.ModelFingerprint;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * The exit heads of one model, ordered by layer, with their metadata: what the early-exit and
 * speculative decoders load. Saved as one safetensors file whose {@code __metadata__} names the format
 * and version, the model fingerprint ({@link ModelFingerprint}), the kind, the layers, the adapter rank
 * or vocabulary subset, and how the heads were trained (λ, seed, steps, data, held-out metrics).
 *
 * <p>Tensors are named {@code head.<layer>.<param>} (e.g. {@code head.3.weight}, {@code head.3.norm.weight},
 * {@code head.3.adapter.A}). An adapter head's classifier is the model's own and is not stored.
 *
 * <p>Default location (see {@link #defaultPath}): beside the model, so later commands find it:
 * for a model file {@code dir/model.bin} it is {@code dir/model.heads/<kind>.safetensors} (for the
 * {@code stories15M} alias: {@code <cache>/models/stories15M/model.heads/full.safetensors}); for a Hugging Face
 * directory {@code dir/heads/<kind>.safetensors}.
 */
public final class ExitHeads {
    public static final String FORMAT = "earlyexit-exit-heads";
    public static final int FORMAT_VERSION = 1;

    private final List<TrainableHead> heads;
    private final HeadKind kind;
    private final String fingerprint;
    private final Map<String, String> metadata;

    /** Heads (ascending layers, one kind) for the model with this fingerprint; metadata are extra string entries. */
    public ExitHeads(List<? extends TrainableHead> heads, String fingerprint, Map<String, String> metadata) {
        if (heads.isEmpty()) {
            throw new IllegalArgumentException("no heads");
        }
        this.heads = List.copyOf(heads);
        this.kind = heads.get(0).kind();
        for (int i = 0; i < heads.size(); i++) {
            if (heads.get(i).kind() != kind) {
                throw new IllegalArgumentException("heads of one file must be of one kind");
            }
            if (i > 0 && heads.get(i).layer() <= heads.get(i - 1).layer()) {
                throw new IllegalArgumentException("heads must have ascending, distinct layers");
            }
        }
        this.fingerprint = fingerprint;
        this.metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
    }

    public List<TrainableHead> heads() {
        return heads;
    }

    public int size() {
        return heads.size();
    }

    public TrainableHead head(int i) {
        return heads.get(i);
    }

    /** The head after {@code layer} blocks, if there is one. */
    public Optional<TrainableHead> forLayer(int layer) {
        return heads.stream().filter(h -> h.layer() == layer).findFirst();
    }

    public int[] layers() {
        return heads.stream().mapToInt(TrainableHead::layer).toArray();
    }

    public HeadKind kind() {
        return kind;
    }

    public String fingerprint() {
        return fingerprint;
    }

    /** All metadata as stored (the format's own keys included once loaded or saved). */
    public Map<String, String> metadata() {
        return metadata;
    }

    public void save(Path file) throws IOException {
        SafetensorsWriter w = new SafetensorsWriter();
        w.metadata("format", FORMAT);
        w.metadata("format_version", Integer.toString(FORMAT_VERSION));
        w.metadata("model_fingerprint", fingerprint);
        w.metadata("kind", kind.cliName());
        w.metadata("layers", Arrays.stream(layers()).mapToObj(Integer::toString).collect(Collectors.joining(",")));
        w.metadata("dim", Integer.toString(heads.get(0).dim()));
        TrainableHead first = heads.get(0);
        if (first instanceof AdapterHead a) {
            w.metadata("adapter_rank", Integer.toString(a.rank()));
        }
        if (first instanceof LinearHead l && l.subset() != null) {
            w.metadata("vocab_subset", Arrays.stream(l.subset().ids()).mapToObj(Integer::toString)
                    .collect(Collectors.joining(",")));
        }
        for (Map.Entry<String, String> e : metadata.entrySet()) {
            if (!RESERVED.contains(e.getKey())) {
                w.metadata(e.getKey(), e.getValue());
            }
        }
        for (TrainableHead h : heads) {
            for (Param p : h.params()) {
                w.add("head." + h.layer() + "." + p.name(), p.data(), p.shape());
            }
        }
        w.write(file);
    }

    private static final List<String> RESERVED = List.of("format", "format_version", "model_fingerprint", "kind",
            "layers", "dim", "adapter_rank", "vocab_subset");

    /** Loads heads for a loaded model, checking they were trained for it. */
    public static ExitHeads load(Path file, LoadedModel model) throws IOException {
        return load(file, model.config(), model.weights(), ModelFingerprint.of(model.config(), model.weights()));
    }

    /**
     * Loads heads for the model (config, weights) whose fingerprint is given (computed once by the caller
     * with {@link ModelFingerprint#of}). A file of another model, of an unknown kind or format version, or
     * a damaged file is a {@link ModelFormatException} naming the file and the problem.
     */
    public static ExitHeads load(Path file, ModelConfig c, ModelWeights weights, String fingerprint) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new ModelFormatException(file + ": no exit-heads file here (train heads with train-heads)");
        }
        try (Safetensors st = Safetensors.open(file)) {
            Map<String, String> meta = st.metadata();
            if (!FORMAT.equals(meta.get("format"))) {
                throw new ModelFormatException(file + ": not an exit-heads file (its metadata have no format="
                        + FORMAT + ")");
            }
            String version = meta.get("format_version");
            if (!Integer.toString(FORMAT_VERSION).equals(version)) {
                throw new ModelFormatException(file + ": exit-heads format version " + version
                        + " is not supported (this build reads version " + FORMAT_VERSION + ")");
            }
            String stored = meta.get("model_fingerprint");
            if (!fingerprint.equals(stored)) {
                throw new ModelFormatException(file + ": these heads were trained for a different model (fingerprint "
                        + shortFp(stored) + ", this model is " + shortFp(fingerprint)
                        + "); train heads for this model with train-heads");
            }
            HeadKind kind;
            try {
                kind = HeadKind.parse(String.valueOf(meta.get("kind")));
            } catch (IllegalArgumentException e) {
                throw new ModelFormatException(file + ": " + e.getMessage());
            }
            int[] layers = intList(file, meta, "layers");
            VocabularySubset subset = null;
            int rank = 0;
            if (kind == HeadKind.SUBSET) {
                int[] ids = intList(file, meta, "vocab_subset");
                try {
                    subset = new VocabularySubset(ids, c.vocabSize());
                } catch (IllegalArgumentException e) {
                    throw new ModelFormatException(file + ": bad vocab_subset: " + e.getMessage());
                }
            } else if (kind == HeadKind.ADAPTER) {
                rank = intList(file, meta, "adapter_rank")[0];
            }
            List<TrainableHead> heads = new ArrayList<>();
            int d = c.dim();
            for (int layer : layers) {
                int top = kind == HeadKind.SUBSET ? c.layers() : c.layers() - 1;
                if (layer < 1 || layer > top) {
                    throw new ModelFormatException(file + ": head layer " + layer + " is outside [1, " + top + "]"
                            + (kind == HeadKind.SUBSET ? "" : " (only a subset head may sit after the last layer)"));
                }
                String p = "head." + layer + ".";
                float[] gain = st.read(p + "norm.weight", d);
                float[] nb = c.norm() == ModelConfig.NormKind.LAYER ? st.read(p + "norm.bias", d) : null;
                HeadNorm norm = new HeadNorm(c.norm(), c.normEps(), gain, nb);
                switch (kind) {
                    case FULL, SUBSET -> {
                        int out = subset == null ? c.vocabSize() : subset.size();
                        float[] w = st.read(p + "weight", out, d);
                        float[] bias = st.has(p + "bias") ? st.read(p + "bias", out) : null;
                        heads.add(new LinearHead(layer, norm, w, bias, subset, out));
                    }
                    case ADAPTER -> {
                        float[] a = st.read(p + "adapter.A", rank, d);
                        float[] b = st.read(p + "adapter.B", d, rank);
                        heads.add(new AdapterHead(layer, norm, rank, a, b, weights.classifier(), weights.classifierBias()));
                    }
                }
            }
            try {
                return new ExitHeads(heads, stored, meta);
            } catch (IllegalArgumentException e) {
                throw new ModelFormatException(file + ": " + e.getMessage());
            }
        }
    }

    private static int[] intList(Path file, Map<String, String> meta, String key) {
        String v = meta.get(key);
        if (v == null || v.isBlank()) {
            throw new ModelFormatException(file + ": metadata '" + key + "' is missing");
        }
        try {
            return Arrays.stream(v.split(",")).map(String::trim).mapToInt(Integer::parseInt).toArray();
        } catch (NumberFormatException e) {
            throw new ModelFormatException(file + ": metadata '" + key + "' is not a list of integers");
        }
    }

    private static String shortFp(String fp) {
        if (fp == null) {
            return "missing";
        }
        return fp.length() > 19 ? fp.substring(0, 19) + "…" : fp;
    }

    /** Where heads of a kind are stored for a model (see the class comment). */
    public static Path defaultPath(Path modelSource, HeadKind kind) {
        return directory(modelSource).resolve(kind.cliName() + ".safetensors");
    }

    /** The folder that holds a model's heads (and their calibrations): see the class comment. */
    public static Path directory(Path modelSource) {
        Path src = modelSource.toAbsolutePath().normalize();
        if (Files.isDirectory(src)) {
            return src.resolve("heads");
        }
        String name = src.getFileName().toString();
        int dot = name.lastIndexOf('.');
        return src.resolveSibling((dot > 0 ? name.substring(0, dot) : name) + ".heads");
    }

    /** The default heads file of a model that exists, trying full, subset, then adapter. */
    /**
     * The order --heads auto tries stored heads in: subset heads first (one call reads a fraction of a
     * layer's weights, where a full head reads the whole classifier, 9x a layer on stories15M: measured,
     * subset heads are the only kind that makes early exit faster than the full model there), then the
     * paper's full heads, then adapters.
     */
    public static final List<HeadKind> AUTO_PREFERENCE = List.of(HeadKind.SUBSET, HeadKind.FULL, HeadKind.ADAPTER);

    public static Optional<Path> findDefault(Path modelSource) {
        for (HeadKind k : AUTO_PREFERENCE) {
            Path p = defaultPath(modelSource, k);
            if (Files.isRegularFile(p)) {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }
}
