#include "kernels.h"

#include <cstdlib>
#include <cstring>

namespace rwkvx {

const KernelSet& scalar_kernels() { return kScalarKernels; }

const KernelSet* kernels_for(const char* level) {
  if (std::strcmp(level, "scalar") == 0) return &kScalarKernels;
  if (std::strcmp(level, "avx2") == 0) return avx2_kernels();
  if (std::strcmp(level, "avx512") == 0) return avx512_kernels();
  return nullptr;
}

static const KernelSet& choose() {
  if (const char* forced = std::getenv("RWKVX_SIMD")) {
    if (const KernelSet* k = kernels_for(forced)) return *k;
  }
  if (const KernelSet* k = avx512_kernels()) return *k;
  if (const KernelSet* k = avx2_kernels()) return *k;
  return kScalarKernels;
}

const KernelSet& kernels() {
  static const KernelSet& chosen = choose();
  return chosen;
}

}  // namespace rwkvx
