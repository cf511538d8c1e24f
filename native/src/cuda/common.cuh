// Shared by the .cu files: error checks that throw rwkvx::Error, warp and
// block reductions, fp16/bf16 helpers.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "cuda_ops.h"
#include "error.h"

namespace rwkvx {
namespace cuda {

[[noreturn]] void fail_cuda(cudaError_t e, const char* what);

inline void ck(cudaError_t e, const char* what) {
  if (e != cudaSuccess) fail_cuda(e, what);
}
// After a kernel launch: launch-configuration errors are reported at once.
inline void ck_launch(const char* what) { ck(cudaGetLastError(), what); }

inline int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread
// gets the result. `red` is 32 floats of shared memory.
__device__ __forceinline__ float block_sum(float v, float* red) {
  const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
  v = warp_sum(v);
  __syncthreads();
  if (lane == 0) red[wid] = v;
  __syncthreads();
  float s = lane < nw ? red[lane] : 0.f;
  return warp_sum(s);
}

__device__ __forceinline__ float sigmoidf_(float x) { return 1.f / (1.f + expf(-x)); }

__device__ __forceinline__ float apply_act(float x, int act) {
  switch (act) {
    case kActTanh: return tanhf(x);
    case kActSigmoid: return sigmoidf_(x);
    case kActRelu2: { const float z = fmaxf(x, 0.f); return z * z; }
    default: return x;
  }
}

}  // namespace cuda
}  // namespace rwkvx
