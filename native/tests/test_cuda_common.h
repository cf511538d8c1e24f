// Shared by the GPU tests: a main that skips (exit 77, which ctest reports as
// skipped) where the engine has no CUDA backend or no usable GPU, device
// buffers, random inputs.
#pragma once
#include <cstdio>
#include <random>
#include <vector>

#include "testing.h"

#if RWKVX_CUDA
#include "cuda/cuda_backend.h"
#include "cuda/cuda_ops.h"

namespace cudatest {

// A device buffer for tests.
struct Buf {
  void* p = nullptr;
  size_t n = 0;
  explicit Buf(size_t bytes) : p(rwkvx::cuda::dev_alloc(bytes, "test buffer")), n(bytes) {}
  template <typename T>
  explicit Buf(const std::vector<T>& h) : Buf(h.size() * sizeof(T)) { up(h); }
  ~Buf() { rwkvx::cuda::dev_free(p); }
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;
  float* f() const { return static_cast<float*>(p); }
  template <typename T>
  void up(const std::vector<T>& h) { rwkvx::cuda::to_device(p, h.data(), h.size() * sizeof(T)); }
  template <typename T = float>
  std::vector<T> down(size_t count = 0) const {
    std::vector<T> h(count ? count : n / sizeof(T));
    rwkvx::cuda::to_host(h.data(), p, h.size() * sizeof(T));
    return h;
  }
  // NaN everywhere, so an element a kernel forgot to write cannot pass.
  void poison() { rwkvx::cuda::dev_fill(p, 0xff, n, nullptr); rwkvx::cuda::stream_sync(nullptr); }
};

inline std::mt19937& rng() {
  static std::mt19937 r(std::random_device{}());
  return r;
}

inline std::vector<float> randn(size_t n, float scale = 1.f) {
  std::normal_distribution<float> d(0.f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng());
  return v;
}

inline std::vector<float> uniform(size_t n, float lo, float hi) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng());
  return v;
}

}  // namespace cudatest

#define CUDA_TEST_MAIN                                                                                    \
  int main(int argc, char** argv) {                                                                       \
    const rwkvx::cuda::Probe pr = rwkvx::cuda::probe(0);                                                  \
    if (!pr.ok) {                                                                                         \
      std::printf("SKIP %zu GPU tests: no usable GPU (%s)\n0 passed, 0 failed, %zu skipped\n",            \
                  testing::registry().size(), pr.why.c_str(), testing::registry().size());               \
      return 77;                                                                                          \
    }                                                                                                     \
    std::printf("GPU: %s, compute capability %d.%d, %d SMs, %.1f GB\n", pr.name.c_str(), pr.cc_major,     \
                pr.cc_minor, pr.sm_count, pr.total_bytes / 1e9);                                          \
    return testing::run_all(argc, argv);                                                                  \
  }
#else
#define CUDA_TEST_MAIN                                                                    \
  int main() {                                                                            \
    std::printf("SKIP: this engine was built without the CUDA backend (no nvcc)\n");      \
    return 77;                                                                            \
  }
#endif
