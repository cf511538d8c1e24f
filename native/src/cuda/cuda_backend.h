// The CUDA backend as seen from plain C++ (no CUDA headers): probing for a
// usable GPU, making the per-model backend that uploads the weights and makes
// CudaExecutors, and a few device-memory helpers for tests and benchmarks.
// Compiled only when the engine is built with RWKVX_CUDA=1.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "executor.h"

namespace rwkvx {
namespace cuda {

struct Probe {
  bool ok = false;         // a device of that index exists and a context can be made
  std::string name;        // "NVIDIA H100 80GB HBM3"
  std::string why;         // reason when !ok (driver missing, no device, ...)
  int cc_major = 0, cc_minor = 0, sm_count = 0;
  size_t total_bytes = 0, free_bytes = 0;
};

// Never throws. Loads nothing beyond the statically linked CUDA runtime; the
// driver (libcuda.so.1) is found at run time by the runtime itself.
Probe probe(int device);

// Uploads the model's weights to `device` and returns the factory the model's
// Runtime keeps (sessions then get CudaExecutors). Throws rwkvx::Error:
// RWKVX_ERR_DEVICE (no usable GPU), RWKVX_ERR_OUT_OF_MEMORY (weights do not
// fit; nothing stays allocated), RWKVX_ERR_UNSUPPORTED (head size != 64, ...).
// `summary` receives a line like "weights 380.2 MB on cuda:0, 79.1 GB free".
std::unique_ptr<ExecutorFactory> make_backend(const Model& model, int device, std::string* summary);

// Device bytes a CUDA session of this model needs before any KV page: state,
// decode workspace (reported in model info).
size_t session_base_bytes(const Model& model);

}  // namespace cuda
}  // namespace rwkvx
