package org.ft4j.encoder;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Values shared by several holders and closed when nobody holds them: {@link #acquire} returns the
 * value of a key (made on first use) and counts the holder; {@link #release} uncounts it. Values
 * nobody holds stay cached for a later {@link #acquire}, the least recently used closed first once
 * more than {@code maxIdle} of them wait. Not thread-safe (the encoder's methods are synchronized).
 *
 * <p>The encoder's GEMM plans: with padding removal the linear GEMMs of a shape depend only on its
 * token rows, so shapes with other batch or seq share them.
 */
final class SharedCache<K, V extends AutoCloseable> implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(SharedCache.class);

  private static final class Entry<V> {
    final V value;
    int holders;

    Entry(V value) {
      this.value = value;
    }
  }

  private final int maxIdle;
  private final Map<K, Entry<V>> entries = new LinkedHashMap<>(16, 0.75f, true);
  private int idle;
  private boolean closed;

  SharedCache(int maxIdle) {
    if (maxIdle < 0) {
      throw new IllegalArgumentException("maxIdle = " + maxIdle);
    }
    this.maxIdle = maxIdle;
  }

  /**
   * The value of {@code key}, made by {@code make} if absent, counted as held once more. A value
   * {@code make} fails to produce is not cached (the exception propagates).
   */
  V acquire(K key, Supplier<V> make) {
    if (closed) {
      throw new IllegalStateException("cache is closed");
    }
    Entry<V> e = entries.get(key);
    if (e == null) {
      V v = make.get();
      if (v == null) {
        throw new IllegalStateException("no value made for " + key);
      }
      e = new Entry<>(v);
      entries.put(key, e);
    } else if (e.holders == 0) {
      idle--;
    }
    e.holders++;
    return e.value;
  }

  /** One holder of {@code key} lets go; unheld values may be closed from now on. */
  void release(K key) {
    Entry<V> e = entries.get(key);
    if (e == null || e.holders == 0) {
      throw new IllegalStateException("release of " + key + ", which is not held");
    }
    if (--e.holders == 0) {
      idle++;
      trim();
    }
  }

  /** Number of cached values (held or not). */
  int size() {
    return entries.size();
  }

  /** Number of holders of {@code key} (0 if absent or idle). */
  int holders(K key) {
    Entry<V> e = entries.get(key);
    return e == null ? 0 : e.holders;
  }

  private void trim() {
    Iterator<Entry<V>> it = entries.values().iterator();
    while (idle > maxIdle && it.hasNext()) {
      Entry<V> e = it.next();
      if (e.holders == 0) {
        it.remove();
        idle--;
        closeQuietly(e.value);
      }
    }
  }

  /** Closes every value, held or not (the holders must be gone too). */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    List<V> values = new ArrayList<>();
    for (Entry<V> e : entries.values()) {
      values.add(e.value);
    }
    entries.clear();
    idle = 0;
    RuntimeException first = null;
    for (V v : values) {
      try {
        v.close();
      } catch (Exception ex) {
        if (first == null) {
          first = ex instanceof RuntimeException r ? r : new IllegalStateException(ex);
        } else {
          first.addSuppressed(ex);
        }
      }
    }
    if (first != null) {
      throw first;
    }
  }

  private static void closeQuietly(AutoCloseable c) {
    try {
      c.close();
    } catch (Exception e) {
      LOG.warn("closing an evicted cache value failed: {}", e.toString());
    }
  }
}
