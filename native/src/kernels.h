// The innermost loops, in one set per instruction-set level. The level is
// chosen once at run time (AVX-512, AVX2+FMA+F16C, or scalar); RWKVX_SIMD=
// scalar|avx2|avx512 forces a level (tests compare every level to scalar).
#pragma once
#include <cstddef>
#include <cstdint>

#include "tensor.h"

namespace rwkvx {

constexpr int64_t kPackWidth = 48;  // weight rows per packed block (3 AVX-512 registers)

struct KernelSet {
  const char* name;
  // dot(x, row) for a row of n elements of the given type (n % 32 == 0 for Q8_0).
  float (*dot_f32)(const float* x, const float* w, int64_t n);
  float (*dot_f16)(const float* x, const uint16_t* w, int64_t n);
  float (*dot_bf16)(const float* x, const uint16_t* w, int64_t n);
  float (*dot_q8_0)(const float* x, const void* w, int64_t n);
  // Y[t * ldy + r] = dot(X[t * ldx ...], W[r * ldw ...]) for t < T, r < R; fp32.
  void (*gemm_f32)(const float* X, int64_t ldx, const float* W, int64_t ldw, float* Y, int64_t ldy,
                   int64_t T, int64_t R, int64_t n);
  // Optional (null where the level has none): Y[t][r] (+)= Σ_k X[t][k] · P[k][r]
  // for r < R ≤ kPackWidth, with P packed k-major, kPackWidth floats per k
  // (columns ≥ R zero). The outer-product form needs no horizontal sums.
  void (*gemm_packed)(const float* X, int64_t ldx, const float* P, float* Y, int64_t ldy, int64_t T, int64_t R,
                      int64_t n, bool accumulate);
  // n elements of a row stored as type t → fp32.
  void (*to_f32)(DType t, const uint8_t* src, float* dst, int64_t n);
  // Attention over stored rows (F16 or F32) at base + s·stride bytes, N
  // elements each: out[s] = q · row_s, and acc += Σ_s p[s] · row_s.
  void (*rows_dot)(DType t, const uint8_t* base, size_t stride, int64_t n_rows, const float* q, int64_t N, float* out);
  void (*rows_axpy)(DType t, const uint8_t* base, size_t stride, int64_t n_rows, const float* p, int64_t N, float* acc);
  // One head of the WKV-7 recurrence over T tokens (see wkv7_seq in ops.h):
  // vectors of head size N at stride `ld` between tokens; S is N×N [value][key].
  void (*wkv7_head)(int64_t T, int64_t N, int64_t ld, const float* r, const float* w, const float* k, const float* v,
                    const float* a, const float* b, float* S, float* y);
};

// The plain versions, shared by the SIMD sets for what they do not specialize.
void rows_dot_scalar(DType t, const uint8_t* base, size_t stride, int64_t n_rows, const float* q, int64_t N, float* out);
void rows_axpy_scalar(DType t, const uint8_t* base, size_t stride, int64_t n_rows, const float* p, int64_t N, float* acc);
void wkv7_head_scalar(int64_t T, int64_t N, int64_t ld, const float* r, const float* w, const float* k, const float* v,
                      const float* a, const float* b, float* S, float* y);

const KernelSet& kernels();                 // the chosen level
const KernelSet* kernels_for(const char* level);  // "scalar", "avx2", "avx512"; null if unsupported here
const KernelSet& scalar_kernels();

extern const KernelSet kScalarKernels;
const KernelSet* avx2_kernels();    // null when not compiled/supported
const KernelSet* avx512_kernels();

inline float dot_row(const KernelSet& k, DType t, const uint8_t* row, const float* x, int64_t n) {
  switch (t) {
    case DType::F32: return k.dot_f32(x, reinterpret_cast<const float*>(row), n);
    case DType::F16: return k.dot_f16(x, reinterpret_cast<const uint16_t*>(row), n);
    case DType::BF16: return k.dot_bf16(x, reinterpret_cast<const uint16_t*>(row), n);
    case DType::Q8_0: return k.dot_q8_0(x, row, n);
  }
  return 0.f;
}

}  // namespace rwkvx
