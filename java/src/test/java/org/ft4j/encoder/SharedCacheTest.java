package org.ft4j.encoder;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The reference counting and idle eviction the encoder's shared GEMM plans rely on. */
class SharedCacheTest {
  static final class Value implements AutoCloseable {
    final String key;
    boolean closed;

    Value(String key) {
      this.key = key;
    }

    @Override
    public void close() {
      assertFalse(closed, key + " closed twice");
      closed = true;
    }
  }

  @Test
  void heldValuesAreSharedAndNeverClosedIdleOnesAreEvictedOldestFirst() {
    List<Value> made = new ArrayList<>();
    SharedCache<String, Value> c = new SharedCache<>(1);
    Value a = c.acquire("a", () -> add(made, "a"));
    assertSame(a, c.acquire("a", () -> add(made, "a again")));
    assertEquals(1, made.size());
    assertEquals(2, c.holders("a"));
    Value b = c.acquire("b", () -> add(made, "b"));
    c.release("a");
    c.release("a"); // a idle: 1 idle allowed, kept
    assertFalse(a.closed);
    assertSame(a, c.acquire("a", () -> add(made, "a made twice"))); // back from idle
    c.release("a");
    c.release("b"); // two idle: the least recently used (a) goes
    assertTrue(a.closed);
    assertFalse(b.closed);
    assertEquals(1, c.size());
    Value a2 = c.acquire("a", () -> add(made, "a2"));
    assertEquals("a2", a2.key);
    c.close();
    assertTrue(a2.closed && b.closed);
    assertThrows(IllegalStateException.class, () -> c.acquire("x", () -> new Value("x")));
    c.close(); // idempotent
  }

  @Test
  void misuseIsRefusedAndFailedMakesLeaveNothing() {
    SharedCache<String, Value> c = new SharedCache<>(4);
    assertThrows(IllegalStateException.class, () -> c.release("never"));
    c.acquire("a", () -> new Value("a"));
    c.release("a");
    assertThrows(IllegalStateException.class, () -> c.release("a"));
    assertThrows(
        UnsupportedOperationException.class,
        () ->
            c.acquire(
                "bad",
                () -> {
                  throw new UnsupportedOperationException("no algorithm");
                }));
    assertEquals(0, c.holders("bad"));
    assertEquals(1, c.size());
    assertThrows(IllegalStateException.class, () -> c.acquire("null", () -> null));
    assertThrows(IllegalArgumentException.class, () -> new SharedCache<String, Value>(-1));
  }

  @Test
  void randomHoldAndReleaseNeverClosesAHeldValueAndBoundsTheIdleOnes() {
    SplittableRandom r = new SplittableRandom(11);
    int maxIdle = 5;
    SharedCache<Integer, Value> c = new SharedCache<>(maxIdle);
    Map<Integer, Integer> holds = new HashMap<>();
    Map<Integer, Value> current = new HashMap<>();
    for (int step = 0; step < 20_000; step++) {
      int k = r.nextInt(30);
      if (r.nextBoolean() || holds.getOrDefault(k, 0) == 0) {
        Value v = c.acquire(k, () -> new Value("v" + k));
        assertFalse(v.closed, "acquired a closed value");
        current.put(k, v);
        holds.merge(k, 1, Integer::sum);
      } else {
        c.release(k);
        holds.merge(k, -1, Integer::sum);
      }
      int idle = 0;
      for (Map.Entry<Integer, Value> e : current.entrySet()) {
        int h = holds.getOrDefault(e.getKey(), 0);
        assertEquals(h, c.holders(e.getKey()));
        if (h > 0) {
          assertFalse(e.getValue().closed, "held value " + e.getKey() + " closed");
        } else if (!e.getValue().closed) {
          idle++;
        }
      }
      assertTrue(idle <= maxIdle, idle + " idle values kept");
    }
    c.close();
    for (Value v : current.values()) {
      assertTrue(v.closed);
    }
  }

  private static Value add(List<Value> made, String key) {
    Value v = new Value(key);
    made.add(v);
    return v;
  }
}
