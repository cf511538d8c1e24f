// libFuzzer target: the torch .pth reader (zip central directory, zip64, the
// pickle VM, tensor bounds). Any input must end in success or an
// rwkvx::Error; every tensor it accepts must decode inside the buffer.
#include <string>

#include "convert_source.h"
#include "error.h"

using namespace rwkvx;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const Source s = read_torch_pth_memory(data, size, "fuzz");
    for (const auto& kv : s.tensors) {
      if (kv.second.numel() <= (1 << 16)) (void)kv.second.to_f32();
    }
  } catch (const Error&) {
  }
  return 0;
}
