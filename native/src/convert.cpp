// Checkpoint → GGUF conversion. Every input is first normalized to the
// official (BlinkDL) tensor names and orientations ("logical" tensors), then
// one mapping writes the GGUF exactly as llama.cpp's converter lays out rwkv7,
// plus the moba.{j}.* attention blocks for rwkvx (docs/gguf-rwkvx.md).
#include "convert.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <set>

#include "convert_source.h"
#include "error.h"
#include "gguf.h"
#include "model.h"
#include "quant.h"
#include "tokenizer.h"

namespace rwkvx {

ConvertOptions convert_options_from(const rwkvx_convert_params& p) {
  ConvertOptions o;
  switch (p.type) {
    case RWKVX_CONVERT_F16: o.matrix_type = DType::F16; break;
    case RWKVX_CONVERT_Q8_0: o.matrix_type = DType::Q8_0; break;
    case RWKVX_CONVERT_F32: o.matrix_type = DType::F32; break;
    case RWKVX_CONVERT_BF16: o.matrix_type = DType::BF16; break;
    default: fail(RWKVX_ERR_INVALID_ARGUMENT, "unknown conversion type %d", static_cast<int>(p.type));
  }
  if (p.vocab_path) o.vocab_path = p.vocab_path;
  if (p.name) o.name = p.name;
  if (p.attn_chunk_size < 0 || p.attn_top_k < 0) fail(RWKVX_ERR_INVALID_ARGUMENT, "attention chunk size and top-k must not be negative");
  o.attn_chunk_size = p.attn_chunk_size;
  o.attn_top_k = p.attn_top_k;
  o.progress = p.progress;
  o.progress_user_data = p.progress_user_data;
  return o;
}

namespace {

// A tensor under its official name, in the official orientation.
struct Logical {
  std::vector<int64_t> shape;  // torch order
  std::function<std::vector<float>()> load;
  std::string origin;          // the name in the input file, for messages
};
using Dict = std::map<std::string, Logical>;

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t k = 0; k < s.size(); ++k) r += (k ? ", " : "") + std::to_string(s[k]);
  return r + "]";
}

int64_t numel(const std::vector<int64_t>& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

std::vector<float> transpose2(const std::vector<float>& a, int64_t rows, int64_t cols) {
  std::vector<float> t(a.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) t[static_cast<size_t>(c * rows + r)] = a[static_cast<size_t>(r * cols + c)];
  return t;
}

Logical from_src(const SrcTensor& t) {
  const SrcTensor* p = &t;
  return Logical{t.shape, [p] { return p->to_f32(); }, t.name};
}

// Official names: RWKV-7 keys (RWKV-X: with the "rwkv." prefix dropped) and moba.{j}.* kept.
Dict normalize_blinkdl(const Source& s) {
  Dict d;
  for (const auto& kv : s.tensors) {
    std::string name = kv.first;
    if (name.compare(0, 5, "rwkv.") == 0) name = name.substr(5);
    if (d.count(name)) fail(RWKVX_ERR_FORMAT, "tensor '%s' appears twice (with and without the rwkv. prefix)", name.c_str());
    d[name] = from_src(kv.second);
  }
  return d;
}

// fla-hub (flash-linear-attention) names → official names. fla's LoRA
// matrices are nn.Linear weights ([out, in]); the official ones are [in, out].
Dict normalize_fla(const Source& s) {
  Dict d;
  auto transposed = [](const SrcTensor& t) {
    if (t.shape.size() != 2) fail(RWKVX_ERR_SHAPE, "tensor '%s': expected 2 dimensions, found %s", t.name.c_str(), shape_str(t.shape).c_str());
    const SrcTensor* p = &t;
    const int64_t r = t.shape[0], c = t.shape[1];
    return Logical{{c, r}, [p, r, c] { return transpose2(p->to_f32(), r, c); }, t.name};
  };
  for (const auto& kv : s.tensors) {
    const std::string& n = kv.first;
    const SrcTensor& t = kv.second;
    if (n == "model.embeddings.weight") { d["emb.weight"] = from_src(t); continue; }
    if (n == "lm_head.weight") { d["head.weight"] = from_src(t); continue; }
    if (n == "model.norm.weight") { d["ln_out.weight"] = from_src(t); continue; }
    if (n == "model.norm.bias") { d["ln_out.bias"] = from_src(t); continue; }
    const std::string pre = "model.layers.";
    if (n.compare(0, pre.size(), pre) != 0) continue;
    const size_t dot = n.find('.', pre.size());
    if (dot == std::string::npos) continue;
    const std::string idx = n.substr(pre.size(), dot - pre.size());
    if (idx.empty() || idx.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string rest = n.substr(dot + 1);
    const std::string b = "blocks." + idx + ".";
    static const std::map<std::string, std::string> direct = {
        {"pre_norm.weight", "ln0.weight"}, {"pre_norm.bias", "ln0.bias"},
        {"attn_norm.weight", "ln1.weight"}, {"attn_norm.bias", "ln1.bias"},
        {"ffn_norm.weight", "ln2.weight"}, {"ffn_norm.bias", "ln2.bias"},
        {"attn.x_r", "att.x_r"}, {"attn.x_w", "att.x_w"}, {"attn.x_k", "att.x_k"},
        {"attn.x_v", "att.x_v"}, {"attn.x_a", "att.x_a"}, {"attn.x_g", "att.x_g"},
        {"attn.k_k", "att.k_k"}, {"attn.k_a", "att.k_a"}, {"attn.r_k", "att.r_k"},
        {"attn.r_proj.weight", "att.receptance.weight"}, {"attn.k_proj.weight", "att.key.weight"},
        {"attn.v_proj.weight", "att.value.weight"}, {"attn.o_proj.weight", "att.output.weight"},
        {"attn.g_norm.weight", "att.ln_x.weight"}, {"attn.g_norm.bias", "att.ln_x.bias"},
        {"attn.w_lora.lora.2.bias", "att.w0"}, {"attn.a_lora.lora.2.bias", "att.a0"},
        {"attn.v_lora.lora.2.bias", "att.v0"},
        {"ffn.x_k", "ffn.x_k"}, {"ffn.key.weight", "ffn.key.weight"}, {"ffn.value.weight", "ffn.value.weight"},
    };
    if (auto it = direct.find(rest); it != direct.end()) {
      d[b + it->second] = from_src(t);
      continue;
    }
    static const char* loras[] = {"w", "a", "v", "g"};
    bool done = false;
    for (const char* l : loras) {
      const std::string lp = std::string("attn.") + l + "_lora.lora.";
      if (rest == lp + "0.weight") { d[b + "att." + l + "1"] = transposed(t); done = true; }
      else if (rest == lp + "2.weight") { d[b + "att." + l + "2"] = transposed(t); done = true; }
    }
    if (done) continue;
    if (rest == "attn.x_x") {  // older fla: the six mixes stacked as [6, C]
      if (t.shape.size() != 2 || t.shape[0] != 6) fail(RWKVX_ERR_SHAPE, "tensor '%s': expected shape [6, C], found %s", n.c_str(), shape_str(t.shape).c_str());
      static const char* mix[] = {"x_r", "x_w", "x_k", "x_v", "x_a", "x_g"};
      const SrcTensor* p = &t;
      const int64_t C = t.shape[1];
      for (int j = 0; j < 6; ++j) {
        d[b + "att." + mix[j]] = Logical{{1, 1, C}, [p, C, j] {
          const std::vector<float> all = p->to_f32();
          return std::vector<float>(all.begin() + j * C, all.begin() + (j + 1) * C);
        }, n};
      }
    }
  }
  // Models trained without LayerNorm biases: zeros.
  std::vector<std::pair<std::string, Logical>> add;
  for (const auto& kv : d) {
    const std::string& k = kv.first;
    const bool is_ln = k == "ln_out.weight" || (k.size() > 11 && (k.compare(k.size() - 11, 11, ".ln0.weight") == 0 ||
                                                                   k.compare(k.size() - 11, 11, ".ln1.weight") == 0 ||
                                                                   k.compare(k.size() - 11, 11, ".ln2.weight") == 0));
    if (!is_ln) continue;
    const std::string bias = k.substr(0, k.size() - 6) + "bias";
    if (d.count(bias)) continue;
    const int64_t n = numel(kv.second.shape);
    add.emplace_back(bias, Logical{kv.second.shape, [n] { return std::vector<float>(static_cast<size_t>(n), 0.f); }, bias + " (zeros)"});
  }
  for (auto& a : add) d.emplace(a.first, std::move(a.second));
  if (!d.count("head.weight") && d.count("emb.weight")) d["head.weight"] = d["emb.weight"];  // tied embeddings
  return d;
}

struct HP {
  bool x = false;  // rwkvx
  int64_t C = 0, V = 0, L = 0, F = 0, H = 0, N = 64, Dw = 0, Da = 0, Dv = 0, Dg = 0, NA = 0;
  std::vector<int> after;
  float eps = 1e-5f;
};

const Logical& need(const Dict& d, const std::string& key) {
  auto it = d.find(key);
  if (it == d.end()) fail(RWKVX_ERR_SHAPE, "missing tensor '%s' in the checkpoint", key.c_str());
  return it->second;
}

// Highest index N+1 among keys "<prefix>N.".
int64_t count_indexed(const Dict& d, const std::string& prefix) {
  int64_t n = 0;
  for (const auto& kv : d) {
    if (kv.first.compare(0, prefix.size(), prefix) != 0) continue;
    const size_t dot = kv.first.find('.', prefix.size());
    const std::string idx = kv.first.substr(prefix.size(), dot == std::string::npos ? std::string::npos : dot - prefix.size());
    if (idx.empty() || idx.size() > 6 || idx.find_first_not_of("0123456789") != std::string::npos) continue;
    n = std::max<int64_t>(n, std::stoll(idx) + 1);
  }
  return n;
}

int64_t dim(const Dict& d, const std::string& key, size_t ndim, size_t which) {
  const Logical& t = need(d, key);
  if (t.shape.size() != ndim) {
    fail(RWKVX_ERR_SHAPE, "tensor '%s': expected %zu dimensions, found shape %s", t.origin.c_str(), ndim, shape_str(t.shape).c_str());
  }
  if (t.shape[which] <= 0) fail(RWKVX_ERR_SHAPE, "tensor '%s' has an empty dimension: %s", t.origin.c_str(), shape_str(t.shape).c_str());
  return t.shape[which];
}

// Reads "key": number from a JSON object (config.json).
bool json_number(const std::string& text, const char* key, double* out) {
  if (text.empty()) return false;
  const Json j = json_parse(text.data(), text.size(), "config.json");
  const Json* v = j.get(key);
  if (v == nullptr || v->kind != Json::Num) return false;
  *out = v->num;
  return true;
}

HP infer(const Dict& d, const Source& src, const ConvertOptions& opt) {
  HP hp;
  hp.V = dim(d, "emb.weight", 2, 0);
  hp.C = dim(d, "emb.weight", 2, 1);
  hp.L = count_indexed(d, "blocks.");
  if (hp.L == 0) fail(RWKVX_ERR_SHAPE, "the checkpoint has no RWKV blocks (blocks.0.* / model.layers.0.*)");
  const Logical& rk = need(d, "blocks.0.att.r_k");
  if (rk.shape.size() == 2) {
    hp.H = rk.shape[0];
    hp.N = rk.shape[1];
  } else {
    double hd = 64;
    json_number(src.config_json, "head_dim", &hd);
    hp.N = static_cast<int64_t>(hd);
    hp.H = hp.N > 0 ? hp.C / hp.N : 0;
  }
  if (hp.N <= 0 || hp.H * hp.N != hp.C) {
    fail(RWKVX_ERR_SHAPE, "tensor 'blocks.0.att.r_k' %s does not split the width %lld into heads", shape_str(rk.shape).c_str(),
         static_cast<long long>(hp.C));
  }
  hp.F = dim(d, "blocks.0.ffn.key.weight", 2, 0);
  hp.Dw = dim(d, "blocks.0.att.w1", 2, 1);
  hp.Da = dim(d, "blocks.0.att.a1", 2, 1);
  hp.Dg = dim(d, "blocks.0.att.g1", 2, 1);
  if (hp.L > 1) hp.Dv = dim(d, "blocks.1.att.v1", 2, 1);
  else hp.Dv = d.count("blocks.0.att.v1") ? dim(d, "blocks.0.att.v1", 2, 1) : hp.Da;
  double eps = 1e-5;
  if (json_number(src.config_json, "norm_eps", &eps) || json_number(src.config_json, "layer_norm_epsilon", &eps)) hp.eps = static_cast<float>(eps);

  hp.NA = count_indexed(d, "moba.");
  hp.x = hp.NA > 0;
  if (!opt.attn_after.empty() && !hp.x) fail(RWKVX_ERR_INVALID_ARGUMENT, "attention placement given, but the checkpoint has no attention blocks");
  if (hp.x) {
    if (!opt.attn_after.empty()) {
      if (static_cast<int64_t>(opt.attn_after.size()) != hp.NA) {
        fail(RWKVX_ERR_INVALID_ARGUMENT, "attention placement has %zu entries for %lld attention blocks", opt.attn_after.size(),
             static_cast<long long>(hp.NA));
      }
      for (size_t j = 0; j < opt.attn_after.size(); ++j) {
        if (opt.attn_after[j] < 0 || opt.attn_after[j] >= hp.L || (j && opt.attn_after[j] < opt.attn_after[j - 1])) {
          fail(RWKVX_ERR_INVALID_ARGUMENT, "attention placement entry %zu = %d: must be a block index in 0..%lld, non-decreasing", j,
               opt.attn_after[j], static_cast<long long>(hp.L - 1));
        }
      }
      hp.after = opt.attn_after;
    } else {
      // The checkpoint does not record the placement: groups of L / N_A RWKV
      // blocks, each followed by one attention block (as the RWKV-X package runs it).
      if (hp.L % hp.NA != 0) {
        fail(RWKVX_ERR_INVALID_ARGUMENT, "%lld RWKV blocks do not split into %lld equal groups: give the attention placement explicitly",
             static_cast<long long>(hp.L), static_cast<long long>(hp.NA));
      }
      const int64_t g = hp.L / hp.NA;
      for (int64_t j = 0; j < hp.NA; ++j) hp.after.push_back(static_cast<int>((j + 1) * g - 1));
    }
  }
  return hp;
}

// One tensor of the output file: fp32 data in GGUF element order, plus the
// rule that picks its stored type.
struct Out {
  std::string name;
  std::vector<int64_t> ne;  // ggml order
  bool small;               // kept F32 whatever the chosen type
  std::function<std::vector<float>()> data;
};

class Planner {
 public:
  Planner(const Dict& d, const HP& hp) : d_(d), hp_(hp) {}
  std::vector<Out> out;

  // A vector of n elements in any shape ([C], [1,1,C], [H,N] ...).
  void vec(const std::string& dst, const std::string& key, int64_t n) {
    const Logical& t = need(d_, key);
    if (numel(t.shape) != n) {
      fail(RWKVX_ERR_SHAPE, "tensor '%s': expected %lld elements, found shape %s", t.origin.c_str(), static_cast<long long>(n),
           shape_str(t.shape).c_str());
    }
    out.push_back(Out{dst, {n}, true, t.load});
  }
  // nn.Linear weight stored [out, in]: ggml ne [in, out], same bytes.
  void linear(const std::string& dst, const std::string& key, int64_t out_dim, int64_t in_dim) {
    const Logical& t = need(d_, key);
    expect(t, {out_dim, in_dim});
    out.push_back(Out{dst, {in_dim, out_dim}, false, t.load});
  }
  // Official LoRA matrix stored [in, out] (used as x @ W): transposed into the
  // Linear orientation, ggml ne [in, out].
  void lora(const std::string& dst, const std::string& key, int64_t in_dim, int64_t out_dim, bool small) {
    const Logical& t = need(d_, key);
    expect(t, {in_dim, out_dim});
    auto load = t.load;
    out.push_back(Out{dst, {in_dim, out_dim}, small, [load, in_dim, out_dim] { return transpose2(load(), in_dim, out_dim); }});
  }
  void lerp_fused(const std::string& dst, const std::string& blk) {
    static const char* mix[] = {"x_r", "x_w", "x_k", "x_v", "x_a", "x_g"};
    std::vector<std::function<std::vector<float>()>> loads;
    for (const char* m : mix) {
      const Logical& t = need(d_, blk + "att." + m);
      if (numel(t.shape) != hp_.C) {
        fail(RWKVX_ERR_SHAPE, "tensor '%s': expected %lld elements, found shape %s", t.origin.c_str(), static_cast<long long>(hp_.C),
             shape_str(t.shape).c_str());
      }
      loads.push_back(t.load);
    }
    out.push_back(Out{dst, {hp_.C, 1, 1, 6}, true, [loads] {
      std::vector<float> all;
      for (const auto& l : loads) {
        const std::vector<float> v = l();
        all.insert(all.end(), v.begin(), v.end());
      }
      return all;
    }});
  }

 private:
  void expect(const Logical& t, std::vector<int64_t> want) const {
    if (t.shape != want) {
      fail(RWKVX_ERR_SHAPE, "tensor '%s': expected shape %s, found %s", t.origin.c_str(), shape_str(want).c_str(), shape_str(t.shape).c_str());
    }
  }
  const Dict& d_;
  const HP& hp_;
};

std::vector<Out> plan_tensors(const Dict& d, const HP& hp) {
  Planner p(d, hp);
  const int64_t C = hp.C;
  p.linear("token_embd.weight", "emb.weight", hp.V, C);
  p.vec("token_embd_norm.weight", "blocks.0.ln0.weight", C);
  p.vec("token_embd_norm.bias", "blocks.0.ln0.bias", C);
  for (int64_t i = 0; i < hp.L; ++i) {
    const std::string b = "blocks." + std::to_string(i) + ".";
    const std::string o = "blk." + std::to_string(i) + ".";
    p.vec(o + "attn_norm.weight", b + "ln1.weight", C);
    p.vec(o + "attn_norm.bias", b + "ln1.bias", C);
    p.vec(o + "attn_norm_2.weight", b + "ln2.weight", C);
    p.vec(o + "attn_norm_2.bias", b + "ln2.bias", C);
    p.lerp_fused(o + "time_mix_lerp_fused.weight", b);
    p.vec(o + "time_mix_w0.weight", b + "att.w0", C);
    p.lora(o + "time_mix_w1.weight", b + "att.w1", C, hp.Dw, true);
    p.lora(o + "time_mix_w2.weight", b + "att.w2", hp.Dw, C, true);
    p.vec(o + "time_mix_a0.weight", b + "att.a0", C);
    p.lora(o + "time_mix_a1.weight", b + "att.a1", C, hp.Da, false);
    p.lora(o + "time_mix_a2.weight", b + "att.a2", hp.Da, C, false);
    if (i == 0) {
      // Unused in layer 0; llama.cpp's loader wants them, so (as its converter
      // does) they are a copy of a0/a1/a2.
      p.vec(o + "time_mix_v0.weight", b + "att.a0", C);
      p.lora(o + "time_mix_v1.weight", b + "att.a1", C, hp.Da, false);
      p.lora(o + "time_mix_v2.weight", b + "att.a2", hp.Da, C, false);
    } else {
      p.vec(o + "time_mix_v0.weight", b + "att.v0", C);
      p.lora(o + "time_mix_v1.weight", b + "att.v1", C, hp.Dv, false);
      p.lora(o + "time_mix_v2.weight", b + "att.v2", hp.Dv, C, false);
    }
    p.lora(o + "time_mix_g1.weight", b + "att.g1", C, hp.Dg, false);
    p.lora(o + "time_mix_g2.weight", b + "att.g2", hp.Dg, C, false);
    p.vec(o + "time_mix_k_k.weight", b + "att.k_k", C);
    p.vec(o + "time_mix_k_a.weight", b + "att.k_a", C);
    p.vec(o + "time_mix_r_k.weight", b + "att.r_k", C);
    p.linear(o + "time_mix_receptance.weight", b + "att.receptance.weight", C, C);
    p.linear(o + "time_mix_key.weight", b + "att.key.weight", C, C);
    p.linear(o + "time_mix_value.weight", b + "att.value.weight", C, C);
    p.linear(o + "time_mix_output.weight", b + "att.output.weight", C, C);
    p.vec(o + "time_mix_ln.weight", b + "att.ln_x.weight", C);
    p.vec(o + "time_mix_ln.bias", b + "att.ln_x.bias", C);
    p.vec(o + "channel_mix_lerp_k.weight", b + "ffn.x_k", C);
    p.linear(o + "channel_mix_key.weight", b + "ffn.key.weight", hp.F, C);
    p.linear(o + "channel_mix_value.weight", b + "ffn.value.weight", C, hp.F);
  }
  for (int64_t j = 0; j < hp.NA; ++j) {
    const std::string b = "moba." + std::to_string(j) + ".";
    p.vec(b + "attn_norm.weight", b + "ln1.weight", C);
    p.vec(b + "attn_norm.bias", b + "ln1.bias", C);
    p.vec(b + "attn_norm_2.weight", b + "ln2.weight", C);
    p.vec(b + "attn_norm_2.bias", b + "ln2.bias", C);
    p.linear(b + "attn_q.weight", b + "att.receptance.weight", C, C);
    p.linear(b + "attn_k.weight", b + "att.key.weight", C, C);
    p.linear(b + "attn_v.weight", b + "att.value.weight", C, C);
    p.linear(b + "attn_output.weight", b + "att.output.weight", C, C);
    p.vec(b + "channel_mix_lerp_k.weight", b + "ffn.x_k", C);
    const int64_t Fa = dim(d, b + "ffn.key.weight", 2, 0);
    p.linear(b + "channel_mix_key.weight", b + "ffn.key.weight", Fa, C);
    p.linear(b + "channel_mix_value.weight", b + "ffn.value.weight", C, Fa);
  }
  p.vec("output_norm.weight", "ln_out.weight", C);
  p.vec("output_norm.bias", "ln_out.bias", C);
  p.linear("output.weight", "head.weight", hp.V, C);
  return p.out;
}

uint32_t llama_file_type(DType t) {
  switch (t) {
    case DType::F32: return 0;
    case DType::F16: return 1;
    case DType::Q8_0: return 7;
    case DType::BF16: return 32;
  }
  return 1;
}

// The stored type of a tensor: F32 for the small ones, else the chosen type
// (Q8_0 only where rows are a multiple of 32, F16 otherwise).
DType pick_type(bool small, int64_t ne0, DType matrix) {
  if (small) return DType::F32;
  if (matrix == DType::Q8_0 && ne0 % kQ8Block != 0) return DType::F16;
  return matrix;
}

std::vector<uint8_t> encode(const std::vector<float>& f, DType t, const std::vector<int64_t>& ne) {
  const int64_t n0 = ne[0];
  const int64_t rows = n0 == 0 ? 0 : static_cast<int64_t>(f.size()) / n0;
  const size_t rb = dtype_row_bytes(t, n0);
  std::vector<uint8_t> out(rb * static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    const std::vector<uint8_t> row = encode_row(t, f.data() + r * n0, n0);
    std::memcpy(out.data() + static_cast<size_t>(r) * rb, row.data(), rb);
  }
  return out;
}

// Calls the progress callback; a nonzero answer aborts the conversion.
struct Progress {
  const ConvertOptions& opt;
  uint64_t total;
  void at(uint64_t done) const {
    if (opt.progress && opt.progress(done, total, opt.progress_user_data) != 0) {
      fail(RWKVX_ERR_ABORTED, "conversion aborted after %llu of %llu tensors", static_cast<unsigned long long>(done),
           static_cast<unsigned long long>(total));
    }
  }
};

// Vocabulary as llama.cpp writes it for rwkv: "<s>", the escaped tokens by id,
// "[PADn]" up to n_vocab.
void write_vocab(GgufWriter& w, const std::string& vocab_path, int64_t n_vocab) {
  Tokenizer tok;
  tok.build_from_world_file(vocab_path);
  const std::vector<std::string>& raw = tok.tokens();
  if (static_cast<int64_t>(raw.size()) > n_vocab) {
    fail(RWKVX_ERR_SHAPE, "the vocabulary '%s' has ids up to %zu but the embedding has only %lld rows", vocab_path.c_str(),
         raw.size() - 1, static_cast<long long>(n_vocab));
  }
  std::vector<std::string> toks(static_cast<size_t>(n_vocab));
  std::vector<int32_t> types(static_cast<size_t>(n_vocab));
  for (size_t i = 0; i < toks.size(); ++i) {
    if (i == 0) {
      toks[i] = "<s>";
      types[i] = 3;  // CONTROL
    } else if (i < raw.size() && !raw[i].empty()) {
      toks[i] = escape_token_bytes(raw[i]);
      types[i] = 1;  // NORMAL
    } else {
      toks[i] = "[PAD" + std::to_string(i) + "]";
      types[i] = 5;  // UNUSED
    }
  }
  w.set_str("tokenizer.ggml.model", "rwkv");
  w.set_arr_str("tokenizer.ggml.tokens", toks);
  w.set_arr_i32("tokenizer.ggml.token_type", types);
  w.set_u32("tokenizer.ggml.bos_token_id", 0);
  w.set_u32("tokenizer.ggml.eos_token_id", 0);
  if (raw.size() > 261 && raw[261] == "\n\n") w.set_u32("tokenizer.ggml.eot_token_id", 261);
  w.set_str("tokenizer.chat_template", "rwkv-world");
}

std::string stem(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  const size_t sl = p.rfind('/');
  std::string base = sl == std::string::npos ? p : p.substr(sl + 1);
  const size_t dot = base.rfind('.');
  if (dot != std::string::npos && dot > 0) base = base.substr(0, dot);
  return base;
}

bool is_dir(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

void add_planned(GgufWriter& w, const std::vector<Out>& plan, DType matrix, const Progress& prog) {
  for (size_t k = 0; k < plan.size(); ++k) {
    const Out& o = plan[k];
    const DType t = pick_type(o.small, o.ne[0], matrix);
    const uint64_t total = plan.size();
    auto data = o.data;
    auto ne = o.ne;
    const std::string name = o.name;
    w.add_tensor_deferred(o.name, t, o.ne, [data, ne, t, k, total, prog, name] {
      prog.at(k);
      const std::vector<float> f = data();
      if (static_cast<int64_t>(f.size()) != numel(ne)) {
        fail(RWKVX_ERR_INTERNAL, "tensor '%s': produced %zu values, expected %lld", name.c_str(), f.size(), static_cast<long long>(numel(ne)));
      }
      std::vector<uint8_t> bytes = encode(f, t, ne);
      if (k + 1 == total) prog.at(total);
      return bytes;
    });
  }
}

void convert_checkpoint(const Source& src, const Dict& d, const std::string& in_path, const std::string& out_path,
                        const ConvertOptions& opt) {
  const HP hp = infer(d, src, opt);
  const std::vector<Out> plan = plan_tensors(d, hp);

  std::string vocab = opt.vocab_path;
  if (vocab.empty() && is_dir(in_path)) {
    const std::string cand = in_path + "/rwkv_vocab_v20230424.txt";
    if (FILE* f = std::fopen(cand.c_str(), "rb")) {
      std::fclose(f);
      vocab = cand;
    }
  }
  if (vocab.empty()) {
    fail(RWKVX_ERR_INVALID_ARGUMENT, "'%s' carries no vocabulary: give the World vocabulary file (rwkv_vocab_v20230424.txt)", in_path.c_str());
  }

  GgufWriter w;
  const std::string arch = hp.x ? "rwkvx" : "rwkv7";
  const std::string a = arch + ".";
  w.set_str("general.architecture", arch);
  w.set_str("general.name", opt.name.empty() ? stem(in_path) : opt.name);
  w.set_u32(a + "context_length", 1048576);
  w.set_u32(a + "embedding_length", static_cast<uint32_t>(hp.C));
  w.set_u32(a + "block_count", static_cast<uint32_t>(hp.L));
  w.set_f32(a + "attention.layer_norm_epsilon", hp.eps);
  w.set_u32(a + "wkv.head_size", static_cast<uint32_t>(hp.N));
  w.set_u32(a + "attention.decay_lora_rank", static_cast<uint32_t>(hp.Dw));
  w.set_u32(a + "attention.iclr_lora_rank", static_cast<uint32_t>(hp.Da));
  w.set_u32(a + "attention.value_residual_mix_lora_rank", static_cast<uint32_t>(hp.Dv));
  w.set_u32(a + "attention.gate_lora_rank", static_cast<uint32_t>(hp.Dg));
  w.set_u32(a + "feed_forward_length", static_cast<uint32_t>(hp.F));
  w.set_u32("general.file_type", llama_file_type(opt.matrix_type));
  if (hp.x) {
    w.set_u32(a + "attention.block_count", static_cast<uint32_t>(hp.NA));
    w.set_u32(a + "attention.chunk_size", static_cast<uint32_t>(opt.attn_chunk_size > 0 ? opt.attn_chunk_size : 2048));
    w.set_u32(a + "attention.top_k", static_cast<uint32_t>(opt.attn_top_k > 0 ? opt.attn_top_k : 3));
    w.set_arr_i32(a + "attention.after_block", std::vector<int32_t>(hp.after.begin(), hp.after.end()));
  } else {
    w.set_u32(a + "attention.head_count", 0);  // llama.cpp requires the key; unused
  }
  w.set_u32("general.quantization_version", 2);
  write_vocab(w, vocab, hp.V);

  const Progress prog{opt, plan.size()};
  add_planned(w, plan, opt.matrix_type, prog);
  w.write(out_path);
}

// GGUF → GGUF with other matrix types (and optionally a new name, vocabulary
// or RWKV-X attention settings).
void convert_gguf(const std::string& in_path, const std::string& out_path, const ConvertOptions& opt) {
  const std::unique_ptr<Model> model = load_model(in_path, true);  // validates the whole file
  const GgufReader& g = *model->file;
  const std::string arch = g.get_str("general.architecture");
  const std::string a = arch + ".";
  GgufWriter w;
  for (const auto& kv : g.metadata()) {
    if (kv.first == "general.alignment") continue;
    if (kv.second.type == GgufType::ARRAY && kv.second.elem_type == GgufType::ARRAY) continue;  // not representable
    w.set_value(kv.first, kv.second);
  }
  w.set_u32("general.file_type", llama_file_type(opt.matrix_type));
  if (!opt.name.empty()) w.set_str("general.name", opt.name);
  if (!opt.vocab_path.empty()) write_vocab(w, opt.vocab_path, model->hp.n_vocab);
  if (model->hp.arch == Arch::RwkvX) {
    if (opt.attn_chunk_size > 0) w.set_u32(a + "attention.chunk_size", static_cast<uint32_t>(opt.attn_chunk_size));
    if (opt.attn_top_k > 0) w.set_u32(a + "attention.top_k", static_cast<uint32_t>(opt.attn_top_k));
    if (!opt.attn_after.empty()) {
      if (opt.attn_after.size() != static_cast<size_t>(model->hp.n_attn)) {
        fail(RWKVX_ERR_INVALID_ARGUMENT, "attention placement has %zu entries for %d attention blocks", opt.attn_after.size(), model->hp.n_attn);
      }
      for (size_t j = 0; j < opt.attn_after.size(); ++j) {
        if (opt.attn_after[j] < 0 || opt.attn_after[j] >= model->hp.n_layer || (j && opt.attn_after[j] < opt.attn_after[j - 1])) {
          fail(RWKVX_ERR_INVALID_ARGUMENT, "attention placement entry %zu = %d is out of range", j, opt.attn_after[j]);
        }
      }
      w.set_arr_i32(a + "attention.after_block", std::vector<int32_t>(opt.attn_after.begin(), opt.attn_after.end()));
    } else {
      // Write the placement the loader resolved, so the file says it explicitly.
      w.set_arr_i32(a + "attention.after_block", std::vector<int32_t>(model->hp.attn_after.begin(), model->hp.attn_after.end()));
    }
  } else if (!opt.attn_after.empty()) {
    fail(RWKVX_ERR_INVALID_ARGUMENT, "attention placement given, but '%s' has no attention blocks", in_path.c_str());
  }

  const std::vector<TensorView>& ts = g.tensors();
  const Progress prog{opt, ts.size()};
  for (size_t k = 0; k < ts.size(); ++k) {
    const TensorView* t = &ts[k];
    auto ends = [&](const char* s) {
      const size_t n = std::strlen(s);
      return t->name.size() >= n && t->name.compare(t->name.size() - n, n, s) == 0;
    };
    const bool small = t->nelements() == t->ne[0] || ends("time_mix_w1.weight") || ends("time_mix_w2.weight") ||
                       ends("time_mix_lerp_fused.weight");
    const DType type = pick_type(small, t->ne[0], opt.matrix_type);
    std::vector<int64_t> ne(t->ne, t->ne + t->n_dims);
    const uint64_t total = ts.size();
    w.add_tensor_deferred(t->name, type, ne, [t, type, ne, k, total, prog] {
      prog.at(k);
      std::vector<uint8_t> bytes;
      if (t->type == type) bytes.assign(t->data, t->data + t->nbytes);  // same type: copy exactly
      else bytes = encode(tensor_to_f32(*t), type, ne);
      if (k + 1 == total) prog.at(total);
      return bytes;
    });
  }
  w.write(out_path);
}

}  // namespace

void convert_model(const std::string& in_path, const std::string& out_path, const ConvertOptions& opt) {
  if (in_path.empty() || out_path.empty()) fail(RWKVX_ERR_INVALID_ARGUMENT, "convert: empty input or output path");
  if (opt.matrix_type != DType::F16 && opt.matrix_type != DType::Q8_0 && opt.matrix_type != DType::F32 && opt.matrix_type != DType::BF16) {
    fail(RWKVX_ERR_INVALID_ARGUMENT, "convert: unsupported output type");
  }
  if (is_dir(in_path)) {
    const Source src = read_safetensors(in_path);
    convert_checkpoint(src, normalize_fla(src), in_path, out_path, opt);
    return;
  }
  uint8_t head[16] = {0};
  size_t got = 0;
  if (FILE* f = std::fopen(in_path.c_str(), "rb")) {
    got = std::fread(head, 1, sizeof head, f);
    std::fclose(f);
  } else {
    fail(RWKVX_ERR_IO, "cannot open '%s': %s", in_path.c_str(), std::strerror(errno));
  }
  if (got >= 4 && std::memcmp(head, "GGUF", 4) == 0) {
    convert_gguf(in_path, out_path, opt);
    return;
  }
  if ((got >= 4 && std::memcmp(head, "PK\x03\x04", 4) == 0) || (got >= 2 && head[0] == 0x80 && head[1] <= 5)) {
    const Source src = read_torch_pth(in_path);
    convert_checkpoint(src, normalize_blinkdl(src), in_path, out_path, opt);
    return;
  }
  uint64_t hlen = 0;
  std::memcpy(&hlen, head, 8);
  if (got >= 9 && head[8] == '{' && hlen > 1) {
    const Source src = read_safetensors(in_path);
    convert_checkpoint(src, normalize_fla(src), in_path, out_path, opt);
    return;
  }
  fail(RWKVX_ERR_FORMAT, "'%s' is not a .pth (torch zip), .safetensors or GGUF file", in_path.c_str());
}

}  // namespace rwkvx
