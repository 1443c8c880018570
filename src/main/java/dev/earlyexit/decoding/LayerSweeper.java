package dev.earlyexit.decoding;

import dev.earlyexit.exits.ExitHead;
import dev.earlyexit.model.KVCache;
import dev.earlyexit.model.ModelConfig;
import dev.earlyexit.model.Transformer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Runs several sequential decoders (the server's DSSD slots, each on its own thread) as one batch: a
 * decoder asks for model work through its {@link Client} ({@link ModelOps}) and waits; the driving
 * thread calls {@link #sweep}, which passes over the layers once and runs each layer, as one block,
 * for the rows of every client whose request needs it, so each weight is read once per sweep for all
 * of them. When a client's request is done at a layer, its thread runs on (a head's answer, the next
 * draft token, the verification) and asks again before the sweep goes on: a request that starts at
 * or after the sweep's next layer joins this sweep, an earlier one waits for the next. Head and
 * classifier requests are answered between layers, batched across the clients that asked; embedding
 * lookups run on the decoder's own thread (they only read the table).
 *
 * <p>So a DSSD slot drafts a token (embedding, layers up to a head, the head, maybe deeper heads) or
 * verifies its window in each sweep, as it would alone, and every client's results are those of
 * {@link ModelOps#direct} (bit for bit with float32, bf16, Q8_0 and Q4_0 weights; see
 * {@link EarlyExitBatch} for the other kernels). Only one thread computes at a time: the
 * driver while clients wait, a client while the driver waits for it; the model is never shared.
 * The driver's buffers grow to the most rows seen and are kept.
 */
public final class LayerSweeper {
    private enum Kind { FORWARD, LOGITS, HEAD }

    private final Transformer model;
    private final ModelConfig c;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final List<Client> clients = new ArrayList<>();
    private final List<Client> waiting = new ArrayList<>();  // driver's scratch: clients with a posted request
    private float[] block;
    private KVCache[] blockCaches;
    private float[] askRows;
    private float[] askOut;
    private String failure;
    private final java.util.concurrent.atomic.LongAdder sweeps = new java.util.concurrent.atomic.LongAdder();
    private final java.util.concurrent.atomic.LongAdder clientSweeps = new java.util.concurrent.atomic.LongAdder();

    public LayerSweeper(Transformer model) {
        this.model = model;
        this.c = model.config();
        this.block = new float[c.dim()];
        this.blockCaches = new KVCache[1];
        this.askRows = new float[c.dim()];
        this.askOut = new float[c.vocabSize()];
    }

    /**
     * A decoder's handle; call from the decoder's own thread and {@link #close} when it is done. Each
     * call returns once the driver has run the request.
     */
    public final class Client implements ModelOps, AutoCloseable {
        private Kind kind;
        private float[] x;
        private int rows;
        private int at;          // FORWARD: the next layer to run
        private int to;
        private KVCache cache;
        private float[] out;
        private ExitHead head;
        private int offset;
        private boolean posted;  // a request waits for the driver
        private boolean running; // the client's thread computes (the driver waits for it to ask or close)
        private boolean closed;
        private int row;         // driver's scratch: first block row
        private int sweep;       // the last sweep whose layers ran rows of this client

        /** On the decoder's own thread, at once: a lookup that only reads the embedding table. */
        @Override
        public void embed(int[] tokens, int off, int T, int startPos, float[] x) {
            model.embed(tokens, off, T, startPos, x);
        }

        @Override
        public void forward(float[] x, int T, int from, int to, KVCache cache) {
            model.checkForward(T, from, to, cache); // here, so the error reaches the decoder's thread
            if (from == to || T == 0) {
                return;
            }
            this.kind = Kind.FORWARD;
            this.x = x;
            this.rows = T;
            this.at = from;
            this.to = to;
            this.cache = cache;
            post();
        }

        @Override
        public void logits(float[] x, int T, float[] out) {
            this.kind = Kind.LOGITS;
            this.x = x;
            this.rows = T;
            this.out = out;
            post();
        }

        @Override
        public void headLogits(ExitHead head, float[] hidden, int offset, float[] out) {
            this.kind = Kind.HEAD;
            this.head = head;
            this.x = hidden;
            this.offset = offset;
            this.rows = 1;
            this.out = out;
            post();
        }

        private void post() {
            lock.lock();
            try {
                if (failure != null) {
                    throw new IllegalStateException(failure);
                }
                posted = true;
                running = false;
                changed.signalAll();
                while (posted && failure == null) {
                    changed.awaitUninterruptibly();
                }
                running = true;
                if (failure != null) {
                    throw new IllegalStateException(failure);
                }
            } finally {
                lock.unlock();
            }
        }

        /** The decoder is done; the driver stops waiting for it. */
        @Override
        public void close() {
            lock.lock();
            try {
                closed = true;
                running = false;
                changed.signalAll();
            } finally {
                lock.unlock();
            }
        }
    }

    /** A client for a decoder about to start on another thread; the next sweep waits for its first request. */
    public Client join() {
        lock.lock();
        try {
            Client k = new Client();
            k.running = true;
            clients.add(k);
            return k;
        } finally {
            lock.unlock();
        }
    }

    /** Clients that have not closed. */
    public int active() {
        lock.lock();
        try {
            return clients.size();
        } finally {
            lock.unlock();
        }
    }

    /** Sweeps that ran at least one layer. */
    public long sweeps() {
        return sweeps.sum();
    }

    /** Over those sweeps, the clients whose rows they ran (their ratio is the mean batch). */
    public long clientSweeps() {
        return clientSweeps.sum();
    }

    /** Ends every client's wait with this error (the driver cannot go on). */
    public void fail(String message) {
        lock.lock();
        try {
            failure = message;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /**
     * One pass over the layers for every client (driver thread): waits for each to ask, answers heads
     * and logits as they come, and runs the layers their forward requests need.
     * Returns once every client's request of this sweep is done and it has asked for the next one
     * (or closed); a forward request that starts below the layer the sweep had reached waits for the next.
     */
    public void sweep() {
        settle();
        int L = c.layers();
        int j = Integer.MAX_VALUE;
        for (Client k : clients) {
            if (k.kind == Kind.FORWARD && k.posted) {
                j = Math.min(j, k.at);
            }
        }
        if (j < L) {
            sweeps.increment();
        }
        int sweep = sweeps.intValue();
        for (; j < L; j++) {
            int rows = 0;
            for (Client k : clients) {
                if (runsAt(k, j)) {
                    k.row = rows;
                    rows += k.rows;
                    if (k.sweep != sweep) {
                        k.sweep = sweep;
                        clientSweeps.increment();
                    }
                }
            }
            if (rows == 0) {
                continue; // a later request starts deeper
            }
            ensureRows(rows);
            for (Client k : clients) {
                if (runsAt(k, j)) {
                    System.arraycopy(k.x, 0, block, k.row * c.dim(), k.rows * c.dim());
                    Arrays.fill(blockCaches, k.row, k.row + k.rows, k.cache);
                }
            }
            model.forwardLayerRows(j, block, rows, blockCaches);
            Arrays.fill(blockCaches, 0, rows, null);
            boolean done = false;
            for (Client k : clients) {
                if (runsAt(k, j)) {
                    System.arraycopy(block, k.row * c.dim(), k.x, 0, k.rows * c.dim());
                    k.at = j + 1;
                    if (k.at == k.to) {
                        release(k);
                        done = true;
                    }
                }
            }
            if (done) {
                settle();
            }
        }
    }

    /** Whether the client's posted forward request runs layer j next. */
    private static boolean runsAt(Client k, int j) {
        return k.posted && k.kind == Kind.FORWARD && k.at == j;
    }

    /** The client's request is done: its thread runs on. */
    private void release(Client k) {
        lock.lock();
        try {
            k.posted = false;
            k.running = true;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Waits until no client is running, answering every head and logits request meanwhile (batched
     * across the clients that asked together); what is left are forward requests for the sweep.
     */
    private void settle() {
        while (true) {
            lock.lock();
            try {
                while (failure == null && anyRunning()) {
                    changed.awaitUninterruptibly();
                }
                if (failure != null) {
                    throw new IllegalStateException(failure);
                }
                clients.removeIf(k -> k.closed);
                waiting.clear();
                for (Client k : clients) {
                    if (k.posted && k.kind != Kind.FORWARD) {
                        waiting.add(k);
                    }
                }
            } finally {
                lock.unlock();
            }
            if (waiting.isEmpty()) {
                return;
            }
            answer(waiting);
            for (Client k : waiting) {
                release(k);
            }
        }
    }

    private boolean anyRunning() {
        for (Client k : clients) {
            if (k.running && !k.closed) {
                return true;
            }
        }
        return false;
    }

    /** Logits as one block; each head once for all the clients that asked it. */
    private void answer(List<Client> asked) {
        int dim = c.dim();
        int rows = 0;
        for (Client k : asked) {
            if (k.kind == Kind.LOGITS) {
                k.row = rows;
                rows += k.rows;
            } else {
                k.row = -1; // HEAD, not answered yet
            }
        }
        if (rows > 0) {
            ensureRows(rows);
            for (Client k : asked) {
                if (k.kind == Kind.LOGITS) {
                    System.arraycopy(k.x, 0, block, k.row * dim, k.rows * dim);
                }
            }
            int vocab = c.vocabSize();
            if (askOut.length < rows * vocab) {
                askOut = new float[rows * vocab];
            }
            model.logitsBlock(block, rows, askOut);
            for (Client k : asked) {
                if (k.kind == Kind.LOGITS) {
                    System.arraycopy(askOut, k.row * vocab, k.out, 0, k.rows * vocab);
                }
            }
        }
        for (Client first : asked) {
            if (first.kind != Kind.HEAD || first.row >= 0) {
                continue;
            }
            ExitHead h = first.head;
            int n = 0;
            for (Client k : asked) {
                if (k.kind == Kind.HEAD && k.head == h) {
                    if (askRows.length < (n + 1) * dim) {
                        askRows = Arrays.copyOf(askRows, 2 * (n + 1) * dim);
                    }
                    System.arraycopy(k.x, k.offset, askRows, n * dim, dim);
                    k.row = n++;
                }
            }
            int m = h.outputSize();
            if (askOut.length < n * m) {
                askOut = new float[n * m];
            }
            if (n == 1) {
                h.logits(askRows, 0, askOut, model.pool());
            } else {
                h.logitsBlock(askRows, 0, dim, n, askOut, model.pool());
            }
            for (Client k : asked) {
                if (k.kind == Kind.HEAD && k.head == h) {
                    System.arraycopy(askOut, k.row * m, k.out, 0, m);
                }
            }
        }
    }

    private void ensureRows(int rows) {
        if (rows * c.dim() > block.length) {
            int grown = Math.max(rows, 2 * block.length / c.dim());
            block = Arrays.copyOf(block, grown * c.dim());
            blockCaches = Arrays.copyOf(blockCaches, grown);
        }
    }
}
