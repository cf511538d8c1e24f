// Writes GGUF models of a given shape with random weights (official names and
// layout), for benchmarks and tests that need a model of real size.
#pragma once
#include <cstdint>
#include <string>

#include "tensor.h"

namespace rwkvx {

struct RandomModelShape {
  int n_embd = 768, n_layer = 12, n_ffn = 3072, n_vocab = 65536;
  int lora_w = 64, lora_a = 64, lora_v = 32, lora_g = 128;
  int n_attn = 0, attn_chunk = 2048, attn_top_k = 3;
  DType matrix_type = DType::F16;
  uint64_t seed = 1;
};

// Named shapes: "0.1b" (L12 D768), "0.4b" (L24 D1024), "1.5b" (L24 D2048),
// "2.9b" (L32 D2560), "x0.22b" (0.1B + 4 attention blocks). Returns false if unknown.
bool random_model_shape(const std::string& name, RandomModelShape& out);
void write_random_model(const std::string& path, const RandomModelShape& shape);

}  // namespace rwkvx
