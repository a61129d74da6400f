package org.ft4j.gemm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The environment a tuned GEMM config is valid for: slugs, compatibility and validation. */
class GemmEnvironmentTest {
  private static final GemmEnvironment H100 =
      new GemmEnvironment("NVIDIA H100 80GB HBM3", 90, 13000, 130100L);

  @Test
  void gpuSlugLowerCasesAndJoinsRunsOfOtherCharactersWithOneDash() {
    assertEquals("nvidia-h100-80gb-hbm3", H100.gpuSlug());
    assertEquals("tesla-t4", new GemmEnvironment("Tesla T4", 75, 12000, 120000L).gpuSlug());
    assertEquals(
        "nvidia-a100-sxm4-80gb",
        new GemmEnvironment("NVIDIA A100-SXM4-80GB", 80, 12000, 120000L).gpuSlug());
    // runs of several separators become one '-', none is left at either end
    assertEquals("nvidia-geforce-rtx-4090", GemmEnvironment.slug("(NVIDIA)  GeForce  RTX__4090!"));
  }

  @Test
  void sameEnvironmentIsCompatible() {
    GemmEnvironment same = new GemmEnvironment("NVIDIA H100 80GB HBM3", 90, 13000, 130100L);
    assertTrue(H100.compatibleWith(same));
    assertNull(H100.mismatch(same));
  }

  @Test
  void cudartDifferenceAloneIsCompatible() {
    GemmEnvironment otherRuntime = new GemmEnvironment("NVIDIA H100 80GB HBM3", 90, 12080, 130100L);
    assertTrue(H100.compatibleWith(otherRuntime));
    assertNull(H100.mismatch(otherRuntime));
  }

  @Test
  void differentGpuIsIncompatible() {
    GemmEnvironment a100 = new GemmEnvironment("NVIDIA A100-SXM4-80GB", 90, 13000, 130100L);
    assertFalse(H100.compatibleWith(a100));
    assertEquals(
        "tuned on 'NVIDIA A100-SXM4-80GB', this GPU is 'NVIDIA H100 80GB HBM3'",
        H100.mismatch(a100));
  }

  @Test
  void differentSmIsIncompatible() {
    GemmEnvironment sm89 = new GemmEnvironment("NVIDIA H100 80GB HBM3", 89, 13000, 130100L);
    assertFalse(H100.compatibleWith(sm89));
    assertEquals("tuned on sm_89, this GPU is sm_90", H100.mismatch(sm89));
  }

  @Test
  void differentCublasLtIsIncompatible() {
    GemmEnvironment oldLt = new GemmEnvironment("NVIDIA H100 80GB HBM3", 90, 13000, 120804L);
    assertFalse(H100.compatibleWith(oldLt));
    assertEquals(
        "tuned with cuBLASLt 120804, this process runs cuBLASLt 130100", H100.mismatch(oldLt));
  }

  @Test
  void compatibilityIsSymmetricForEachField() {
    GemmEnvironment[] others = {
      new GemmEnvironment("Tesla T4", 90, 13000, 130100L),
      new GemmEnvironment("NVIDIA H100 80GB HBM3", 80, 13000, 130100L),
      new GemmEnvironment("NVIDIA H100 80GB HBM3", 90, 13000, 130000L),
    };
    for (GemmEnvironment o : others) {
      assertFalse(o.compatibleWith(H100), o.toString());
      assertTrue(o.mismatch(H100) != null, o.toString());
    }
  }

  @Test
  void constructorRejectsBlankOrUntrimmedName() {
    assertThrows(IllegalArgumentException.class, () -> new GemmEnvironment(null, 90, 1, 1));
    assertThrows(IllegalArgumentException.class, () -> new GemmEnvironment("", 90, 1, 1));
    assertThrows(IllegalArgumentException.class, () -> new GemmEnvironment("   ", 90, 1, 1));
    assertThrows(IllegalArgumentException.class, () -> new GemmEnvironment(" Tesla T4", 75, 1, 1));
    assertThrows(IllegalArgumentException.class, () -> new GemmEnvironment("Tesla T4 ", 75, 1, 1));
    assertThrows(IllegalArgumentException.class, () -> new GemmEnvironment("Tesla\nT4", 75, 1, 1));
  }

  @Test
  void constructorRejectsImplausibleVersions() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> new GemmEnvironment("Tesla T4", 9, 1, 1));
    assertTrue(e.getMessage().contains("sm 9"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> new GemmEnvironment("Tesla T4", 75, 0, 1));
    assertThrows(IllegalArgumentException.class, () -> new GemmEnvironment("Tesla T4", 75, 1, 0));
    // the smallest accepted values
    GemmEnvironment min = new GemmEnvironment("Tesla T4", 10, 1, 1);
    assertEquals(10, min.sm());
  }
}
