// AVX-512F kernels (per-function target attributes; chosen only where the CPU
// has AVX-512F and F16C).
#if defined(__x86_64__)
// GCC 12 warns inside its own AVX-512 headers (uninitialized __Y): not our code.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>

#include "half.h"
#include "kernels.h"
#include "quant.h"

#define RWKVX_AVX512 __attribute__((target("avx512f,avx2,fma,f16c")))

namespace rwkvx {
namespace {

RWKVX_AVX512 float dot_f32(const float* x, const float* w, int64_t n) {
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(w + i), a0);
    a1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(w + i + 16), a1);
    a2 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 32), _mm512_loadu_ps(w + i + 32), a2);
    a3 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 48), _mm512_loadu_ps(w + i + 48), a3);
  }
  for (; i + 16 <= n; i += 16) a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(w + i), a0);
  float s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
  for (; i < n; ++i) s += x[i] * w[i];
  return s;
}

RWKVX_AVX512 inline __m512 load_f16(const uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
RWKVX_AVX512 inline __m512 load_bf16(const uint16_t* p) {
  const __m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
}

float f16_scalar(uint16_t h) { return fp16_to_f32(h); }
float bf16_scalar(uint16_t h) { return bf16_to_f32(h); }

template <__m512 (*Load)(const uint16_t*), float (*Scalar)(uint16_t)>
RWKVX_AVX512 inline float dot_half(const float* x, const uint16_t* w, int64_t n) {
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), Load(w + i), a0);
    a1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16), Load(w + i + 16), a1);
    a2 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 32), Load(w + i + 32), a2);
    a3 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 48), Load(w + i + 48), a3);
  }
  for (; i + 16 <= n; i += 16) a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), Load(w + i), a0);
  float s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
  for (; i < n; ++i) s += x[i] * Scalar(w[i]);
  return s;
}

RWKVX_AVX512 float dot_f16(const float* x, const uint16_t* w, int64_t n) { return dot_half<load_f16, f16_scalar>(x, w, n); }
RWKVX_AVX512 float dot_bf16(const float* x, const uint16_t* w, int64_t n) { return dot_half<load_bf16, bf16_scalar>(x, w, n); }

RWKVX_AVX512 inline __m512 load_q8x16(const int8_t* p) {
  return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}

RWKVX_AVX512 float dot_q8_0(const float* x, const void* w, int64_t n) {
  const BlockQ8* b = static_cast<const BlockQ8*>(w);
  __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0;
  int64_t i = 0;
  const int64_t nb = n / kQ8Block;
  for (; i + 2 <= nb; i += 2) {
    const float* xb = x + i * kQ8Block;
    __m512 s0 = _mm512_mul_ps(_mm512_loadu_ps(xb), load_q8x16(b[i].qs));
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(xb + 16), load_q8x16(b[i].qs + 16), s0);
    __m512 s1 = _mm512_mul_ps(_mm512_loadu_ps(xb + 32), load_q8x16(b[i + 1].qs));
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(xb + 48), load_q8x16(b[i + 1].qs + 16), s1);
    acc0 = _mm512_fmadd_ps(s0, _mm512_set1_ps(fp16_to_f32(b[i].d)), acc0);
    acc1 = _mm512_fmadd_ps(s1, _mm512_set1_ps(fp16_to_f32(b[i + 1].d)), acc1);
  }
  for (; i < nb; ++i) {
    const float* xb = x + i * kQ8Block;
    __m512 s0 = _mm512_mul_ps(_mm512_loadu_ps(xb), load_q8x16(b[i].qs));
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(xb + 16), load_q8x16(b[i].qs + 16), s0);
    acc0 = _mm512_fmadd_ps(s0, _mm512_set1_ps(fp16_to_f32(b[i].d)), acc0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

// 4 tokens × 6 weight rows per tile: 24 accumulators + 4 x + 1 w of 32 registers.
constexpr int kTT = 4, kTR = 6;

RWKVX_AVX512 void gemm_tile(const float* X, int64_t ldx, const float* W, int64_t ldw, float* Y, int64_t ldy, int64_t n) {
  __m512 c[kTT][kTR];
  for (int i = 0; i < kTT; ++i)
    for (int j = 0; j < kTR; ++j) c[i][j] = _mm512_setzero_ps();
  const int64_t n16 = n & ~int64_t(15);
  for (int64_t k = 0; k < n16; k += 16) {
    __m512 a[kTT];
    for (int i = 0; i < kTT; ++i) a[i] = _mm512_loadu_ps(X + i * ldx + k);
    for (int j = 0; j < kTR; ++j) {
      const __m512 b = _mm512_loadu_ps(W + j * ldw + k);
      for (int i = 0; i < kTT; ++i) c[i][j] = _mm512_fmadd_ps(a[i], b, c[i][j]);
    }
  }
  for (int i = 0; i < kTT; ++i)
    for (int j = 0; j < kTR; ++j) {
      float s = _mm512_reduce_add_ps(c[i][j]);
      for (int64_t k = n16; k < n; ++k) s += X[i * ldx + k] * W[j * ldw + k];
      Y[i * ldy + j] = s;
    }
}

RWKVX_AVX512 void gemm_f32(const float* X, int64_t ldx, const float* W, int64_t ldw, float* Y, int64_t ldy, int64_t T,
                           int64_t R, int64_t n) {
  int64_t t = 0;
  for (; t + kTT <= T; t += kTT) {
    int64_t r = 0;
    for (; r + kTR <= R; r += kTR) gemm_tile(X + t * ldx, ldx, W + r * ldw, ldw, Y + t * ldy + r, ldy, n);
    for (; r < R; ++r)
      for (int i = 0; i < kTT; ++i) Y[(t + i) * ldy + r] = dot_f32(X + (t + i) * ldx, W + r * ldw, n);
  }
  for (; t < T; ++t)
    for (int64_t r = 0; r < R; ++r) Y[t * ldy + r] = dot_f32(X + t * ldx, W + r * ldw, n);
}

RWKVX_AVX512 void to_f32(DType t, const uint8_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  switch (t) {
    case DType::F16: {
      const uint16_t* s = reinterpret_cast<const uint16_t*>(src);
      for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + i, load_f16(s + i));
      for (; i < n; ++i) dst[i] = fp16_to_f32(s[i]);
      return;
    }
    case DType::BF16: {
      const uint16_t* s = reinterpret_cast<const uint16_t*>(src);
      for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + i, load_bf16(s + i));
      for (; i < n; ++i) dst[i] = bf16_to_f32(s[i]);
      return;
    }
    case DType::Q8_0: {
      const BlockQ8* b = reinterpret_cast<const BlockQ8*>(src);
      for (int64_t j = 0; j < n / kQ8Block; ++j) {
        const __m512 d = _mm512_set1_ps(fp16_to_f32(b[j].d));
        _mm512_storeu_ps(dst + j * kQ8Block, _mm512_mul_ps(d, load_q8x16(b[j].qs)));
        _mm512_storeu_ps(dst + j * kQ8Block + 16, _mm512_mul_ps(d, load_q8x16(b[j].qs + 16)));
      }
      return;
    }
    case DType::F32:
      break;
  }
  dequantize_row(t, src, dst, n);
}

// Head size 64: a state row is four registers.
RWKVX_AVX512 void wkv7_head(int64_t T, int64_t N, int64_t ld, const float* r, const float* w, const float* k,
                            const float* v, const float* a, const float* b, float* S, float* y) {
  if (N != 64) return wkv7_head_scalar(T, N, ld, r, w, k, v, a, b, S, y);
  for (int64_t t = 0; t < T; ++t) {
    const int64_t o = t * ld;
    __m512 vr[4], vw[4], vk[4], va[4], vb[4];
    for (int q = 0; q < 4; ++q) {
      vr[q] = _mm512_loadu_ps(r + o + 16 * q);
      vw[q] = _mm512_loadu_ps(w + o + 16 * q);
      vk[q] = _mm512_loadu_ps(k + o + 16 * q);
      va[q] = _mm512_loadu_ps(a + o + 16 * q);
      vb[q] = _mm512_loadu_ps(b + o + 16 * q);
    }
    for (int64_t i = 0; i < 64; ++i) {
      float* si = S + i * 64;
      __m512 s[4];
      for (int q = 0; q < 4; ++q) s[q] = _mm512_loadu_ps(si + 16 * q);
      __m512 dsa = _mm512_mul_ps(s[0], va[0]);
      for (int q = 1; q < 4; ++q) dsa = _mm512_fmadd_ps(s[q], va[q], dsa);
      const __m512 sa = _mm512_set1_ps(_mm512_reduce_add_ps(dsa));
      const __m512 vi = _mm512_set1_ps(v[o + i]);
      __m512 acc = _mm512_setzero_ps();
      for (int q = 0; q < 4; ++q) {
        const __m512 nv = _mm512_fmadd_ps(vi, vk[q], _mm512_fmadd_ps(sa, vb[q], _mm512_mul_ps(s[q], vw[q])));
        _mm512_storeu_ps(si + 16 * q, nv);
        acc = _mm512_fmadd_ps(nv, vr[q], acc);
      }
      y[o + i] = _mm512_reduce_add_ps(acc);
    }
  }
}

// Rows of X times a packed block of up to 48 weight rows: each k step loads
// three registers of P and broadcasts one X value per token.
template <int Rows>
RWKVX_AVX512 inline void packed_tile(const float* X, int64_t ldx, const float* P, float* Y, int64_t ldy, int64_t n,
                                     __mmask16 m0, __mmask16 m1, __mmask16 m2, bool accumulate) {
  __m512 c[Rows][3];
  for (int i = 0; i < Rows; ++i) {
    if (accumulate) {
      c[i][0] = _mm512_maskz_loadu_ps(m0, Y + i * ldy);
      c[i][1] = _mm512_maskz_loadu_ps(m1, Y + i * ldy + 16);
      c[i][2] = _mm512_maskz_loadu_ps(m2, Y + i * ldy + 32);
    } else {
      c[i][0] = c[i][1] = c[i][2] = _mm512_setzero_ps();
    }
  }
  for (int64_t k = 0; k < n; ++k) {
    const float* pk = P + k * kPackWidth;
    const __m512 b0 = _mm512_loadu_ps(pk), b1 = _mm512_loadu_ps(pk + 16), b2 = _mm512_loadu_ps(pk + 32);
    for (int i = 0; i < Rows; ++i) {
      const __m512 a = _mm512_set1_ps(X[i * ldx + k]);
      c[i][0] = _mm512_fmadd_ps(a, b0, c[i][0]);
      c[i][1] = _mm512_fmadd_ps(a, b1, c[i][1]);
      c[i][2] = _mm512_fmadd_ps(a, b2, c[i][2]);
    }
  }
  for (int i = 0; i < Rows; ++i) {
    _mm512_mask_storeu_ps(Y + i * ldy, m0, c[i][0]);
    _mm512_mask_storeu_ps(Y + i * ldy + 16, m1, c[i][1]);
    _mm512_mask_storeu_ps(Y + i * ldy + 32, m2, c[i][2]);
  }
}

RWKVX_AVX512 void gemm_packed(const float* X, int64_t ldx, const float* P, float* Y, int64_t ldy, int64_t T, int64_t R,
                              int64_t n, bool accumulate) {
  auto mask = [R](int64_t from) -> __mmask16 {
    const int64_t k = std::max<int64_t>(0, std::min<int64_t>(16, R - from));
    return static_cast<__mmask16>((1u << k) - 1u);
  };
  const __mmask16 m0 = mask(0), m1 = mask(16), m2 = mask(32);
  int64_t t = 0;
  for (; t + 6 <= T; t += 6) packed_tile<6>(X + t * ldx, ldx, P, Y + t * ldy, ldy, n, m0, m1, m2, accumulate);
  for (; t < T; ++t) packed_tile<1>(X + t * ldx, ldx, P, Y + t * ldy, ldy, n, m0, m1, m2, accumulate);
}

// Head size 64 only; other sizes take the plain version.
RWKVX_AVX512 void rows_dot(DType t, const uint8_t* base, size_t stride, int64_t n_rows, const float* q, int64_t N, float* out) {
  if (N != 64 || (t != DType::F16 && t != DType::F32)) return rows_dot_scalar(t, base, stride, n_rows, q, N, out);
  __m512 vq[4];
  for (int i = 0; i < 4; ++i) vq[i] = _mm512_loadu_ps(q + 16 * i);
  for (int64_t s = 0; s < n_rows; ++s) {
    const uint8_t* r = base + s * stride;
    __m512 a = _mm512_setzero_ps();
    for (int i = 0; i < 4; ++i) {
      const __m512 x = t == DType::F16 ? load_f16(reinterpret_cast<const uint16_t*>(r) + 16 * i)
                                  : _mm512_loadu_ps(reinterpret_cast<const float*>(r) + 16 * i);
      a = _mm512_fmadd_ps(x, vq[i], a);
    }
    out[s] = _mm512_reduce_add_ps(a);
  }
}

RWKVX_AVX512 void rows_axpy(DType t, const uint8_t* base, size_t stride, int64_t n_rows, const float* p, int64_t N, float* acc) {
  if (N != 64 || (t != DType::F16 && t != DType::F32)) return rows_axpy_scalar(t, base, stride, n_rows, p, N, acc);
  __m512 va[4];
  for (int i = 0; i < 4; ++i) va[i] = _mm512_loadu_ps(acc + 16 * i);
  for (int64_t s = 0; s < n_rows; ++s) {
    if (p[s] == 0.f) continue;
    const uint8_t* r = base + s * stride;
    const __m512 ps = _mm512_set1_ps(p[s]);
    for (int i = 0; i < 4; ++i) {
      const __m512 x = t == DType::F16 ? load_f16(reinterpret_cast<const uint16_t*>(r) + 16 * i)
                                  : _mm512_loadu_ps(reinterpret_cast<const float*>(r) + 16 * i);
      va[i] = _mm512_fmadd_ps(ps, x, va[i]);
    }
  }
  for (int i = 0; i < 4; ++i) _mm512_storeu_ps(acc + 16 * i, va[i]);
}

const KernelSet kAvx512 = {"avx512", dot_f32, dot_f16, dot_bf16, dot_q8_0, gemm_f32, gemm_packed, to_f32, rows_dot, rows_axpy, wkv7_head};

}  // namespace

const KernelSet* avx512_kernels() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("f16c") && __builtin_cpu_supports("fma")) return &kAvx512;
  return nullptr;
}

}  // namespace rwkvx
#else
#include "kernels.h"
namespace rwkvx {
const KernelSet* avx512_kernels() { return nullptr; }
}  // namespace rwkvx
#endif
