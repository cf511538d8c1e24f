// Checkpoint conversion to GGUF: official RWKV-7 / RWKV-X .pth, fla-hub
// .safetensors (file or folder), or an existing GGUF (re-typed). Writes
// architecture rwkv7 or rwkvx with llama.cpp's tensor names (docs/gguf-rwkvx.md).
// Implementation: convert*.cpp, zip_reader.cpp, pickle_torch.cpp, safetensors_reader.cpp.
#pragma once
#include <string>
#include <vector>

#include "rwkvx.h"
#include "tensor.h"

namespace rwkvx {

struct ConvertOptions {
  DType matrix_type = DType::F16;  // type of the large matrices (Q8_0 falls back to F16 where ne[0] % 32 != 0);
                                   // norms, 1-D vectors, w1/w2 and lerp_fused are always F32
  std::string vocab_path;          // World-format vocabulary file (required unless the input is a GGUF or a
                                   // fla folder that holds rwkv_vocab_v20230424.txt); for a GGUF it replaces the vocabulary
  std::string name;                // general.name; empty = the input's stem (GGUF input: keep its name)
  int attn_chunk_size = 0;         // RWKV-X chunk size B; 0 = 2048 (GGUF input: keep the file's value)
  int attn_top_k = 0;              // RWKV-X top-k, own chunk included; 0 = 3 (GGUF input: keep the file's value)
  std::vector<int> attn_after;     // RWKV-X placement override: attention block j runs after RWKV block
                                   // attn_after[j]; empty = groups of L/N_A (GGUF input: keep the file's value)
  rwkvx_progress_fn progress = nullptr;  // unit: tensors; nonzero return aborts
  void* progress_user_data = nullptr;
};

ConvertOptions convert_options_from(const rwkvx_convert_params& p);

// Throws rwkvx::Error: RWKVX_ERR_IO, _FORMAT (corrupt input), _UNSUPPORTED
// (compressed zip entries, legacy torch files, unknown dtypes), _SHAPE
// (missing / mis-shaped tensors), _INVALID_ARGUMENT (no vocabulary),
// _ABORTED. Never leaves a partial output file (or its .tmp) behind.
void convert_model(const std::string& in_path, const std::string& out_path, const ConvertOptions& opt);

}  // namespace rwkvx
