#include "hw_probe.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

#if defined(__x86_64__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#endif

namespace rwkvx {

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// 12 independent accumulator chains hide the FMA latency.
constexpr int kChains = 12;
constexpr int64_t kIters = 20'000'000;

float fma_scalar(float seed) {
  float a[kChains];
  for (int i = 0; i < kChains; ++i) a[i] = seed + i;
  const float m = 0.999999f, c = 1e-7f;
  for (int64_t it = 0; it < kIters / 16; ++it)
    for (int i = 0; i < kChains; ++i) a[i] = a[i] * m + c;
  float s = 0;
  for (float x : a) s += x;
  return s;
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) float fma_avx2(float seed) {
  __m256 a[kChains];
  for (int i = 0; i < kChains; ++i) a[i] = _mm256_set1_ps(seed + i);
  const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
  for (int64_t it = 0; it < kIters; ++it)
    for (int i = 0; i < kChains; ++i) a[i] = _mm256_fmadd_ps(a[i], m, c);
  __m256 s = a[0];
  for (int i = 1; i < kChains; ++i) s = _mm256_add_ps(s, a[i]);
  float out[8];
  _mm256_storeu_ps(out, s);
  return out[0];
}

__attribute__((target("avx512f"))) float fma_avx512(float seed) {
  __m512 a[kChains];
  for (int i = 0; i < kChains; ++i) a[i] = _mm512_set1_ps(seed + i);
  const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
  for (int64_t it = 0; it < kIters; ++it)
    for (int i = 0; i < kChains; ++i) a[i] = _mm512_fmadd_ps(a[i], m, c);
  __m512 s = a[0];
  for (int i = 1; i < kChains; ++i) s = _mm512_add_ps(s, a[i]);
  return _mm512_reduce_add_ps(s);
}
#endif

}  // namespace

double measure_read_bandwidth(ThreadPool& pool, size_t bytes) {
  const size_t n = bytes / sizeof(uint64_t);
  std::vector<uint64_t> buf(n);
  pool.parallel_for(static_cast<int64_t>(n), [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) buf[static_cast<size_t>(i)] = static_cast<uint64_t>(i) * 2654435761u;
  });
  std::vector<double> rates;
  std::vector<uint64_t> sink(static_cast<size_t>(pool.size()) * 8);
  for (int rep = 0; rep < 5; ++rep) {
    const double t0 = now();
    pool.parallel_for(static_cast<int64_t>(n), [&](int64_t b, int64_t e, int w) {
      uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      int64_t i = b;
      for (; i + 4 <= e; i += 4) {
        s0 += buf[static_cast<size_t>(i)];
        s1 += buf[static_cast<size_t>(i + 1)];
        s2 += buf[static_cast<size_t>(i + 2)];
        s3 += buf[static_cast<size_t>(i + 3)];
      }
      for (; i < e; ++i) s0 += buf[static_cast<size_t>(i)];
      sink[static_cast<size_t>(w) * 8] += s0 + s1 + s2 + s3;
    });
    rates.push_back(static_cast<double>(bytes) / (now() - t0));
  }
  volatile uint64_t keep = sink[0];
  (void)keep;
  return median(rates);
}

double measure_peak_flops(ThreadPool& pool, const char** level) {
  float (*fn)(float) = fma_scalar;
  int width = 1;
  int64_t iters = kIters / 16;
  *level = "scalar";
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) {
    fn = fma_avx512; width = 16; iters = kIters; *level = "avx512";
  } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    fn = fma_avx2; width = 8; iters = kIters; *level = "avx2";
  }
#endif
  std::vector<double> rates;
  std::vector<float> sink(static_cast<size_t>(pool.size()) * 16);
  for (int rep = 0; rep < 3; ++rep) {
    const double t0 = now();
    pool.parallel_for(pool.size(), [&](int64_t b, int64_t e, int w) {
      for (int64_t i = b; i < e; ++i) sink[static_cast<size_t>(w) * 16] += fn(static_cast<float>(i));
    });
    const double flops = 2.0 * width * kChains * static_cast<double>(iters) * pool.size();
    rates.push_back(flops / (now() - t0));
  }
  volatile float keep = sink[0];
  (void)keep;
  return median(rates);
}

}  // namespace rwkvx
