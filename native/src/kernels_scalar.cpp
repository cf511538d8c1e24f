// Plain C++ kernels: the reference every SIMD level is tested against.
#include "half.h"
#include "kernels.h"
#include "quant.h"

namespace rwkvx {
namespace {

float dot_f32(const float* x, const float* w, int64_t n) {
  float s = 0.f;
  for (int64_t i = 0; i < n; ++i) s += x[i] * w[i];
  return s;
}

float dot_f16(const float* x, const uint16_t* w, int64_t n) {
  float s = 0.f;
  for (int64_t i = 0; i < n; ++i) s += x[i] * fp16_to_f32(w[i]);
  return s;
}

float dot_bf16(const float* x, const uint16_t* w, int64_t n) {
  float s = 0.f;
  for (int64_t i = 0; i < n; ++i) s += x[i] * bf16_to_f32(w[i]);
  return s;
}

float dot_q8_0(const float* x, const void* w, int64_t n) {
  const BlockQ8* b = static_cast<const BlockQ8*>(w);
  float s = 0.f;
  for (int64_t i = 0; i < n / kQ8Block; ++i) {
    float bs = 0.f;
    for (int j = 0; j < kQ8Block; ++j) bs += x[i * kQ8Block + j] * b[i].qs[j];
    s += bs * fp16_to_f32(b[i].d);
  }
  return s;
}

void gemm_f32(const float* X, int64_t ldx, const float* W, int64_t ldw, float* Y, int64_t ldy, int64_t T,
              int64_t R, int64_t n) {
  for (int64_t t = 0; t < T; ++t)
    for (int64_t r = 0; r < R; ++r) Y[t * ldy + r] = dot_f32(X + t * ldx, W + r * ldw, n);
}

void to_f32(DType t, const uint8_t* src, float* dst, int64_t n) { dequantize_row(t, src, dst, n); }

}  // namespace

void rows_dot_scalar(DType t, const uint8_t* base, size_t stride, int64_t n_rows, const float* q, int64_t N, float* out) {
  float row[256];
  for (int64_t s = 0; s < n_rows; ++s) {
    dequantize_row(t, base + s * stride, row, N);
    float d = 0.f;
    for (int64_t i = 0; i < N; ++i) d += q[i] * row[i];
    out[s] = d;
  }
}

void rows_axpy_scalar(DType t, const uint8_t* base, size_t stride, int64_t n_rows, const float* p, int64_t N, float* acc) {
  float row[256];
  for (int64_t s = 0; s < n_rows; ++s) {
    if (p[s] == 0.f) continue;
    dequantize_row(t, base + s * stride, row, N);
    for (int64_t i = 0; i < N; ++i) acc[i] += p[s] * row[i];
  }
}

void wkv7_head_scalar(int64_t T, int64_t N, int64_t ld, const float* r, const float* w, const float* k, const float* v,
                      const float* a, const float* b, float* S, float* y) {
  for (int64_t t = 0; t < T; ++t) {
    const int64_t o = t * ld;
    for (int64_t i = 0; i < N; ++i) {  // value row i
      float* si = S + i * N;
      float sa = 0.f;
      for (int64_t j = 0; j < N; ++j) sa += si[j] * a[o + j];
      const float vi = v[o + i];
      float acc = 0.f;
      for (int64_t j = 0; j < N; ++j) {
        const float nv = si[j] * w[o + j] + sa * b[o + j] + vi * k[o + j];
        si[j] = nv;
        acc += nv * r[o + j];
      }
      y[o + i] = acc;
    }
  }
}

const KernelSet kScalarKernels = {"scalar", dot_f32, dot_f16, dot_bf16, dot_q8_0, gemm_f32, nullptr, to_f32, rows_dot_scalar, rows_axpy_scalar, wkv7_head_scalar};

}  // namespace rwkvx
