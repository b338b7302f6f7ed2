package anchor;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.curator.framework.api.BackgroundCallback;

/**
 * At most K background operations in flight: {@link #next()} before issuing one, and pass
 * {@link #callback()} (or call {@link #done(int)}) for its completion; {@link #await(int)}
 * waits for all of them and fails if any failed.
 */
final class Inflight {
    private final Semaphore permits;
    private final CountDownLatch remaining;
    private final AtomicInteger failures = new AtomicInteger();
    private volatile int firstFailure;

    Inflight(int k, int n) {
        permits = new Semaphore(Math.max(1, k));
        remaining = new CountDownLatch(n);
    }

    void next() throws InterruptedException { permits.acquire(); }

    void done(int resultCode) {
        if (resultCode != 0 && failures.getAndIncrement() == 0) firstFailure = resultCode;
        permits.release();
        remaining.countDown();
    }

    BackgroundCallback callback() {
        return (client, event) -> done(event.getResultCode());
    }

    void await(int seconds) throws InterruptedException {
        if (!remaining.await(seconds, TimeUnit.SECONDS))
            throw new IllegalStateException("background operations still running after " + seconds + " s");
        if (failures.get() > 0)
            throw new IllegalStateException(failures.get() + " background operations failed, first with code " + firstFailure);
    }
}
