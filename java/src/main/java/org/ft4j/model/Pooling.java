package org.ft4j.model;

/** How token states become one vector per text. */
public enum Pooling {
  /** The first token's state ([CLS] / &lt;s&gt;). */
  CLS,
  /** The mean over the text's tokens (special tokens included, padding excluded). */
  MEAN,
  /** No pooling: every token's state. */
  NONE
}
