// libFuzzer target: GGUF parsing, tensor decoding and (for inputs that parse
// and name an architecture) the whole model loader. Any input must end in
// success or an rwkvx::Error; sanitizers catch everything else.
#include <unistd.h>

#include <cstdio>
#include <string>

#include "error.h"
#include "gguf.h"
#include "model.h"
#include "quant.h"

using namespace rwkvx;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::shared_ptr<GgufReader> g;
  try {
    g = GgufReader::from_memory(data, size);
  } catch (const Error&) {
    return 0;
  }
  // Everything the reader accepted must be readable inside the buffer.
  for (const TensorView& t : g->tensors()) {
    if (t.nelements() <= (1 << 16)) (void)tensor_to_f32(t);
  }
  for (const auto& kv : g->metadata()) {
    try {
      (void)g->get_int(kv.first, 0);
    } catch (const Error&) {
    }
    try {
      (void)g->get_float(kv.first, 0);
    } catch (const Error&) {
    }
  }
  if (g->get("general.architecture") == nullptr) return 0;
  // The loader takes a path: go through a per-process file in memory-backed /dev/shm when present.
  static const std::string path = (access("/dev/shm", W_OK) == 0 ? std::string("/dev/shm") : std::string("/tmp")) +
                                  "/fuzz-gguf-" + std::to_string(getpid()) + ".gguf";
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  {  // (the read-into-memory path differs only in how the bytes arrive: tests cover it)
    try {
      auto m = load_model(path, true);
      // A loaded model's tokenizer must work on anything.
      if (m->tokenizer.n_vocab() > 0) {
        try {
          (void)m->tokenizer.encode(reinterpret_cast<const char*>(data), size < 256 ? size : 256);
        } catch (const Error&) {
        }
      }
    } catch (const Error&) {
    }
  }
  return 0;
}
