// cuBLAS opened at run time with dlopen (never linked): the few entry points
// the engine uses, declared here. RWKVX_CUBLAS names the library file;
// otherwise libcublas.so.13/.12 are tried on the loader's path and in
// /usr/local/cuda/lib64. Used by the benchmark's GEMM rate and, with
// RWKVX_CUDA_GEMM=cublas, as the prefill matrix path for F16/BF16 weights.
#pragma once
#include <string>

namespace rwkvx {
namespace cuda {

struct CublasApi {
  using Handle = void*;
  int (*create)(Handle*) = nullptr;
  int (*destroy)(Handle) = nullptr;
  int (*set_stream)(Handle, void*) = nullptr;
  int (*gemm_ex)(Handle, int, int, int, int, int, const void*, const void*, int, int, const void*, int, int,
                 const void*, void*, int, int, int, int) = nullptr;
  std::string why;  // set when unavailable
  bool ok() const { return gemm_ex != nullptr; }
};
// Opened once per process; check ok().
const CublasApi& cublas_api();

constexpr int kCublasOpN = 0, kCublasOpT = 1, kCudaR16F = 2, kCudaR16BF = 14, kCudaR32F = 0, kCublasCompute32F = 68,
              kCublasGemmDefault = -1;

}  // namespace cuda
}  // namespace rwkvx
