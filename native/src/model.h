// A loaded model: hyper-parameters, weights (views into the mapped GGUF file,
// small vectors converted to fp32 copies) and the tokenizer.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tensor.h"
#include "tokenizer.h"

namespace rwkvx {

class GgufReader;

enum class Arch { Rwkv7, RwkvX };

struct HParams {
  Arch arch = Arch::Rwkv7;
  int n_embd = 0;       // C
  int n_layer = 0;      // RWKV-7 blocks
  int n_head = 0;       // C / head_size
  int head_size = 64;   // N
  int n_ffn = 0;        // F
  int n_vocab = 0;      // rows of token_embd / output
  int lora_w = 0, lora_a = 0, lora_v = 0, lora_g = 0;
  float ln_eps = 1e-5f;
  float lnx_eps = 64e-5f;  // GroupNorm eps of the time-mix output
  int64_t context_length = 0;
  // RWKV-X
  int n_attn = 0;                 // attention blocks
  int attn_chunk = 2048;          // B
  int attn_top_k = 3;             // including the own chunk
  std::vector<int> attn_after;    // attention block j runs after RWKV block attn_after[j]
};

// Matrices are TensorViews in GGUF orientation: ne = [in, out], i.e. row-major
// [out][in], so y = W x is one dot product per row. That holds for the Linear
// weights and for the LoRA matrices (w1 ne [C, Dw] → y[Dw] = w1 x).
struct Rwkv7Layer {
  std::vector<float> ln1_w, ln1_b, ln2_w, ln2_b;
  std::vector<float> x_r, x_w, x_k, x_v, x_a, x_g;  // token-shift mixes [C]
  std::vector<float> w0, a0, v0;                    // LoRA biases [C]
  std::vector<float> k_k, k_a, r_k;                 // [C] (r_k flattened [H*N])
  std::vector<float> lnx_w, lnx_b;                  // GroupNorm affine [C]
  std::vector<float> ffn_x_k;                       // [C]
  TensorView w1, w2, a1, a2, v1, v2, g1, g2;         // v1/v2 empty (data null) in layer 0 if absent
  TensorView wr, wk, wv, wo;                         // [C, C]
  TensorView ffn_key, ffn_value;                     // ne [C, F] and [F, C]
};

struct AttnLayer {
  std::vector<float> ln1_w, ln1_b, ln2_w, ln2_b;
  TensorView wq, wk, wv, wo;          // [C, C]
  std::vector<float> ffn_x_k;         // [C]
  TensorView ffn_key, ffn_value;
};

struct Model {
  HParams hp;
  std::string name;
  std::vector<float> ln0_w, ln0_b, lnout_w, lnout_b;
  TensorView emb;   // token_embd, ne [C, V]
  TensorView head;  // output, ne [C, V]
  std::vector<Rwkv7Layer> layers;
  std::vector<AttnLayer> attn;
  Tokenizer tokenizer;
  std::shared_ptr<GgufReader> file;   // keeps the mapping alive
  uint64_t fingerprint = 0;           // hash of hparams + tensor shapes/types, for state blobs
  uint64_t weight_bytes = 0;
  int64_t n_params = 0;
};

// Loads and validates a GGUF model (architectures "rwkv7" and "rwkvx").
// Throws rwkvx::Error naming the problem (missing tensor, wrong shape, ...).
std::unique_ptr<Model> load_model(const std::string& path, bool use_mmap);

}  // namespace rwkvx
