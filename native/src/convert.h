// Checkpoint conversion to GGUF: official RWKV-7 / RWKV-X .pth, fla-hub
// .safetensors, or an existing GGUF (re-typed). Implementation: convert*.cpp.
#pragma once
#include <string>

#include "rwkvx.h"
#include "tensor.h"

namespace rwkvx {

struct ConvertOptions {
  DType matrix_type = DType::F16;  // type of the large matrices (Q8_0 falls back to F16 where ne[0] % 32 != 0)
  std::string vocab_path;          // World-format vocabulary file (required unless the input is a GGUF)
  std::string name;                // general.name
  int attn_chunk_size = 2048;      // RWKV-X
  int attn_top_k = 3;              // RWKV-X
  rwkvx_progress_fn progress = nullptr;  // unit: tensors; nonzero return aborts
  void* progress_user_data = nullptr;
};

ConvertOptions convert_options_from(const rwkvx_convert_params& p);

// Throws rwkvx::Error; never leaves a partial output file behind.
void convert_model(const std::string& in_path, const std::string& out_path, const ConvertOptions& opt);

}  // namespace rwkvx
