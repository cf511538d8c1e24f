// AVX2 + FMA + F16C kernels (compiled with per-function target attributes so
// the library still runs on machines without them).
#if defined(__x86_64__)
#include <immintrin.h>

#include "half.h"
#include "kernels.h"
#include "quant.h"

#define RWKVX_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace rwkvx {
namespace {

RWKVX_AVX2 inline float hsum(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
  return _mm_cvtss_f32(lo);
}

RWKVX_AVX2 float dot_f32(const float* x, const float* w, int64_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(w + i), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(w + i + 8), a1);
    a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), _mm256_loadu_ps(w + i + 16), a2);
    a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), _mm256_loadu_ps(w + i + 24), a3);
  }
  for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(w + i), a0);
  float s = hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  for (; i < n; ++i) s += x[i] * w[i];
  return s;
}

RWKVX_AVX2 inline __m256 load_f16(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
RWKVX_AVX2 inline __m256 load_bf16(const uint16_t* p) {
  const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

template <__m256 (*Load)(const uint16_t*), float (*Scalar)(uint16_t)>
RWKVX_AVX2 inline float dot_half(const float* x, const uint16_t* w, int64_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), Load(w + i), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), Load(w + i + 8), a1);
    a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), Load(w + i + 16), a2);
    a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), Load(w + i + 24), a3);
  }
  for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), Load(w + i), a0);
  float s = hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  for (; i < n; ++i) s += x[i] * Scalar(w[i]);
  return s;
}

float f16_scalar(uint16_t h) { return fp16_to_f32(h); }
float bf16_scalar(uint16_t h) { return bf16_to_f32(h); }

RWKVX_AVX2 float dot_f16(const float* x, const uint16_t* w, int64_t n) { return dot_half<load_f16, f16_scalar>(x, w, n); }
RWKVX_AVX2 float dot_bf16(const float* x, const uint16_t* w, int64_t n) { return dot_half<load_bf16, bf16_scalar>(x, w, n); }

RWKVX_AVX2 inline __m256 load_q8(const int8_t* p) {
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}

RWKVX_AVX2 float dot_q8_0(const float* x, const void* w, int64_t n) {
  const BlockQ8* b = static_cast<const BlockQ8*>(w);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQ8Block; ++i) {
    const float* xb = x + i * kQ8Block;
    __m256 s = _mm256_mul_ps(_mm256_loadu_ps(xb), load_q8(b[i].qs));
    s = _mm256_fmadd_ps(_mm256_loadu_ps(xb + 8), load_q8(b[i].qs + 8), s);
    s = _mm256_fmadd_ps(_mm256_loadu_ps(xb + 16), load_q8(b[i].qs + 16), s);
    s = _mm256_fmadd_ps(_mm256_loadu_ps(xb + 24), load_q8(b[i].qs + 24), s);
    acc = _mm256_fmadd_ps(s, _mm256_set1_ps(fp16_to_f32(b[i].d)), acc);
  }
  return hsum(acc);
}

// 3 tokens × 4 weight rows per tile: 12 accumulators + 3 x + 1 w = 16 registers.
RWKVX_AVX2 void gemm_f32(const float* X, int64_t ldx, const float* W, int64_t ldw, float* Y, int64_t ldy, int64_t T,
                         int64_t R, int64_t n) {
  const int64_t n8 = n & ~int64_t(7);
  int64_t t = 0;
  for (; t + 3 <= T; t += 3) {
    const float* x0 = X + t * ldx;
    const float* x1 = x0 + ldx;
    const float* x2 = x1 + ldx;
    int64_t r = 0;
    for (; r + 4 <= R; r += 4) {
      const float* w0 = W + r * ldw;
      const float* w1 = w0 + ldw;
      const float* w2 = w1 + ldw;
      const float* w3 = w2 + ldw;
      __m256 c00 = _mm256_setzero_ps(), c01 = c00, c02 = c00, c03 = c00;
      __m256 c10 = c00, c11 = c00, c12 = c00, c13 = c00;
      __m256 c20 = c00, c21 = c00, c22 = c00, c23 = c00;
      for (int64_t k = 0; k < n8; k += 8) {
        const __m256 a0 = _mm256_loadu_ps(x0 + k), a1 = _mm256_loadu_ps(x1 + k), a2 = _mm256_loadu_ps(x2 + k);
        __m256 b = _mm256_loadu_ps(w0 + k);
        c00 = _mm256_fmadd_ps(a0, b, c00); c10 = _mm256_fmadd_ps(a1, b, c10); c20 = _mm256_fmadd_ps(a2, b, c20);
        b = _mm256_loadu_ps(w1 + k);
        c01 = _mm256_fmadd_ps(a0, b, c01); c11 = _mm256_fmadd_ps(a1, b, c11); c21 = _mm256_fmadd_ps(a2, b, c21);
        b = _mm256_loadu_ps(w2 + k);
        c02 = _mm256_fmadd_ps(a0, b, c02); c12 = _mm256_fmadd_ps(a1, b, c12); c22 = _mm256_fmadd_ps(a2, b, c22);
        b = _mm256_loadu_ps(w3 + k);
        c03 = _mm256_fmadd_ps(a0, b, c03); c13 = _mm256_fmadd_ps(a1, b, c13); c23 = _mm256_fmadd_ps(a2, b, c23);
      }
      float tail[3][4] = {};
      for (int64_t k = n8; k < n; ++k)
        for (int i = 0; i < 3; ++i)
          for (int j = 0; j < 4; ++j) tail[i][j] += X[(t + i) * ldx + k] * W[(r + j) * ldw + k];
      float* y0 = Y + t * ldy + r;
      float* y1 = y0 + ldy;
      float* y2 = y1 + ldy;
      y0[0] = hsum(c00) + tail[0][0]; y0[1] = hsum(c01) + tail[0][1]; y0[2] = hsum(c02) + tail[0][2]; y0[3] = hsum(c03) + tail[0][3];
      y1[0] = hsum(c10) + tail[1][0]; y1[1] = hsum(c11) + tail[1][1]; y1[2] = hsum(c12) + tail[1][2]; y1[3] = hsum(c13) + tail[1][3];
      y2[0] = hsum(c20) + tail[2][0]; y2[1] = hsum(c21) + tail[2][1]; y2[2] = hsum(c22) + tail[2][2]; y2[3] = hsum(c23) + tail[2][3];
    }
    for (; r < R; ++r)
      for (int i = 0; i < 3; ++i) Y[(t + i) * ldy + r] = dot_f32(X + (t + i) * ldx, W + r * ldw, n);
  }
  for (; t < T; ++t)
    for (int64_t r = 0; r < R; ++r) Y[t * ldy + r] = dot_f32(X + t * ldx, W + r * ldw, n);
}

RWKVX_AVX2 void to_f32(DType t, const uint8_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  switch (t) {
    case DType::F16: {
      const uint16_t* s = reinterpret_cast<const uint16_t*>(src);
      for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load_f16(s + i));
      for (; i < n; ++i) dst[i] = fp16_to_f32(s[i]);
      return;
    }
    case DType::BF16: {
      const uint16_t* s = reinterpret_cast<const uint16_t*>(src);
      for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load_bf16(s + i));
      for (; i < n; ++i) dst[i] = bf16_to_f32(s[i]);
      return;
    }
    case DType::Q8_0: {
      const BlockQ8* b = reinterpret_cast<const BlockQ8*>(src);
      for (int64_t j = 0; j < n / kQ8Block; ++j) {
        const __m256 d = _mm256_set1_ps(fp16_to_f32(b[j].d));
        for (int q = 0; q < 4; ++q) _mm256_storeu_ps(dst + j * kQ8Block + 8 * q, _mm256_mul_ps(d, load_q8(b[j].qs + 8 * q)));
      }
      return;
    }
    case DType::F32:
      break;
  }
  dequantize_row(t, src, dst, n);
}

// Head size 64 only; other sizes take the plain version.
RWKVX_AVX2 void rows_dot(DType t, const uint8_t* base, size_t stride, int64_t n_rows, const float* q, int64_t N, float* out) {
  if (N != 64 || (t != DType::F16 && t != DType::F32)) return rows_dot_scalar(t, base, stride, n_rows, q, N, out);
  __m256 vq[8];
  for (int i = 0; i < 8; ++i) vq[i] = _mm256_loadu_ps(q + 8 * i);
  for (int64_t s = 0; s < n_rows; ++s) {
    const uint8_t* r = base + s * stride;
    __m256 a = _mm256_setzero_ps();
    for (int i = 0; i < 8; ++i) {
      const __m256 x = t == DType::F16 ? load_f16(reinterpret_cast<const uint16_t*>(r) + 8 * i)
                                  : _mm256_loadu_ps(reinterpret_cast<const float*>(r) + 8 * i);
      a = _mm256_fmadd_ps(x, vq[i], a);
    }
    out[s] = hsum(a);
  }
}

RWKVX_AVX2 void rows_axpy(DType t, const uint8_t* base, size_t stride, int64_t n_rows, const float* p, int64_t N, float* acc) {
  if (N != 64 || (t != DType::F16 && t != DType::F32)) return rows_axpy_scalar(t, base, stride, n_rows, p, N, acc);
  __m256 va[8];
  for (int i = 0; i < 8; ++i) va[i] = _mm256_loadu_ps(acc + 8 * i);
  for (int64_t s = 0; s < n_rows; ++s) {
    if (p[s] == 0.f) continue;
    const uint8_t* r = base + s * stride;
    const __m256 ps = _mm256_set1_ps(p[s]);
    for (int i = 0; i < 8; ++i) {
      const __m256 x = t == DType::F16 ? load_f16(reinterpret_cast<const uint16_t*>(r) + 8 * i)
                                  : _mm256_loadu_ps(reinterpret_cast<const float*>(r) + 8 * i);
      va[i] = _mm256_fmadd_ps(ps, x, va[i]);
    }
  }
  for (int i = 0; i < 8; ++i) _mm256_storeu_ps(acc + 8 * i, va[i]);
}

// Head size 64: a state row is eight registers.
RWKVX_AVX2 void wkv7_head(int64_t T, int64_t N, int64_t ld, const float* r, const float* w, const float* k,
                          const float* v, const float* a, const float* b, float* S, float* y) {
  if (N != 64) return wkv7_head_scalar(T, N, ld, r, w, k, v, a, b, S, y);
  for (int64_t t = 0; t < T; ++t) {
    const int64_t o = t * ld;
    for (int64_t i = 0; i < 64; ++i) {
      float* si = S + i * 64;
      __m256 dsa = _mm256_setzero_ps();
      for (int q = 0; q < 8; ++q) dsa = _mm256_fmadd_ps(_mm256_loadu_ps(si + 8 * q), _mm256_loadu_ps(a + o + 8 * q), dsa);
      const __m256 sa = _mm256_set1_ps(hsum(dsa));
      const __m256 vi = _mm256_set1_ps(v[o + i]);
      __m256 acc = _mm256_setzero_ps();
      for (int q = 0; q < 8; ++q) {
        const __m256 s = _mm256_loadu_ps(si + 8 * q);
        const __m256 nv = _mm256_fmadd_ps(vi, _mm256_loadu_ps(k + o + 8 * q),
                                          _mm256_fmadd_ps(sa, _mm256_loadu_ps(b + o + 8 * q), _mm256_mul_ps(s, _mm256_loadu_ps(w + o + 8 * q))));
        _mm256_storeu_ps(si + 8 * q, nv);
        acc = _mm256_fmadd_ps(nv, _mm256_loadu_ps(r + o + 8 * q), acc);
      }
      y[o + i] = hsum(acc);
    }
  }
}

const KernelSet kAvx2 = {"avx2", dot_f32, dot_f16, dot_bf16, dot_q8_0, gemm_f32, nullptr, to_f32, rows_dot, rows_axpy, wkv7_head};

}  // namespace

const KernelSet* avx2_kernels() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) return &kAvx2;
  return nullptr;
}

}  // namespace rwkvx
#else
#include "kernels.h"
namespace rwkvx {
const KernelSet* avx2_kernels() { return nullptr; }
}  // namespace rwkvx
#endif
