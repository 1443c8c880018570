package dev.earlyexit.tensor;

import java.lang.invoke.VarHandle;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * The one persistent pool every kernel runs on. The calling thread takes part as worker 0, so
 * {@code threads == 1} runs everything inline. Workers spin briefly between dispatches (a decode
 * step issues about 31 of them back to back) and park when idle, so an idle pool costs no CPU.
 *
 * <p>Workers claim contiguous ranges of shrinking size (guided self-scheduling): a core that the
 * host slows down, or that starts late, takes less of the work instead of making the other wait at
 * the end of every dispatch. Each index is still run by exactly one worker and tasks compute every
 * index independently of the others, so results do not depend on the thread count or the timing.
 * Waiting threads yield their core after a short spin, and when sharing stops paying (workers held
 * up by a busy machine) the caller runs dispatches alone for a while: beside a CPU-bound process,
 * spinning two threads ran at a third of one thread's speed.
 *
 * <p>Not reentrant: one dispatch at a time, from one driving thread.
 */
public final class ThreadPool implements AutoCloseable {

    /**
     * A unit of parallel work over the index range [start, end); {@code worker} indexes scratch space.
     * A worker may be handed several ranges in one dispatch, so each index must be computed on its own.
     */
    @FunctionalInterface
    public interface RangeTask {
        void run(int start, int end, int worker);
    }

    /**
     * How long an idle worker stays awake before it parks: far longer than the gap between the
     * dispatches of a decode step, short enough not to hold a core when the pool runs alone.
     */
    private static final long SPIN_NANOS = 200_000;
    /** Spins of a waiting thread before it yields: about as long as a short kernel (a few microseconds). */
    private static final int WAIT_SPINS = 1 << 10;
    /** Dispatches judged together: about 8 decode steps of stories15M, some milliseconds. */
    private static final int WINDOW_DISPATCHES = 256;
    /** Dispatches run alone once sharing stopped paying (about 130 decode steps of stories15M), before trying again. */
    private static final int SOLO_DISPATCHES = 4096;

    private final int threads;
    private final Thread[] workers;
    private final boolean[] sleeping;
    private volatile long generation;
    private volatile boolean closed;
    private volatile RangeTask task;
    private volatile int size;
    private final AtomicInteger remaining = new AtomicInteger();
    /** The first index not yet claimed in the current dispatch. */
    private final AtomicInteger nextIndex = new AtomicInteger();
    private volatile Throwable failure;
    // The driving thread's record of whether sharing pays (judgeParallelism).
    private int windowDispatches;
    private double windowAloneNanos;
    private double windowTotalNanos;
    private int soloDispatchesLeft;
    /** Each worker's own float scratch (a tile of dequantized weights), grown on first need, then reused. */
    private final float[][] scratch;

    public ThreadPool(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        this.threads = threads;
        this.workers = new Thread[threads];
        this.sleeping = new boolean[threads];
        this.scratch = new float[threads][];
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

    /**
     * Scratch of at least {@code floats} values owned by {@code worker}, for the task it is running; kept
     * for the next dispatch, so kernels allocate only the first time (or when a larger one is asked for).
     */
    float[] scratch(int worker, int floats) {
        float[] s = scratch[worker];
        if (s == null || s.length < floats) {
            s = new float[floats];
            scratch[worker] = s;
        }
        return s;
    }

    /**
     * Scratch of at least {@code floats} values for a product's prepared activations (Matrix.input),
     * written by the dispatching thread before the product and read by every worker during it.
     */
    float[] inputScratch(int floats) {
        if (input.length < floats) {
            input = new float[floats];
        }
        return input;
    }

    private float[] input = new float[0];

    /** Runs {@code task} over [0, n) split across all workers, and returns when every range is done. */
    public void parallelFor(int n, RangeTask task) {
        if (closed) {
            throw new IllegalStateException("thread pool is closed");
        }
        if (threads == 1 || n < 2) {
            task.run(0, n, 0);
            return;
        }
        if (soloDispatchesLeft > 0) {
            soloDispatchesLeft--;
            task.run(0, n, 0);
            return;
        }
        this.task = task;
        this.size = n;
        this.failure = null;
        nextIndex.set(0);
        remaining.set(threads - 1);
        generation++;
        VarHandle.fullFence(); // order the generation write before reading the plain sleeping flags
        for (int w = 1; w < threads; w++) {
            if (sleeping[w]) {
                LockSupport.unpark(workers[w]);
            }
        }
        long start = System.nanoTime();
        int own = 0;
        try {
            own = runRange(0, task, n);
        } catch (Throwable t) {
            failure = t;
        }
        long ownDone = System.nanoTime();
        // Wait even after a failure: a worker still claiming ranges must not see the next dispatch.
        awaitWorkers();
        judgeParallelism(n, own, ownDone - start, System.nanoTime() - start);
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

    /**
     * Spins briefly, then yields the core. On a machine busy with other processes a worker may be
     * descheduled in the middle of its range; spinning on would burn the very time slice it needs
     * (2 threads then ran at a third of 1 thread's speed beside one CPU-bound process).
     */
    private void awaitWorkers() {
        for (int i = 0; remaining.get() != 0; i++) {
            if (i < WAIT_SPINS) {
                Thread.onSpinWait();
            } else {
                Thread.yield();
            }
        }
    }

    /**
     * Falls back to running dispatches alone for a while when sharing them has stopped paying. The
     * caller's own pace tells what a dispatch would have taken alone (its time over the share of
     * indices it ran). When a window of dispatches took longer in all than that, a worker is being held
     * up by the machine (another busy process, an over-committed host) and waiting for it costs more
     * than it brings. Sums, not ratios: one long preemption is what costs throughput. Results do not
     * depend on this choice, as every index is computed the same way by any worker.
     */
    private void judgeParallelism(int n, int own, long ownNanos, long totalNanos) {
        if (own == 0) {
            return;
        }
        windowAloneNanos += (double) ownNanos * n / own;
        windowTotalNanos += totalNanos;
        if (++windowDispatches == WINDOW_DISPATCHES) {
            if (windowTotalNanos > windowAloneNanos) {
                soloDispatchesLeft = SOLO_DISPATCHES;
            }
            windowDispatches = 0;
            windowAloneNanos = 0;
            windowTotalNanos = 0;
        }
    }

    /** Runs claimed ranges of the current dispatch until none is left; returns how many indices it ran. */
    private int runRange(int worker, RangeTask t, int n) {
        // Ranges shrink from n/(2*threads) down to a floor of n/(8*threads), which bounds the claims (each
        // one an atomic update of a contended cache line) to about 2*threads*(1 + ln 4) per dispatch: 9 for
        // two threads.
        int floor = Math.max(1, n / (8 * threads));
        int divisor = 2 * threads;
        int ran = 0;
        while (true) {
            int start = nextIndex.get();
            int left = n - start;
            if (left <= 0) {
                return ran;
            }
            int chunk = Math.min(left, Math.max(floor, left / divisor));
            if (nextIndex.compareAndSet(start, start + chunk)) {
                t.run(start, start + chunk, worker);
                ran += chunk;
            }
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
        long parkAt = 0;
        for (int i = 0; ; i++) {
            long g = generation;
            if (g != seen || closed) {
                return g;
            }
            if (i < WAIT_SPINS) {
                Thread.onSpinWait();
                continue;
            }
            // Then yield the core (the driving thread or another process may need it) until parking time.
            long now = System.nanoTime();
            if (parkAt == 0) {
                parkAt = now + SPIN_NANOS;
            } else if (now - parkAt > 0) {
                break;
            }
            Thread.yield();
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
