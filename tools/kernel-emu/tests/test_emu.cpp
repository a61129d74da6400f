// Self-test of the emulator: it must run correct code without findings, report each kind of
// misuse it claims to detect, fail launches the way CUDA does, and convert FP16 exactly.
#include "emu_selftest.cu.cpp"
#include "testlib.h"

#include <fcntl.h>
#include <sys/wait.h>

using kt::Buf;

namespace {

kt::Kernel& K() { return kt::kernel("emulator self-test"); }

// Runs `body`, which must make the emulator report `kind`; the finding is then forgiven.
template <typename F>
void expect_finding(const char* kind, const char* what, F body) {
  kt::Case c(K(), std::string("expects ") + kind + ": " + what);
  const long before = emu::error_count(), kind_before = emu::kind_count(kind);
  const long printed = emu::printed_errors();
  emu::printed_errors() = 1L << 40;  // quiet
  body();
  emu::printed_errors() = printed;
  const bool found = emu::kind_count(kind) > kind_before;
  emu::error_count() = before;
  c.errors_before = before;
  if (!found) c.fail("the emulator did not report %s", kind);
}

// Runs `body` in a child process, which must die of SIGSEGV (a guard page or a protected input).
template <typename F>
void expect_fault(const char* what, F body) {
  kt::Case c(K(), std::string("expects SIGSEGV: ") + what);
  fflush(stdout);
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = open("/dev/null", O_WRONLY);  // the child's fault report is expected: hide it
    if (fd >= 0) dup2(fd, 1);
    body();
    _exit(0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV)) {
    c.fail("no SIGSEGV (status 0x%x)", st);
  }
}

void correct_code() {
  for (int threads : {32, 64, 256, 1024}) {
    kt::Case c(K(), "block_sum threads=" + std::to_string(threads));
    const int n = 1000, blocks = 5;
    std::vector<double> v(n);
    for (int i = 0; i < n; ++i) v[i] = (i % 7) - 3;  // exact in float
    Buf<float> in = kt::upload_f(v, "in");
    Buf<float> out(blocks, "out");
    kt::fill_nan(out);
    if (!kt::launched(c, launch_block_sum(in.p, out.p, n, blocks, threads))) continue;
    double want = 0;
    for (double x : v) want += x;
    for (int b = 0; b < blocks; ++b) c.exact("out", b, out[b], want);
  }
  {
    kt::Case c(K(), "__shared__ arrays by declaration site");
    Buf<int> out(1, "out");
    out[0] = -1;
    if (kt::launched(c, launch_shared_sites(out.p))) c.exact("same", 0, out[0], 1);
  }
  for (int blocks : {1, 7, 100}) {
    kt::Case c(K(), "grid-stride blocks=" + std::to_string(blocks));
    const int n = 12345;
    Buf<int> count(n, "count");
    for (int i = 0; i < n; ++i) count[i] = 0;
    if (!kt::launched(c, launch_grid_stride(count.p, n, blocks))) continue;
    for (int i = 0; i < n; ++i) if (!c.exact("count", i, count[i], 1)) break;
  }
}

void findings() {
  expect_finding("RACE", "shared memory read without a barrier", [] {
    Buf<float> out(64, "out");
    launch_racy(out.p);
  });
  expect_finding("RACE", "blocks writing the same element", [] {
    Buf<int> out(1, "out");
    launch_block_race(out.p);
  });
  expect_finding("SHUFFLE", "partial mask", [] {
    Buf<float> out(32, "out");
    launch_partial_mask(out.p);
  });
  expect_finding("SHUFFLE", "shuffle in divergent code", [] {
    Buf<float> out(32, "out");
    launch_divergent_shuffle(out.p);
  });
  expect_finding("BARRIER", "__syncthreads in divergent code", [] {
    Buf<float> out(32, "out");
    launch_divergent_barrier(out.p);
  });
}

void launch_limits() {
  // 33 static floats count as 144 bytes: 48 KiB - 256 of dynamic memory fit beside them,
  // 48 KiB - 140 do not (as measured on the GPU: rows of 12253 floats failed, 12252 ran).
  struct { size_t dyn; int threads; cudaError_t want; } cases[] = {
      {48 * 1024 - 256, 64, cudaSuccess},
      {12252 * 4, 64, cudaSuccess},
      {12253 * 4, 64, cudaErrorInvalidValue},
      {48 * 1024, 64, cudaErrorInvalidValue},
      {48 * 1024 + 4, 64, cudaErrorInvalidValue},
      {0, 1025, cudaErrorInvalidConfiguration},
  };
  for (auto& t : cases) {
    kt::Case c(K(), "launch limits dyn=" + std::to_string(t.dyn) + " threads=" + std::to_string(t.threads));
    Buf<float> out(1, "out");
    out[0] = -5.f;
    const cudaError_t e = launch_smem(out.p, t.dyn, t.threads);
    if (e != t.want) c.fail("launch returned %d, expected %d", (int)e, (int)t.want);
    if (cudaGetLastError() != cudaSuccess) c.fail("the launch error was not cleared by cudaGetLastError");
    c.exact("out", 0, out[0], t.want == cudaSuccess ? 1.f : -5.f);  // a failed launch writes nothing
  }
}

void faults() {
  for (bool front : {false, true}) {
    expect_fault(front ? "read one element before a buffer" : "read one element past a buffer",
                 [front] {
                   emu::config().guard_front = front;
                   Buf<float> in(100, "in"), out(1, "out");
                   in.readonly();
                   launch_read_at(in.p, out.p, front ? -1 : 100);
                 });
  }
  expect_fault("write to a read-only input", [] {
    Buf<float> in(100, "in");
    in.readonly();
    launch_write_input(in.p);
  });
  for (bool front : {false, true}) {
    expect_fault("shared memory out of bounds", [front] {
      emu::config().guard_front = front;
      Buf<float> out(1, "out");
      launch_smem_at(out.p, 400, front ? -1 : 100);
    });
  }
}

void half_conversions() {
  kt::Case c(K(), "FP16 conversions");
#if defined(__FLT16_MAX__)
  long bad = 0;
  for (uint32_t h = 0; h < 65536; ++h) {
    const __half x = __ushort_as_half((unsigned short)h);
    _Float16 ref;
    memcpy(&ref, &h, 2);
    const float a = __half2float(x), b = (float)ref;
    if (memcmp(&a, &b, 4) != 0 && !(std::isnan(a) && std::isnan(b))) bad++;
    // float -> half around every half value: the value itself, the midpoints to its neighbours
    // and the floats right next to them (round to nearest even at the ties)
    if (std::isnan(b) || std::isinf(b)) continue;
    float probes[7];
    const uint16_t hn = (uint16_t)(h + 1);  // the next half up in magnitude (same sign)
    _Float16 rn;
    memcpy(&rn, &hn, 2);
    const float mid = (float)(((double)b + (double)(float)rn) / 2);  // exact in float
    probes[0] = b;
    probes[1] = mid;
    probes[2] = nextafterf(mid, INFINITY);
    probes[3] = nextafterf(mid, -INFINITY);
    probes[4] = -mid;
    probes[5] = nextafterf(b, INFINITY);
    probes[6] = nextafterf(b, -INFINITY);
    for (float f : probes) {
      if (std::isnan(f)) continue;
      const _Float16 r = (_Float16)f;
      const __half mine = __float2half_rn(f);
      uint16_t rb;
      memcpy(&rb, &r, 2);
      if (rb != mine.x) {
        if (bad++ < 3) c.fail("__float2half_rn(%.9g) = 0x%04x, _Float16 gives 0x%04x", f, mine.x, rb);
      }
    }
  }
  std::mt19937 g(7);
  for (int i = 0; i < 1000000; ++i) {
    uint32_t bits = g();
    float f;
    memcpy(&f, &bits, 4);
    if (std::isnan(f)) continue;
    const _Float16 r = (_Float16)f;
    uint16_t rb;
    memcpy(&rb, &r, 2);
    if (rb != __float2half_rn(f).x && bad++ < 3) c.fail("__float2half_rn(%.9g) differs from _Float16", f);
  }
  if (bad) c.fail("%ld FP16 conversion differences", bad);
#else
  printf("note: the compiler has no _Float16; FP16 conversions checked on a few values only\n");
  const float vals[] = {0.f, 1.f, -2.f, 65504.f, 6.1035156e-05f, 5.9604645e-08f, 0.333251953125f};
  for (float f : vals) c.exact("half", 0, __half2float(__float2half_rn(f)), f);
  c.exact("half", 1, __half2float(__float2half_rn(65520.f)), INFINITY);
  c.exact("half", 2, __half2float(__float2half_rn(1.f + 1.f / 2048)), 1.f);  // tie to even
#endif
}

}  // namespace

int main(int argc, char** argv) {
  kt::init(argc, argv);
  K().coverage = std::string("fiber switch: ") + (EMU_FAST_SWITCH ? "x86-64 asm" : "ucontext");
  correct_code();
  findings();
  launch_limits();
  faults();
  half_conversions();
  return kt::finish();
}
