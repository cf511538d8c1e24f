// Device memory, streams, matrix upload (Q8_0 split into values and scales).
#include <cstring>
#include <vector>

#include "common.cuh"
#include "quant.h"

namespace rwkvx {
namespace cuda {

void fail_cuda(cudaError_t e, const char* what) {
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();  // clear the (non-sticky) error
    fail(RWKVX_ERR_OUT_OF_MEMORY, "CUDA: out of device memory in %s", what);
  }
  fail(RWKVX_ERR_DEVICE, "CUDA error in %s: %s (%s)", what, cudaGetErrorName(e), cudaGetErrorString(e));
}

void* dev_alloc(size_t bytes, const char* what) {
  if (bytes == 0) bytes = 16;
  void* p = nullptr;
  const cudaError_t e = cudaMalloc(&p, bytes);
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    fail(RWKVX_ERR_OUT_OF_MEMORY,
         "CUDA: out of device memory allocating %.1f MB for %s (%.1f MB free of %.1f MB)", bytes / 1e6, what,
         free_b / 1e6, total_b / 1e6);
  }
  ck(e, what);
  return p;
}

void dev_free(void* p) {
  if (p != nullptr) cudaFree(p);  // errors here are reported by the next checked call
}

void to_device(void* dst, const void* src, size_t bytes, Stream s) {
  ck(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, s), "copy to device");
  ck(cudaStreamSynchronize(s), "copy to device");
}

void to_host(void* dst, const void* src, size_t bytes, Stream s) {
  ck(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, s), "copy to host");
  ck(cudaStreamSynchronize(s), "copy to host");
}

void dev_copy(void* dst, const void* src, size_t bytes, Stream s) {
  if (bytes) ck(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, s), "device copy");
}

void dev_fill(void* p, int byte, size_t bytes, Stream s) {
  if (bytes) ck(cudaMemsetAsync(p, byte, bytes, s), "device memset");
}

void stream_sync(Stream s) { ck(cudaStreamSynchronize(s), "stream synchronize"); }

Stream stream_create() {
  cudaStream_t s = nullptr;
  ck(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "stream create");
  return s;
}

void stream_destroy(Stream s) {
  if (s != nullptr) cudaStreamDestroy(s);
}

void set_device(int device) { ck(cudaSetDevice(device), "set device"); }

void check(const char* what) {
  ck(cudaGetLastError(), what);
  ck(cudaDeviceSynchronize(), what);
}

size_t DevMat::bytes() const {
  if (type == DType::Q8_0) return static_cast<size_t>(rows * cols) + static_cast<size_t>(rows * (cols / kQ8Block)) * 2;
  return static_cast<size_t>(rows) * dtype_row_bytes(type, cols);
}

DevMat upload_matrix(const TensorView& t, const char* what) {
  DevMat m;
  m.type = t.type;
  m.rows = t.rows();
  m.cols = t.cols();
  if (t.type != DType::Q8_0) {
    const size_t n = static_cast<size_t>(m.rows) * t.row_bytes();
    m.data = dev_alloc(n, what);
    try {
      to_device(m.data, t.data, n);
    } catch (...) {
      dev_free(m.data);
      throw;
    }
    return m;
  }
  if (m.cols % kQ8Block != 0) fail(RWKVX_ERR_SHAPE, "%s: Q8_0 rows of %lld values", what, (long long)m.cols);
  const int64_t nb = m.cols / kQ8Block;
  std::vector<int8_t> qs(static_cast<size_t>(m.rows * m.cols));
  std::vector<uint16_t> d(static_cast<size_t>(m.rows * nb));
  for (int64_t r = 0; r < m.rows; ++r) {
    const BlockQ8* b = reinterpret_cast<const BlockQ8*>(t.row(r));
    for (int64_t i = 0; i < nb; ++i) {
      d[static_cast<size_t>(r * nb + i)] = b[i].d;
      std::memcpy(&qs[static_cast<size_t>(r * m.cols + i * kQ8Block)], b[i].qs, kQ8Block);
    }
  }
  m.data = dev_alloc(qs.size(), what);
  try {
    m.scales = dev_alloc(d.size() * 2, what);
    to_device(m.data, qs.data(), qs.size());
    to_device(m.scales, d.data(), d.size() * 2);
  } catch (...) {
    dev_free(m.data);
    dev_free(m.scales);
    throw;
  }
  return m;
}

void free_matrix(DevMat& m) {
  dev_free(m.data);
  dev_free(m.scales);
  m.data = m.scales = nullptr;
}

}  // namespace cuda
}  // namespace rwkvx
