package org.ft4j.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Closes a resource while other threads use it in a loop: every thread must stop with an exception
 * (not hang, not crash the JVM), and those exceptions are returned for the caller to check.
 */
public final class CloseUnderLoad {
  private CloseUnderLoad() {}

  /**
   * Starts {@code threads} threads that run {@code work} until it throws, waits until it has
   * completed {@code threads} times in all, runs {@code close}, joins the threads (60 s at most
   * each) and returns what each one threw.
   */
  public static List<Throwable> run(int threads, Runnable work, Runnable close)
      throws InterruptedException {
    AtomicInteger done = new AtomicInteger();
    ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
    Thread[] workers = new Thread[threads];
    for (int k = 0; k < threads; k++) {
      workers[k] =
          new Thread(
              () -> {
                try {
                  while (true) {
                    work.run();
                    done.incrementAndGet();
                  }
                } catch (Throwable x) {
                  failures.add(x);
                }
              },
              "close-under-load-" + k);
      workers[k].start();
    }
    while (done.get() < threads) {
      Thread.sleep(1);
    }
    close.run();
    for (Thread t : workers) {
      t.join(60_000);
      assertFalse(t.isAlive(), t.getName() + " still runs after close");
    }
    assertEquals(threads, failures.size());
    return new ArrayList<>(failures);
  }
}
