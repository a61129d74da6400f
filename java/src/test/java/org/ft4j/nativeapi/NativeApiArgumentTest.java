package org.ft4j.nativeapi;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.ft4j.nativeapi.NativeApi.Int8GemmOut;
import org.junit.jupiter.api.Test;

/** Refusals NativeApi makes before loading or calling native code (no GPU needed). */
class NativeApiArgumentTest {
  @Test
  void gemmInt8PlanRefusesANullKindAndEmptyShapes() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> NativeApi.gemmInt8Plan(null, 4, 4, 4, 0));
    assertTrue(e.getMessage().contains("kind is null"), e.getMessage());
    e =
        assertThrows(
            IllegalArgumentException.class,
            () -> NativeApi.gemmInt8Plan(Int8GemmOut.INT8, 0, 4, 4, 0));
    assertTrue(e.getMessage().contains("M"), e.getMessage());
    e =
        assertThrows(
            IllegalArgumentException.class,
            () -> NativeApi.gemmInt8Plan(Int8GemmOut.INT8, 4, 4, 4, -1));
    assertTrue(e.getMessage().contains("workspaceBytes"), e.getMessage());
  }
}
