package org.ft4j.cuda;

import org.bytedeco.javacpp.Pointer;

/** A JavaCPP pointer to a raw CUDA device address; it owns nothing. */
final class DevicePointer extends Pointer {
  DevicePointer(long address) {
    this.address = address;
  }
}
