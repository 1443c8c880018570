package dev.earlyexit.tensor;

import java.lang.invoke.VarHandle;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * The one persistent pool every kernel runs on. The calling thread takes part as worker 0, so
 * {@code threads == 1} runs everything inline. Workers spin briefly between dispatches (a decode
 * step issues about 25 of them back to back) and park when idle, so an idle pool costs no CPU.
 *
 * <p>Work is split into {@code threads} contiguous ranges; every output element is computed by
 * exactly one worker in a fixed order, so results do not depend on the thread count.
 *
 * <p>Not reentrant: one dispatch at a time, from one driving thread.
 */
public final class ThreadPool implements AutoCloseable {

    /** A unit of parallel work over the index range [start, end); {@code worker} indexes scratch space. */
    @FunctionalInterface
    public interface RangeTask {
        void run(int start, int end, int worker);
    }

    private static final int SPIN_ITERATIONS = 1 << 16;

    private final int threads;
    private final Thread[] workers;
    private final boolean[] sleeping;
    private volatile long generation;
    private volatile boolean closed;
    private volatile RangeTask task;
    private volatile int size;
    private final AtomicInteger remaining = new AtomicInteger();
    private volatile Throwable failure;

    public ThreadPool(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        this.threads = threads;
        this.workers = new Thread[threads];
        this.sleeping = new boolean[threads];
        for (int w = 1; w < threads; w++) {
            final int worker = w;
            Thread t = new Thread(() -> workerLoop(worker), "earlyexit-worker-" + w);
            t.setDaemon(true);
            workers[w] = t;
            t.start();
        }
    }

    /** Pool sized to the machine: every available core. */
    public static ThreadPool ofAvailableCores() {
        return new ThreadPool(Runtime.getRuntime().availableProcessors());
    }

    public int threads() {
        return threads;
    }

    /** Runs {@code task} over [0, n) split across all workers, and returns when every range is done. */
    public void parallelFor(int n, RangeTask task) {
        if (closed) {
            throw new IllegalStateException("thread pool is closed");
        }
        if (threads == 1 || n < 2) {
            task.run(0, n, 0);
            return;
        }
        this.task = task;
        this.size = n;
        this.failure = null;
        remaining.set(threads - 1);
        generation++;
        VarHandle.fullFence(); // order the generation write before reading the plain sleeping flags
        for (int w = 1; w < threads; w++) {
            if (sleeping[w]) {
                LockSupport.unpark(workers[w]);
            }
        }
        runRange(0, task, n);
        while (remaining.get() != 0) {
            Thread.onSpinWait();
        }
        Throwable f = failure;
        if (f != null) {
            if (f instanceof RuntimeException re) {
                throw re;
            }
            if (f instanceof Error e) {
                throw e;
            }
            throw new IllegalStateException(f);
        }
    }

    private void runRange(int worker, RangeTask t, int n) {
        int start = (int) ((long) n * worker / threads);
        int end = (int) ((long) n * (worker + 1) / threads);
        if (start < end) {
            t.run(start, end, worker);
        }
    }

    private void workerLoop(int worker) {
        long seen = 0;
        while (true) {
            long g = awaitGeneration(worker, seen);
            if (closed) {
                return;
            }
            seen = g;
            try {
                runRange(worker, task, size);
            } catch (Throwable t) {
                failure = t;
            } finally {
                remaining.decrementAndGet();
            }
        }
    }

    private long awaitGeneration(int worker, long seen) {
        for (int i = 0; i < SPIN_ITERATIONS; i++) {
            long g = generation;
            if (g != seen || closed) {
                return g;
            }
            Thread.onSpinWait();
        }
        while (true) {
            sleeping[worker] = true;
            // Volatile write then read: a dispatcher either sees us asleep or we see its new generation.
            VarHandle.fullFence();
            long g = generation;
            if (g != seen || closed) {
                sleeping[worker] = false;
                return g;
            }
            LockSupport.park(this);
            sleeping[worker] = false;
        }
    }

    @Override
    public void close() {
        closed = true;
        for (int w = 1; w < threads; w++) {
            LockSupport.unpark(workers[w]);
        }
    }
}
