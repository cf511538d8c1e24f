// Ceilings measured in the same run as a benchmark: device-to-device copy
// bandwidth, the own tensor-core GEMM rate, and cuBLAS's bf16 GEMM rate.
// cuBLAS is opened with dlopen at run time (prototypes declared here), so the
// engine never links against it and loads where it is absent.
#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "common.cuh"
#include "cublas_dl.h"

namespace rwkvx {
namespace cuda {

namespace {

__global__ void fill_random_bf16(__nv_bfloat16* p, size_t n, uint32_t seed) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    uint32_t x = static_cast<uint32_t>(i) * 2654435761u ^ seed;
    x ^= x >> 15; x *= 2246822519u; x ^= x >> 13; x *= 3266489917u; x ^= x >> 16;
    p[i] = __float2bfloat16_rn((x >> 8) * (1.f / 16777216.f) - 0.5f);
  }
}

struct Events {
  cudaEvent_t a = nullptr, b = nullptr;
  Events() { ck(cudaEventCreate(&a), "event"); ck(cudaEventCreate(&b), "event"); }
  ~Events() { cudaEventDestroy(a); cudaEventDestroy(b); }
};

// Median seconds of `reps` timed runs of fn after `warm` untimed ones.
template <typename F>
double median_time(F&& fn, int warm, int reps) {
  Events ev;
  for (int i = 0; i < warm; ++i) fn();
  ck(cudaDeviceSynchronize(), "warm-up");
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    ck(cudaEventRecord(ev.a, nullptr), "event");
    fn();
    ck(cudaEventRecord(ev.b, nullptr), "event");
    ck(cudaEventSynchronize(ev.b), "event");
    float ms = 0;
    ck(cudaEventElapsedTime(&ms, ev.a, ev.b), "event");
    t.push_back(ms / 1e3);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

struct Dev {
  void* p;
  explicit Dev(size_t n) : p(dev_alloc(n, "probe buffer")) {}
  ~Dev() { dev_free(p); }
};

}  // namespace

double measure_copy_bandwidth(size_t bytes) {
  Dev a(bytes), b(bytes);
  dev_fill(a.p, 1, bytes, nullptr);
  const double t = median_time([&] { ck(cudaMemcpyAsync(b.p, a.p, bytes, cudaMemcpyDeviceToDevice, nullptr), "copy"); }, 2, 9);
  return 2.0 * bytes / t;  // read + write
}

double measure_gemm_rate(int64_t M, int64_t N, int64_t K) {
  Dev A(static_cast<size_t>(M * K) * 2), B(static_cast<size_t>(N * K) * 2), Y(static_cast<size_t>(M * N) * 4);
  fill_random_bf16<<<1024, 256>>>(static_cast<__nv_bfloat16*>(A.p), static_cast<size_t>(M * K), 1);
  fill_random_bf16<<<1024, 256>>>(static_cast<__nv_bfloat16*>(B.p), static_cast<size_t>(N * K), 2);
  ck_launch("fill");
  const double t = median_time([&] { gemm_half(A.p, B.p, static_cast<float*>(Y.p), M, N, K, true, nullptr); }, 2, 7);
  return 2.0 * M * N * K / t;
}

double measure_cublas_rate(int64_t M, int64_t N, int64_t K, std::string* why) {
  const CublasApi& api = cublas_api();
  if (!api.ok()) {
    *why = api.why;
    return -1;
  }
  CublasApi::Handle h = nullptr;
  if (api.create(&h) != 0) {
    *why = "cublasCreate failed";
    return -1;
  }
  double rate = -1;
  {
    Dev A(static_cast<size_t>(M * K) * 2), B(static_cast<size_t>(N * K) * 2), Y(static_cast<size_t>(M * N) * 4);
    fill_random_bf16<<<1024, 256>>>(static_cast<__nv_bfloat16*>(A.p), static_cast<size_t>(M * K), 3);
    fill_random_bf16<<<1024, 256>>>(static_cast<__nv_bfloat16*>(B.p), static_cast<size_t>(N * K), 4);
    ck_launch("fill");
    const float one = 1.f, zero = 0.f;
    int st = 0;
    // Row-major Y[M][N] = A[M][K] B[N][K]ᵀ is column-major Yᵀ = Bᵀ A.
    auto run = [&] {
      st |= api.gemm_ex(h, kCublasOpT, kCublasOpN, static_cast<int>(N), static_cast<int>(M), static_cast<int>(K), &one,
                        B.p, kCudaR16BF, static_cast<int>(K), A.p, kCudaR16BF, static_cast<int>(K), &zero, Y.p,
                        kCudaR32F, static_cast<int>(N), kCublasCompute32F, kCublasGemmDefault);
    };
    const double t = median_time(run, 2, 7);
    if (st == 0) rate = 2.0 * M * N * K / t;
    else *why = "cublasGemmEx returned an error";
  }
  api.destroy(h);
  return rate;
}

}  // namespace cuda
}  // namespace rwkvx

namespace rwkvx {
namespace cuda {

const CublasApi& cublas_api() {
  static const CublasApi api = [] {
    CublasApi a;
    std::vector<std::string> names;
    if (const char* e = std::getenv("RWKVX_CUBLAS")) names.push_back(e);
    for (const char* n : {"libcublas.so.13", "libcublas.so.12", "/usr/local/cuda/lib64/libcublas.so.13",
                          "/usr/local/cuda/lib64/libcublas.so.12", "libcublas.so"})
      names.push_back(n);
    void* lib = nullptr;
    std::string errs;
    for (const auto& n : names) {
      if ((lib = dlopen(n.c_str(), RTLD_NOW | RTLD_LOCAL)) != nullptr) break;
      errs += (errs.empty() ? "" : "; ") + std::string(dlerror());
    }
    if (!lib) {
      a.why = "cuBLAS not found (" + errs + ")";
      return a;
    }
    a.create = reinterpret_cast<decltype(a.create)>(dlsym(lib, "cublasCreate_v2"));
    a.destroy = reinterpret_cast<decltype(a.destroy)>(dlsym(lib, "cublasDestroy_v2"));
    a.set_stream = reinterpret_cast<decltype(a.set_stream)>(dlsym(lib, "cublasSetStream_v2"));
    a.gemm_ex = reinterpret_cast<decltype(a.gemm_ex)>(dlsym(lib, "cublasGemmEx"));
    if (!a.create || !a.destroy || !a.set_stream || !a.gemm_ex) {
      a.gemm_ex = nullptr;
      a.why = "cuBLAS lacks cublasCreate_v2 / cublasSetStream_v2 / cublasGemmEx";
    }
    return a;
  }();
  return api;
}

}  // namespace cuda
}  // namespace rwkvx
