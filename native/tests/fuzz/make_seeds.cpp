// Writes small seed inputs for the fuzzers (see docs/fuzzing.md):
//   make_seeds <dir>  →  <dir>/gguf/*, <dir>/tokenizer/*
// The .pth seeds come from tools/reference/pth_io.py (an independent writer).
#include <sys/stat.h>

#include <cstdio>
#include <string>
#include <vector>

#include "gguf.h"
#include "quant.h"
#include "tokenizer.h"

using namespace rwkvx;

namespace {

void put(const std::string& p, const std::string& s) {
  FILE* f = std::fopen(p.c_str(), "wb");
  if (!f) return;
  std::fwrite(s.data(), 1, s.size(), f);
  std::fclose(f);
}

void tensor(GgufWriter& w, const std::string& name, std::vector<int64_t> ne, DType t) {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  std::vector<float> v(static_cast<size_t>(n));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>((i * 37) % 17) / 8.f - 1.f;
  std::vector<uint8_t> bytes;
  for (int64_t r = 0; r < n / ne[0]; ++r) {
    const std::vector<uint8_t> row = encode_row(t, v.data() + r * ne[0], ne[0]);
    bytes.insert(bytes.end(), row.begin(), row.end());
  }
  w.add_tensor(name, t, ne, bytes);
}

// A complete, loadable model of width 32 (head size 32), 2 blocks, LoRA rank 8.
void tiny_model(const std::string& path, bool rwkvx) {
  const std::string arch = rwkvx ? "rwkvx" : "rwkv7";
  const std::string a = arch + ".";
  const int64_t C = 32, F = 32, V = 20, D = 8, L = 2;
  GgufWriter w;
  w.set_str("general.architecture", arch);
  w.set_u32(a + "embedding_length", C);
  w.set_u32(a + "block_count", L);
  w.set_u32(a + "feed_forward_length", F);
  w.set_u32(a + "wkv.head_size", 32);
  if (rwkvx) {
    w.set_u32(a + "attention.block_count", 1);
    w.set_arr_i32(a + "attention.after_block", {1});
  }
  std::vector<std::string> toks = {"<s>"};
  for (const char* t : {"a", "b", "\\n", "ab", "\\xe4\\xbd", "\\xa0", "[PAD7]"}) toks.push_back(t);
  w.set_str("tokenizer.ggml.model", "rwkv");
  w.set_arr_str("tokenizer.ggml.tokens", toks);
  tensor(w, "token_embd.weight", {C, V}, DType::F16);
  for (const char* n : {"token_embd_norm.weight", "token_embd_norm.bias", "output_norm.weight", "output_norm.bias"}) tensor(w, n, {C}, DType::F32);
  for (int i = 0; i < L; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    for (const char* n : {"attn_norm.weight", "attn_norm.bias", "attn_norm_2.weight", "attn_norm_2.bias", "time_mix_w0.weight",
                          "time_mix_a0.weight", "time_mix_v0.weight", "time_mix_k_k.weight", "time_mix_k_a.weight",
                          "time_mix_r_k.weight", "time_mix_ln.weight", "time_mix_ln.bias", "channel_mix_lerp_k.weight"}) {
      tensor(w, p + n, {C}, DType::F32);
    }
    tensor(w, p + "time_mix_lerp_fused.weight", {C, 1, 1, 6}, DType::F32);
    for (const char* l : {"w", "a", "v", "g"}) {
      tensor(w, p + "time_mix_" + l + "1.weight", {C, D}, DType::F32);
      tensor(w, p + "time_mix_" + l + "2.weight", {D, C}, DType::F16);
    }
    for (const char* n : {"receptance", "key", "value", "output"}) tensor(w, p + "time_mix_" + n + ".weight", {C, C}, DType::Q8_0);
    tensor(w, p + "channel_mix_key.weight", {C, F}, DType::BF16);
    tensor(w, p + "channel_mix_value.weight", {F, C}, DType::F16);
  }
  if (rwkvx) {
    for (const char* n : {"attn_norm.weight", "attn_norm.bias", "attn_norm_2.weight", "attn_norm_2.bias", "channel_mix_lerp_k.weight"}) {
      tensor(w, std::string("moba.0.") + n, {C}, DType::F32);
    }
    for (const char* n : {"attn_q", "attn_k", "attn_v", "attn_output"}) tensor(w, std::string("moba.0.") + n + ".weight", {C, C}, DType::F16);
    tensor(w, "moba.0.channel_mix_key.weight", {C, F}, DType::F16);
    tensor(w, "moba.0.channel_mix_value.weight", {F, C}, DType::F16);
  }
  tensor(w, "output.weight", {C, V}, DType::F16);
  w.write(path);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: make_seeds <dir>\n");
    return 2;
  }
  const std::string dir = argv[1];
  mkdir(dir.c_str(), 0755);
  mkdir((dir + "/gguf").c_str(), 0755);
  mkdir((dir + "/tokenizer").c_str(), 0755);
  tiny_model(dir + "/gguf/rwkv7.gguf", false);
  tiny_model(dir + "/gguf/rwkvx.gguf", true);
  {
    GgufWriter w;
    w.set_str("s", "text");
    w.set_u64("u", 7);
    w.set_f32("f", 0.5f);
    w.set_bool("b", true);
    w.set_arr_str("as", {"x", "y"});
    w.set_arr_i32("ai", {1, 2});
    w.set_arr_f32("af", {1.f});
    tensor(w, "t", {32, 2}, DType::Q8_0);
    w.write(dir + "/gguf/values.gguf");
  }
  // Tokenizer seeds: the first byte picks the mode (see fuzz_tokenizer.cpp).
  put(dir + "/tokenizer/vocab", std::string(1, '\0') + "1 'a' 1\n2 b'\\xe4\\xbd' 2\n3 '\\u4f60' 3\n4 \"it's\" 4\n5 '\\n\\n' 2\n");
  put(dir + "/tokenizer/escaped", std::string(1, '\1') + "a\nb\n\\xe4\\xbd\n\\xa0\n[PAD5]\nab\n\\'\\\\");
  put(dir + "/tokenizer/escape", std::string(1, '\2') + "\\x00\\n\\t\\'\"\xff");
  put(dir + "/tokenizer/utf8", std::string(1, '\3') + "a\xc3\xa9\xe4\xbd\xa0\xf0\x9f\x98\x80\xed\xa0\x80\xc0\xaf\xe4\xb8");
  put(dir + "/tokenizer/encode", std::string(1, '\4') + "function f(x) {\n  return x;\n}\n\xe4\xbd\xa0\xe5\xa5\xbd");
  return 0;
}
