// Converter: a tiny model made here is written as an official .pth (our own
// zip + pickle writer) and as fla-hub safetensors, converted, loaded, and
// compared tensor by tensor; the fixture checkpoints convert to identical
// models; Q8_0 error bound; GGUF re-typing; abort; clear errors.
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <random>

#include "convert.h"
#include "convert_source.h"
#include "error.h"
#include "gguf.h"
#include "half.h"
#include "model.h"
#include "quant.h"
#include "testing.h"

using namespace rwkvx;

namespace {

// Per-process scratch names: ctest and a developer's run may overlap, and a
// file rewritten under another process's mapping would fault there.
std::string scratch(const std::string& name) { return testing::scratch(std::to_string(getpid()) + "-" + name); }


template <class F>
rwkvx_status status_of(F&& f, std::string* msg = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (msg) *msg = e.what();
    return e.code();
  }
  return RWKVX_OK;
}

bool exists(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0;
}

bool has(const std::string& msg, const std::string& needle) { return msg.find(needle) != std::string::npos; }

void put_file(const std::string& p, const std::vector<uint8_t>& b) {
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}


// ------------------------------------------------------------ tiny model

// An official-layout state dict held as fp32, values exact in bf16 and fp16.
struct Tensor {
  std::vector<int64_t> shape;
  std::vector<float> v;
};
using StateDict = std::map<std::string, Tensor>;

struct Dims {
  int64_t C = 64, L = 2, F = 96, V = 300, Dw = 32, Da = 32, Dv = 16, Dg = 48, NA = 0, Fa = 128;
  bool layer0_v = true;
};

StateDict make_model(const Dims& d, uint32_t seed, const std::string& prefix = "") {
  std::mt19937 rng(seed);
  StateDict sd;
  auto add = [&](const std::string& k, std::vector<int64_t> shape) {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    Tensor t{shape, std::vector<float>(static_cast<size_t>(n))};
    for (float& x : t.v) x = static_cast<float>(static_cast<int>(rng() % 257) - 128) / 64.f;  // k/64: exact in bf16 and fp16
    sd[k] = t;
  };
  const int64_t C = d.C, H = C / 64;
  const std::string p = prefix;
  add(p + "emb.weight", {d.V, C});
  add(p + "blocks.0.ln0.weight", {C});
  add(p + "blocks.0.ln0.bias", {C});
  for (int64_t i = 0; i < d.L; ++i) {
    const std::string b = p + "blocks." + std::to_string(i) + ".";
    for (const char* n : {"ln1", "ln2"}) {
      add(b + n + ".weight", {C});
      add(b + n + ".bias", {C});
    }
    for (const char* n : {"x_r", "x_w", "x_k", "x_v", "x_a", "x_g", "w0", "a0", "k_k", "k_a"}) add(b + "att." + n, {1, 1, C});
    add(b + "att.w1", {C, d.Dw});
    add(b + "att.w2", {d.Dw, C});
    add(b + "att.a1", {C, d.Da});
    add(b + "att.a2", {d.Da, C});
    if (i > 0 || d.layer0_v) {
      add(b + "att.v0", {1, 1, C});
      add(b + "att.v1", {C, d.Dv});
      add(b + "att.v2", {d.Dv, C});
    }
    add(b + "att.g1", {C, d.Dg});
    add(b + "att.g2", {d.Dg, C});
    add(b + "att.r_k", {H, 64});
    for (const char* n : {"receptance", "key", "value", "output"}) add(b + "att." + n + ".weight", {C, C});
    add(b + "att.ln_x.weight", {C});
    add(b + "att.ln_x.bias", {C});
    add(b + "ffn.x_k", {1, 1, C});
    add(b + "ffn.key.weight", {d.F, C});
    add(b + "ffn.value.weight", {C, d.F});
  }
  for (int64_t j = 0; j < d.NA; ++j) {
    const std::string b = "moba." + std::to_string(j) + ".";
    for (const char* n : {"ln1", "ln2"}) {
      add(b + n + ".weight", {C});
      add(b + n + ".bias", {C});
    }
    for (const char* n : {"receptance", "key", "value", "output"}) add(b + "att." + n + ".weight", {C, C});
    add(b + "ffn.x_k", {1, 1, C});
    add(b + "ffn.key.weight", {d.Fa, C});
    add(b + "ffn.value.weight", {C, d.Fa});
  }
  add(p + "ln_out.weight", {C});
  add(p + "ln_out.bias", {C});
  add(p + "head.weight", {d.V, C});
  return sd;
}

std::vector<uint8_t> encode_as(const std::vector<float>& v, const std::string& storage) {
  std::vector<uint8_t> out;
  for (float x : v) {
    if (storage == "FloatStorage") {
      out.insert(out.end(), reinterpret_cast<uint8_t*>(&x), reinterpret_cast<uint8_t*>(&x) + 4);
    } else {
      uint16_t h = storage == "HalfStorage" ? f32_to_fp16(x) : f32_to_bf16(x);
      out.insert(out.end(), reinterpret_cast<uint8_t*>(&h), reinterpret_cast<uint8_t*>(&h) + 2);
    }
  }
  return out;
}

// --------------------------------------------------------- .pth writer

struct PthOptions {
  std::string storage = "BFloat16Storage";
  std::string archive = "tiny";
  bool ordered_dict = false;          // collections.OrderedDict + BUILD, as state_dict() pickles
  bool zip64_extra = false;           // central directory sizes/offsets in zip64 extra fields
  std::string transposed_key;         // this tensor is stored as a transposed strided view with an offset
  std::string compressed_entry;       // this entry claims method 8 (deflate)
};

struct Pickle {
  std::vector<uint8_t> b;
  std::map<std::string, uint8_t> memo;
  void op(uint8_t o) { b.push_back(o); }
  void i32(int32_t v) { op('J'); b.insert(b.end(), reinterpret_cast<uint8_t*>(&v), reinterpret_cast<uint8_t*>(&v) + 4); }
  void integer(int64_t v) {
    if (v >= 0 && v < 256) { op('K'); op(static_cast<uint8_t>(v)); }
    else if (v >= INT32_MIN && v <= INT32_MAX) i32(static_cast<int32_t>(v));
    else { op(0x8a); op(8); b.insert(b.end(), reinterpret_cast<uint8_t*>(&v), reinterpret_cast<uint8_t*>(&v) + 8); }
  }
  void str(const std::string& s) {
    op('X');
    uint32_t n = static_cast<uint32_t>(s.size());
    b.insert(b.end(), reinterpret_cast<uint8_t*>(&n), reinterpret_cast<uint8_t*>(&n) + 4);
    b.insert(b.end(), s.begin(), s.end());
  }
  // GLOBAL once, then BINGET of its memo slot (as the pickler does).
  void global(const std::string& mod, const std::string& name) {
    const std::string key = mod + "." + name;
    auto it = memo.find(key);
    if (it != memo.end()) { op('h'); op(it->second); return; }
    op('c');
    b.insert(b.end(), mod.begin(), mod.end());
    op('\n');
    b.insert(b.end(), name.begin(), name.end());
    op('\n');
    const uint8_t slot = static_cast<uint8_t>(memo.size() + 1);
    memo[key] = slot;
    op('q');
    op(slot);
  }
  void ints(const std::vector<int64_t>& v) {
    op('(');
    for (int64_t x : v) integer(x);
    op('t');
  }
};

struct ZipW {
  std::vector<uint8_t> b;
  struct Ent { std::string name; uint64_t off, size; uint16_t method; };
  std::vector<Ent> ents;
  template <class T> void put(T v) { b.insert(b.end(), reinterpret_cast<uint8_t*>(&v), reinterpret_cast<uint8_t*>(&v) + sizeof v); }
  void add(const std::string& name, const std::vector<uint8_t>& data, uint16_t method_in_cd) {
    const uint64_t off = b.size();
    put<uint32_t>(0x04034b50); put<uint16_t>(20); put<uint16_t>(0x0808); put<uint16_t>(0);
    put<uint16_t>(0); put<uint16_t>(0); put<uint32_t>(0); put<uint32_t>(0); put<uint32_t>(0);
    put<uint16_t>(static_cast<uint16_t>(name.size()));
    // Extra field pads the data start to a multiple of 64 (as torch does).
    size_t start = b.size() + 2 + name.size() + 4;
    uint16_t pad = static_cast<uint16_t>((64 - start % 64) % 64);
    put<uint16_t>(static_cast<uint16_t>(4 + pad));
    b.insert(b.end(), name.begin(), name.end());
    put<uint16_t>(0x5a46); put<uint16_t>(pad);
    b.insert(b.end(), pad, 'Z');
    b.insert(b.end(), data.begin(), data.end());
    put<uint32_t>(0x08074b50); put<uint32_t>(0); put<uint32_t>(static_cast<uint32_t>(data.size())); put<uint32_t>(static_cast<uint32_t>(data.size()));
    ents.push_back({name, off, data.size(), method_in_cd});
  }
  std::vector<uint8_t> finish(bool zip64_extra) {
    const uint64_t cd = b.size();
    for (const Ent& e : ents) {
      put<uint32_t>(0x02014b50); put<uint16_t>(45); put<uint16_t>(45); put<uint16_t>(0x0808); put<uint16_t>(e.method);
      put<uint16_t>(0); put<uint16_t>(0); put<uint32_t>(0);
      put<uint32_t>(zip64_extra ? 0xffffffffu : static_cast<uint32_t>(e.size));
      put<uint32_t>(zip64_extra ? 0xffffffffu : static_cast<uint32_t>(e.size));
      put<uint16_t>(static_cast<uint16_t>(e.name.size()));
      put<uint16_t>(zip64_extra ? 28 : 0);
      put<uint16_t>(0); put<uint16_t>(0); put<uint16_t>(0); put<uint32_t>(0);
      put<uint32_t>(zip64_extra ? 0xffffffffu : static_cast<uint32_t>(e.off));
      b.insert(b.end(), e.name.begin(), e.name.end());
      if (zip64_extra) { put<uint16_t>(1); put<uint16_t>(24); put<uint64_t>(e.size); put<uint64_t>(e.size); put<uint64_t>(e.off); }
    }
    const uint64_t cd_size = b.size() - cd;
    const uint64_t eocd64 = b.size();
    put<uint32_t>(0x06064b50); put<uint64_t>(44); put<uint16_t>(45); put<uint16_t>(45); put<uint32_t>(0); put<uint32_t>(0);
    put<uint64_t>(ents.size()); put<uint64_t>(ents.size()); put<uint64_t>(cd_size); put<uint64_t>(cd);
    put<uint32_t>(0x07064b50); put<uint32_t>(0); put<uint64_t>(eocd64); put<uint32_t>(1);
    put<uint32_t>(0x06054b50); put<uint16_t>(0); put<uint16_t>(0); put<uint16_t>(0xffff); put<uint16_t>(0xffff);
    put<uint32_t>(0xffffffffu); put<uint32_t>(0xffffffffu); put<uint16_t>(0);
    return b;
  }
};

std::vector<uint8_t> write_pth(const StateDict& sd, const PthOptions& o) {
  Pickle pk;
  pk.op(0x80); pk.op(2);
  if (o.ordered_dict) {
    pk.global("collections", "OrderedDict");
    pk.op(')');
    pk.op('R');
  } else {
    pk.op('}');
  }
  pk.op('(');
  ZipW z;
  std::vector<std::pair<std::string, std::vector<uint8_t>>> storages;
  int key = 0;
  for (const auto& kv : sd) {
    const Tensor& t = kv.second;
    std::vector<int64_t> stride(t.shape.size(), 1);
    for (size_t k = t.shape.size(); k-- > 1;) stride[k - 1] = stride[k] * t.shape[k];
    std::vector<float> storage = t.v;
    int64_t offset = 0;
    if (kv.first == o.transposed_key && t.shape.size() == 2) {
      // Storage: 5 junk elements, then the matrix transposed; the tensor is a strided view of it.
      const int64_t r = t.shape[0], c = t.shape[1];
      storage.assign(5, 99.f);
      for (int64_t j = 0; j < c; ++j)
        for (int64_t i = 0; i < r; ++i) storage.push_back(t.v[static_cast<size_t>(i * c + j)]);
      offset = 5;
      stride = {1, r};
    }
    const std::string sk = std::to_string(key++);
    pk.str(kv.first);
    pk.global("torch._utils", "_rebuild_tensor_v2");
    pk.op('(');
    pk.op('(');
    pk.str("storage");
    pk.global("torch", o.storage);
    pk.str(sk);
    pk.str("cpu");
    pk.integer(static_cast<int64_t>(storage.size()));
    pk.op('t');
    pk.op('Q');
    pk.integer(offset);
    pk.ints(t.shape);
    pk.ints(stride);
    pk.op(0x89);
    pk.global("collections", "OrderedDict");
    pk.op(')');
    pk.op('R');
    pk.op('t');
    pk.op('R');
    storages.emplace_back(sk, encode_as(storage, o.storage));
  }
  pk.op('u');
  if (o.ordered_dict) {  // BUILD with a state carrying _metadata, as torch's state_dict pickles
    pk.op('}');
    pk.str("_metadata");
    pk.op('N');
    pk.op('s');
    pk.op('b');
  }
  pk.op('.');
  const std::string a = o.archive + "/";
  z.add(a + "data.pkl", pk.b, o.compressed_entry == "data.pkl" ? 8 : 0);
  z.add(a + "byteorder", {'l', 'i', 't', 't', 'l', 'e'}, 0);
  for (const auto& s : storages) z.add(a + "data/" + s.first, s.second, o.compressed_entry == s.first ? 8 : 0);
  z.add(a + "version", {'3', '\n'}, 0);
  return z.finish(o.zip64_extra);
}

// ------------------------------------------------- safetensors writer

std::vector<uint8_t> write_safetensors(const std::map<std::string, Tensor>& ts, const std::string& dtype) {
  std::string h = "{";
  std::vector<uint8_t> data;
  for (const auto& kv : ts) {
    const std::vector<uint8_t> bytes = encode_as(kv.second.v, dtype == "F32" ? "FloatStorage" : dtype == "F16" ? "HalfStorage" : "BFloat16Storage");
    std::string shape;
    for (size_t k = 0; k < kv.second.shape.size(); ++k) shape += (k ? "," : "") + std::to_string(kv.second.shape[k]);
    if (h.size() > 1) h += ",";
    h += "\"" + kv.first + "\":{\"dtype\":\"" + dtype + "\",\"shape\":[" + shape + "],\"data_offsets\":[" +
         std::to_string(data.size()) + "," + std::to_string(data.size() + bytes.size()) + "]}";
    data.insert(data.end(), bytes.begin(), bytes.end());
  }
  h += ",\"__metadata__\":{\"format\":\"pt\"}}";
  while (h.size() % 8) h += ' ';
  std::vector<uint8_t> out(8 + h.size() + data.size());
  const uint64_t n = h.size();
  std::memcpy(out.data(), &n, 8);
  std::memcpy(out.data() + 8, h.data(), h.size());
  if (!data.empty()) std::memcpy(out.data() + 8 + h.size(), data.data(), data.size());
  return out;
}

Tensor transposed(const Tensor& t) {
  const int64_t r = t.shape[0], c = t.shape[1];
  Tensor o{{c, r}, std::vector<float>(t.v.size())};
  for (int64_t i = 0; i < r; ++i)
    for (int64_t j = 0; j < c; ++j) o.v[static_cast<size_t>(j * r + i)] = t.v[static_cast<size_t>(i * c + j)];
  return o;
}

// Official names → fla-hub names (LoRA matrices transposed, biases from X0).
std::map<std::string, Tensor> to_fla(const StateDict& sd, const Dims& d, bool stacked_mix, bool drop_head, bool drop_ln_bias) {
  std::map<std::string, Tensor> f;
  auto flat = [](Tensor t) { t.shape = {static_cast<int64_t>(t.v.size())}; return t; };
  f["model.embeddings.weight"] = sd.at("emb.weight");
  f["model.norm.weight"] = sd.at("ln_out.weight");
  if (!drop_ln_bias) f["model.norm.bias"] = sd.at("ln_out.bias");
  if (!drop_head) f["lm_head.weight"] = sd.at("head.weight");
  f["model.layers.0.pre_norm.weight"] = sd.at("blocks.0.ln0.weight");
  if (!drop_ln_bias) f["model.layers.0.pre_norm.bias"] = sd.at("blocks.0.ln0.bias");
  for (int64_t i = 0; i < d.L; ++i) {
    const std::string b = "blocks." + std::to_string(i) + ".";
    const std::string m = "model.layers." + std::to_string(i) + ".";
    f[m + "attn_norm.weight"] = sd.at(b + "ln1.weight");
    f[m + "ffn_norm.weight"] = sd.at(b + "ln2.weight");
    if (!drop_ln_bias) {
      f[m + "attn_norm.bias"] = sd.at(b + "ln1.bias");
      f[m + "ffn_norm.bias"] = sd.at(b + "ln2.bias");
    }
    if (stacked_mix) {
      Tensor x{{6, d.C}, {}};
      for (const char* n : {"x_r", "x_w", "x_k", "x_v", "x_a", "x_g"}) {
        const Tensor& t = sd.at(b + "att." + n);
        x.v.insert(x.v.end(), t.v.begin(), t.v.end());
      }
      f[m + "attn.x_x"] = x;
    } else {
      for (const char* n : {"x_r", "x_w", "x_k", "x_v", "x_a", "x_g"}) f[m + "attn." + n] = sd.at(b + "att." + n);
    }
    for (const char* l : {"w", "a", "v", "g"}) {
      if (std::string(l) == "v" && i == 0) continue;  // fla has no v_lora in layer 0
      f[m + "attn." + l + "_lora.lora.0.weight"] = transposed(sd.at(b + "att." + l + "1"));
      f[m + "attn." + l + "_lora.lora.2.weight"] = transposed(sd.at(b + "att." + l + "2"));
      if (std::string(l) != "g") f[m + "attn." + l + "_lora.lora.2.bias"] = flat(sd.at(b + "att." + l + "0"));
    }
    f[m + "attn.k_k"] = flat(sd.at(b + "att.k_k"));
    f[m + "attn.k_a"] = flat(sd.at(b + "att.k_a"));
    f[m + "attn.r_k"] = sd.at(b + "att.r_k");
    f[m + "attn.r_proj.weight"] = sd.at(b + "att.receptance.weight");
    f[m + "attn.k_proj.weight"] = sd.at(b + "att.key.weight");
    f[m + "attn.v_proj.weight"] = sd.at(b + "att.value.weight");
    f[m + "attn.o_proj.weight"] = sd.at(b + "att.output.weight");
    f[m + "attn.g_norm.weight"] = sd.at(b + "att.ln_x.weight");
    f[m + "attn.g_norm.bias"] = sd.at(b + "att.ln_x.bias");
    f[m + "ffn.x_k"] = flat(sd.at(b + "ffn.x_k"));
    f[m + "ffn.key.weight"] = sd.at(b + "ffn.key.weight");
    f[m + "ffn.value.weight"] = sd.at(b + "ffn.value.weight");
  }
  return f;
}

// A World vocabulary: the 256 single bytes, "\n\n" at 261 like the real one, a few words.
std::string tiny_vocab_path() {
  const std::string p = scratch("convert-vocab.txt");
  std::ofstream f(p, std::ios::binary);
  for (int b = 0; b < 256; ++b) {
    char lit[16];
    std::snprintf(lit, sizeof lit, "b'\\x%02x'", b);
    f << (b + 1) << " " << lit << " 1\n";
  }
  f << "257 'ab' 2\n258 'abc' 3\n259 '\\u4f60' 3\n260 \"it's\" 4\n261 '\\n\\n' 2\n";
  return p;
}

std::string convert_to(const std::string& in, const std::string& out_name, DType type, ConvertOptions o = ConvertOptions()) {
  o.matrix_type = type;
  if (o.vocab_path.empty()) o.vocab_path = tiny_vocab_path();
  const std::string out = scratch(out_name);
  convert_model(in, out, o);
  CHECK(!exists(out + ".tmp"));
  return out;
}

std::vector<float> f32(const TensorView& t) { return tensor_to_f32(t); }

// GGUF orientation of an official LoRA matrix [in, out]: rows = out, cols = in.
std::vector<float> lora_gguf(const Tensor& t) { return transposed(t).v; }

void check_matches_state_dict(const Model& m, const StateDict& sd, const Dims& d, const std::string& p = "") {
  const int64_t C = d.C;
  CHECK(m.hp.n_embd == C && m.hp.n_layer == d.L && m.hp.n_ffn == d.F && m.hp.n_vocab == d.V);
  CHECK(m.hp.lora_w == d.Dw && m.hp.lora_a == d.Da && m.hp.lora_v == d.Dv && m.hp.lora_g == d.Dg);
  CHECK(f32(m.emb) == sd.at(p + "emb.weight").v);
  CHECK(f32(m.head) == sd.at(p + "head.weight").v);
  CHECK(m.ln0_w == sd.at(p + "blocks.0.ln0.weight").v);
  CHECK(m.ln0_b == sd.at(p + "blocks.0.ln0.bias").v);
  CHECK(m.lnout_w == sd.at(p + "ln_out.weight").v);
  CHECK(m.lnout_b == sd.at(p + "ln_out.bias").v);
  for (int64_t i = 0; i < d.L; ++i) {
    const Rwkv7Layer& L = m.layers[static_cast<size_t>(i)];
    const std::string b = p + "blocks." + std::to_string(i) + ".";
    auto v = [&](const std::string& k) { return sd.at(b + k).v; };
    CHECK(L.ln1_w == v("ln1.weight") && L.ln1_b == v("ln1.bias") && L.ln2_w == v("ln2.weight") && L.ln2_b == v("ln2.bias"));
    CHECK(L.x_r == v("att.x_r") && L.x_w == v("att.x_w") && L.x_k == v("att.x_k"));
    CHECK(L.x_v == v("att.x_v") && L.x_a == v("att.x_a") && L.x_g == v("att.x_g"));
    CHECK(L.w0 == v("att.w0") && L.a0 == v("att.a0"));
    CHECK(L.k_k == v("att.k_k") && L.k_a == v("att.k_a") && L.r_k == v("att.r_k"));
    CHECK(L.lnx_w == v("att.ln_x.weight") && L.lnx_b == v("att.ln_x.bias"));
    CHECK(L.ffn_x_k == v("ffn.x_k"));
    CHECK(f32(L.w1) == lora_gguf(sd.at(b + "att.w1")) && f32(L.w2) == lora_gguf(sd.at(b + "att.w2")));
    CHECK(f32(L.a1) == lora_gguf(sd.at(b + "att.a1")) && f32(L.a2) == lora_gguf(sd.at(b + "att.a2")));
    CHECK(f32(L.g1) == lora_gguf(sd.at(b + "att.g1")) && f32(L.g2) == lora_gguf(sd.at(b + "att.g2")));
    if (i > 0) {
      CHECK(L.v0 == v("att.v0"));
      CHECK(f32(L.v1) == lora_gguf(sd.at(b + "att.v1")) && f32(L.v2) == lora_gguf(sd.at(b + "att.v2")));
    } else {  // layer 0: llama.cpp's copy of a0/a1/a2
      CHECK(L.v0 == v("att.a0") && f32(L.v1) == f32(L.a1) && f32(L.v2) == f32(L.a2));
    }
    CHECK(f32(L.wr) == v("att.receptance.weight") && f32(L.wk) == v("att.key.weight"));
    CHECK(f32(L.wv) == v("att.value.weight") && f32(L.wo) == v("att.output.weight"));
    CHECK(f32(L.ffn_key) == v("ffn.key.weight") && f32(L.ffn_value) == v("ffn.value.weight"));
    CHECK(L.w1.type == DType::F32 && L.w2.type == DType::F32);
    CHECK(L.wr.ne[0] == C && L.ffn_key.ne[0] == C && L.ffn_key.ne[1] == d.F);
  }
}

// Every tensor of two GGUF models equal (same names, types, shapes, bytes).
void check_same_gguf(const std::string& a, const std::string& b) {
  auto ga = GgufReader::open(a, true), gb = GgufReader::open(b, true);
  REQUIRE(ga->tensors().size() == gb->tensors().size());
  for (const TensorView& t : ga->tensors()) {
    const TensorView* u = gb->find(t.name);
    CHECK_MSG(u != nullptr, "%s missing from %s", t.name.c_str(), b.c_str());
    if (!u) continue;
    CHECK_MSG(u->type == t.type && u->nbytes == t.nbytes && std::memcmp(u->data, t.data, t.nbytes) == 0 &&
                  std::memcmp(u->ne, t.ne, sizeof t.ne) == 0,
              "%s differs between %s and %s", t.name.c_str(), a.c_str(), b.c_str());
  }
}

const Dims kDims;

std::string write_tiny_pth(const std::string& name, const StateDict& sd, const PthOptions& o = PthOptions()) {
  const std::string p = scratch(name);
  put_file(p, write_pth(sd, o));
  return p;
}

}  // namespace

TEST(pth_round_trip_every_storage_type) {
  const StateDict sd = make_model(kDims, 1);
  for (const char* st : {"BFloat16Storage", "HalfStorage", "FloatStorage"}) {
    PthOptions o;
    o.storage = st;
    const std::string in = write_tiny_pth("tiny.pth", sd, o);
    const std::string out = convert_to(in, "tiny.gguf", DType::F32);
    auto m = load_model(out, true);
    CHECK(m->hp.arch == Arch::Rwkv7 && m->name == "rwkvx-test-" + std::to_string(getpid()) + "-tiny");  // default name: the input's stem
    check_matches_state_dict(*m, sd, kDims);
    std::remove(in.c_str());
    std::remove(out.c_str());
  }
}

TEST(pth_variants_ordered_dict_zip64_strided_view) {
  const StateDict sd = make_model(kDims, 2);
  PthOptions o;
  o.ordered_dict = true;
  o.zip64_extra = true;
  o.archive = "archive";
  o.transposed_key = "blocks.1.att.key.weight";
  const std::string in = write_tiny_pth("variant.pth", sd, o);
  // The reader sees the strided view as the logical matrix.
  const Source src = read_torch_pth(in);
  const SrcTensor& t = src.tensors.at("blocks.1.att.key.weight");
  CHECK(t.offset == 5 && t.stride.size() == 2 && t.stride[0] == 1 && t.stride[1] == 64);
  CHECK(t.to_f32() == sd.at("blocks.1.att.key.weight").v);
  const std::string out = convert_to(in, "variant.gguf", DType::F32);
  check_matches_state_dict(*load_model(out, true), sd, kDims);
  std::remove(in.c_str());
  std::remove(out.c_str());
}

TEST(pth_without_layer0_v_and_metadata) {
  Dims d = kDims;
  d.layer0_v = false;
  d.L = 3;
  const StateDict sd = make_model(d, 3);
  const std::string in = write_tiny_pth("nov.pth", sd);
  ConvertOptions o;
  o.name = "My Model";
  const std::string out = convert_to(in, "nov.gguf", DType::F16, o);
  auto m = load_model(out, true);
  CHECK(m->name == "My Model" && m->hp.n_layer == 3);
  const GgufReader& g = *m->file;
  CHECK(g.get_str("general.architecture") == "rwkv7");
  CHECK(g.get_int("rwkv7.block_count", 0) == 3);
  CHECK(g.get_int("rwkv7.embedding_length", 0) == 64);
  CHECK(g.get_int("rwkv7.feed_forward_length", 0) == 96);
  CHECK(g.get_int("rwkv7.wkv.head_size", 0) == 64);
  CHECK(g.get_int("rwkv7.context_length", 0) == 1048576);
  CHECK(g.get_int("rwkv7.attention.decay_lora_rank", 0) == 32);
  CHECK(g.get_int("rwkv7.attention.iclr_lora_rank", 0) == 32);
  CHECK(g.get_int("rwkv7.attention.value_residual_mix_lora_rank", 0) == 16);
  CHECK(g.get_int("rwkv7.attention.gate_lora_rank", 0) == 48);
  CHECK(g.get_int("rwkv7.attention.head_count", -1) == 0);
  CHECK(std::fabs(g.get_float("rwkv7.attention.layer_norm_epsilon", 0) - 1e-5) < 1e-12);
  CHECK(g.get_int("general.file_type", -1) == 1);
  CHECK(g.get_str("tokenizer.ggml.model") == "rwkv");
  CHECK(g.get_int("tokenizer.ggml.bos_token_id", -1) == 0 && g.get_int("tokenizer.ggml.eos_token_id", -1) == 0);
  CHECK(g.get_int("tokenizer.ggml.eot_token_id", -1) == 261);
  const GgufValue* toks = g.get("tokenizer.ggml.tokens");
  REQUIRE(toks && toks->arr_str.size() == 300);
  CHECK(toks->arr_str[0] == "<s>" && toks->arr_str[1] == "\\x00" && toks->arr_str[98] == "a");
  CHECK(toks->arr_str[259] == "\\xe4\\xbd\\xa0" && toks->arr_str[260] == "it's" && toks->arr_str[261] == "\\n\\n");
  CHECK(toks->arr_str[262] == "[PAD262]" && toks->arr_str[299] == "[PAD299]");
  const GgufValue* types = g.get("tokenizer.ggml.token_type");
  REQUIRE(types && types->arr_i.size() == 300);
  CHECK(types->arr_i[0] == 3 && types->arr_i[1] == 1 && types->arr_i[299] == 5);
  // Types: matrices F16, the small ones F32.
  CHECK(m->layers[1].wr.type == DType::F16 && m->emb.type == DType::F16 && m->layers[1].a1.type == DType::F16);
  CHECK(m->layers[1].w1.type == DType::F32 && g.find("blk.1.time_mix_lerp_fused.weight")->type == DType::F32);
  CHECK(g.find("blk.1.time_mix_lerp_fused.weight")->ne[3] == 6);
  CHECK(g.find("blk.1.time_mix_k_k.weight")->type == DType::F32 && g.find("blk.1.time_mix_k_k.weight")->n_dims == 1);
  // Values survive (k/64 values are exact in F16).
  CHECK(f32(m->layers[2].v1) == lora_gguf(sd.at("blocks.2.att.v1")));
  CHECK(m->layers[0].v0 == sd.at("blocks.0.att.a0").v);  // layer 0 v = copy of a
  // The vocabulary travels: the model tokenizes like the World file.
  const std::string text = "abc\n\nit's";
  CHECK((m->tokenizer.encode(text.data(), text.size()) == std::vector<int32_t>{258, 261, 260}));
  std::remove(in.c_str());
  std::remove(out.c_str());
}

TEST(rwkvx_pth_with_prefix_and_moba_blocks) {
  Dims d = kDims;
  d.L = 4;
  d.NA = 2;
  d.layer0_v = false;
  const StateDict sd = make_model(d, 4, "rwkv.");
  const std::string in = write_tiny_pth("x.pth", sd);
  ConvertOptions o;
  o.attn_chunk_size = 16;
  const std::string out = convert_to(in, "x.gguf", DType::F32, o);
  auto m = load_model(out, true);
  CHECK(m->hp.arch == Arch::RwkvX && m->hp.n_attn == 2 && m->hp.attn_chunk == 16 && m->hp.attn_top_k == 3);
  CHECK((m->hp.attn_after == std::vector<int>{1, 3}));
  const GgufValue* after = m->file->get("rwkvx.attention.after_block");
  CHECK(after && after->elem_type == GgufType::I32 && (after->arr_i == std::vector<int64_t>{1, 3}));
  check_matches_state_dict(*m, sd, d, "rwkv.");
  for (int j = 0; j < 2; ++j) {
    const AttnLayer& A = m->attn[static_cast<size_t>(j)];
    const std::string b = "moba." + std::to_string(j) + ".";
    CHECK(A.ln1_w == sd.at(b + "ln1.weight").v && A.ln2_b == sd.at(b + "ln2.bias").v);
    CHECK(f32(A.wq) == sd.at(b + "att.receptance.weight").v && f32(A.wk) == sd.at(b + "att.key.weight").v);
    CHECK(f32(A.wv) == sd.at(b + "att.value.weight").v && f32(A.wo) == sd.at(b + "att.output.weight").v);
    CHECK(A.ffn_x_k == sd.at(b + "ffn.x_k").v);
    CHECK(f32(A.ffn_key) == sd.at(b + "ffn.key.weight").v && A.ffn_key.ne[1] == 128);
  }
  // A placement override; then one that does not fit.
  o.attn_after = {0, 2};
  const std::string out2 = convert_to(in, "x2.gguf", DType::F32, o);
  CHECK((load_model(out2, true)->hp.attn_after == std::vector<int>{0, 2}));
  o.attn_after = {0, 9};
  std::string msg;
  CHECK(status_of([&] { convert_to(in, "x3.gguf", DType::F32, o); }, &msg) == RWKVX_ERR_INVALID_ARGUMENT);
  CHECK(!exists(scratch("x3.gguf")));
  for (const std::string& p : {in, out, out2}) std::remove(p.c_str());
}

TEST(fla_safetensors_file_and_folder) {
  const StateDict sd = make_model(kDims, 5);
  const std::string pth = write_tiny_pth("ref.pth", sd);
  const std::string ref = convert_to(pth, "ref.gguf", DType::F32);
  // File with the six mixes; folder with stacked x_x, tied head, no LayerNorm biases.
  const std::string st = scratch("fla.safetensors");
  put_file(st, write_safetensors(to_fla(sd, kDims, false, false, false), "BF16"));
  const std::string a = convert_to(st, "fla-a.gguf", DType::F32);
  check_same_gguf(ref, a);
  const std::string dir = scratch("fla-dir");
  mkdir(dir.c_str(), 0755);
  put_file(dir + "/model.safetensors", write_safetensors(to_fla(sd, kDims, true, true, true), "F32"));
  { std::ofstream cfg(dir + "/config.json"); cfg << "{\"norm_eps\": 2e-05, \"head_dim\": 64, \"hidden_size\": 64}"; }
  const std::string b = convert_to(dir, "fla-b.gguf", DType::F32);
  auto m = load_model(b, true);
  CHECK(f32(m->head) == sd.at("emb.weight").v);  // tied
  CHECK(m->ln0_b == std::vector<float>(64, 0.f) && m->layers[1].ln2_b == std::vector<float>(64, 0.f));
  CHECK(m->layers[1].x_g == sd.at("blocks.1.att.x_g").v && m->layers[1].x_r == sd.at("blocks.1.att.x_r").v);
  CHECK(f32(m->layers[1].w1) == lora_gguf(sd.at("blocks.1.att.w1")));
  CHECK(std::fabs(m->hp.ln_eps - 2e-5f) < 1e-10f);
  for (const std::string& p : {pth, ref, st, a, b, dir + "/model.safetensors", dir + "/config.json"}) std::remove(p.c_str());
  rmdir(dir.c_str());
}

TEST(fixtures_convert_to_the_same_model) {
  const std::string dir = testing::fixture("models/");
  if (!testing::file_exists(dir + "rwkv7-tiny-bf16.pth") || !testing::file_exists(dir + "tiny-vocab.txt")) {
    std::printf("  skipped: fixtures not found\n");
    return;
  }
  ConvertOptions o;
  o.vocab_path = dir + "tiny-vocab.txt";
  const std::string bf16 = convert_to(dir + "rwkv7-tiny-bf16.pth", "fx-bf16.gguf", DType::F32, o);
  const std::string fp16 = convert_to(dir + "rwkv7-tiny-fp16.pth", "fx-fp16.gguf", DType::F32, o);
  const std::string fp32 = convert_to(dir + "rwkv7-tiny-fp32.pth", "fx-fp32.gguf", DType::F32, o);
  const std::string fla = convert_to(dir + "rwkv7-tiny-fla", "fx-fla.gguf", DType::F32, o);
  const std::string fla_file = convert_to(dir + "rwkv7-tiny-fla/model.safetensors", "fx-fla-file.gguf", DType::F32, o);
  check_same_gguf(bf16, fp16);
  check_same_gguf(bf16, fp32);
  check_same_gguf(bf16, fla);
  check_same_gguf(bf16, fla_file);
  auto m = load_model(bf16, true);
  CHECK(m->hp.n_embd == 128 && m->hp.n_layer == 2 && m->hp.n_ffn == 512 && m->hp.n_vocab == 704 && m->hp.n_head == 2);
  CHECK(m->hp.lora_w == 32 && m->hp.lora_a == 32 && m->hp.lora_v == 16 && m->hp.lora_g == 64);
  // The model's tokenizer is the vocabulary file's.
  Tokenizer ref;
  ref.build_from_world_file(o.vocab_path);
  for (int id = 0; id < ref.n_vocab(); ++id) CHECK(m->tokenizer.bytes(id) == ref.bytes(id));
  for (int id = ref.n_vocab(); id < m->tokenizer.n_vocab(); ++id) CHECK(m->tokenizer.bytes(id).empty());

  if (testing::file_exists(dir + "rwkvx-tiny-bf16.pth")) {
    ConvertOptions ox = o;
    ox.attn_chunk_size = 16;
    ox.attn_top_k = 3;
    const std::string x = convert_to(dir + "rwkvx-tiny-bf16.pth", "fx-x.gguf", DType::F32, ox);
    auto mx = load_model(x, true);
    CHECK(mx->hp.arch == Arch::RwkvX && mx->hp.n_layer == 4 && mx->hp.n_attn == 2 && mx->hp.n_ffn == 256);
    CHECK((mx->hp.attn_after == std::vector<int>{1, 3}) && mx->hp.attn_chunk == 16 && mx->hp.attn_top_k == 3);
    std::remove(x.c_str());
  }
  for (const std::string& p : {bf16, fp16, fp32, fla, fla_file}) std::remove(p.c_str());
}

TEST(q8_0_within_error_bound_and_gguf_retype) {
  const StateDict sd = make_model(kDims, 6);
  const std::string in = write_tiny_pth("q.pth", sd);
  const std::string f32p = convert_to(in, "q-f32.gguf", DType::F32);
  const std::string q8p = convert_to(in, "q-q8.gguf", DType::Q8_0);
  auto ref = GgufReader::open(f32p, true);
  auto q8 = GgufReader::open(q8p, true);
  CHECK(q8->get_int("general.file_type", -1) == 7);
  int quantized = 0, f16_fallback = 0;
  for (const TensorView& t : ref->tensors()) {
    const TensorView* u = q8->find(t.name);
    REQUIRE(u != nullptr);
    const std::vector<float> a = tensor_to_f32(t), b = tensor_to_f32(*u);
    if (u->type == DType::Q8_0) {
      ++quantized;
      // Per 32-block: error at most half a quantization step (amax/127/2) plus the fp16 rounding of the scale.
      for (size_t blk = 0; blk < a.size() / 32; ++blk) {
        float amax = 0;
        for (int j = 0; j < 32; ++j) amax = std::fmax(amax, std::fabs(a[blk * 32 + j]));
        const float d = amax / 127.f;
        for (int j = 0; j < 32; ++j) {
          const float err = std::fabs(a[blk * 32 + j] - b[blk * 32 + j]);
          CHECK_MSG(err <= 0.5f * d + amax * 1e-3f + 1e-7f, "%s: error %g above bound for amax %g", t.name.c_str(), err, amax);
        }
      }
    } else if (u->type == DType::F16) {
      ++f16_fallback;
      CHECK(t.ne[0] % 32 != 0);  // only rows that cannot form Q8_0 blocks
      CHECK(a == b);
    } else {
      CHECK(u->type == DType::F32 && a == b);
    }
  }
  CHECK(quantized > 0);
  CHECK(f16_fallback > 0);  // the v2 LoRA (rank 16) has 16-element rows
  // Re-type the Q8_0 GGUF to F16 and the F32 one to BF16; F32→F32 copies exactly.
  ConvertOptions o;
  o.name = "retyped";
  const std::string q8_to_f16 = convert_to(q8p, "q-f16.gguf", DType::F16, o);
  auto r = load_model(q8_to_f16, true);
  CHECK(r->name == "retyped" && r->layers[1].wr.type == DType::F16 && r->file->get_int("general.file_type", -1) == 1);
  const std::vector<float> wr16 = f32(r->layers[1].wr), wr8 = f32(load_model(q8p, true)->layers[1].wr);
  CHECK(testing::rel_err(wr16.data(), wr8.data(), wr8.size()) < 1e-3);  // F16 rounding of the Q8_0 values
  CHECK(r->file->get_str("tokenizer.ggml.model") == "rwkv" && r->file->get("tokenizer.ggml.tokens")->arr_str.size() == 300);
  const std::string same = convert_to(f32p, "q-same.gguf", DType::F32);
  check_same_gguf(f32p, same);
  const std::string bf = convert_to(f32p, "q-bf16.gguf", DType::BF16);
  auto mb = load_model(bf, true);
  CHECK(mb->layers[0].wk.type == DType::BF16 && mb->layers[0].w1.type == DType::F32);
  CHECK(f32(mb->layers[0].wk) == sd.at("blocks.0.att.key.weight").v);
  for (const std::string& p : {in, f32p, q8p, q8_to_f16, same, bf}) std::remove(p.c_str());
}

TEST(abort_leaves_nothing_behind) {
  const StateDict sd = make_model(kDims, 7);
  const std::string in = write_tiny_pth("abort.pth", sd);
  const std::string out = scratch("abort.gguf");
  std::remove(out.c_str());
  struct Count { uint64_t calls = 0, last_done = 0, total = 0; } c;
  ConvertOptions o;
  o.vocab_path = tiny_vocab_path();
  o.progress = [](uint64_t done, uint64_t total, void* u) {
    auto* c = static_cast<Count*>(u);
    ++c->calls;
    c->last_done = done;
    c->total = total;
    return done >= 10 ? 1 : 0;
  };
  o.progress_user_data = &c;
  std::string msg;
  CHECK(status_of([&] { convert_model(in, out, o); }, &msg) == RWKVX_ERR_ABORTED);
  CHECK(has(msg, "aborted"));
  CHECK(!exists(out) && !exists(out + ".tmp"));
  CHECK(c.last_done == 10 && c.total > 10);
  // Without abort the progress reaches total.
  o.progress = [](uint64_t done, uint64_t total, void* u) {
    static_cast<Count*>(u)->last_done = done;
    static_cast<Count*>(u)->total = total;
    return 0;
  };
  convert_model(in, out, o);
  CHECK(c.last_done == c.total && c.total == load_model(out, true)->file->tensors().size());
  // Aborting a re-type keeps the existing output intact.
  o.progress = [](uint64_t done, uint64_t, void*) { return done >= 3 ? 1 : 0; };
  const std::string out2 = scratch("abort2.gguf");
  CHECK(status_of([&] { convert_model(out, out2, o); }) == RWKVX_ERR_ABORTED);
  CHECK(!exists(out2) && !exists(out2 + ".tmp"));
  for (const std::string& p : {in, out}) std::remove(p.c_str());
}

TEST(clear_errors) {
  const StateDict sd = make_model(kDims, 8);
  std::remove(scratch("err.gguf").c_str());
  std::string msg;
  auto conv = [&](const std::string& in, ConvertOptions o = ConvertOptions()) {
    return status_of([&] { convert_to(in, "err.gguf", DType::F16, o); }, &msg);
  };
  {  // missing tensor
    StateDict s = sd;
    s.erase("blocks.1.att.g2");
    CHECK(conv(write_tiny_pth("e1.pth", s)) == RWKVX_ERR_SHAPE);
    CHECK(has(msg, "blocks.1.att.g2"));
  }
  {  // mis-shaped matrix, mis-sized vector
    StateDict s = sd;
    s["blocks.1.att.w1"] = transposed(s["blocks.1.att.w1"]);
    CHECK(conv(write_tiny_pth("e2.pth", s)) == RWKVX_ERR_SHAPE);
    CHECK(has(msg, "blocks.1.att.w1") && has(msg, "[64, 32]") && has(msg, "[32, 64]"));
    StateDict t = sd;
    t["blocks.0.att.k_a"].shape = {1, 1, 63};
    t["blocks.0.att.k_a"].v.resize(63);
    CHECK(conv(write_tiny_pth("e3.pth", t)) == RWKVX_ERR_SHAPE);
    CHECK(has(msg, "blocks.0.att.k_a") && has(msg, "64 elements"));
  }
  {  // no vocabulary; a vocabulary larger than the embedding
    ConvertOptions o;
    o.vocab_path = "";
    CHECK(status_of([&] { convert_model(write_tiny_pth("e4.pth", sd), scratch("err.gguf"), o); }, &msg) == RWKVX_ERR_INVALID_ARGUMENT);
    CHECK(has(msg, "vocabulary"));
    const std::string big = scratch("big-vocab.txt");
    {
      std::ofstream f(big);
      for (int i = 1; i <= 400; ++i) f << i << " 'w" << i << "' " << (1 + std::to_string(i).size()) << "\n";
    }
    o.vocab_path = big;
    CHECK(conv(write_tiny_pth("e5.pth", sd), o) == RWKVX_ERR_SHAPE);
    CHECK(has(msg, "300"));
  }
  {  // compressed entry, truncated archive, legacy torch file, not a checkpoint
    PthOptions po;
    po.compressed_entry = "3";
    CHECK(conv(write_tiny_pth("e6.pth", sd, po)) == RWKVX_ERR_UNSUPPORTED);
    CHECK(has(msg, "compressed") && has(msg, "data/3"));
    std::vector<uint8_t> b = write_pth(sd, PthOptions());
    b.resize(b.size() / 2);
    put_file(scratch("e7.pth"), b);
    CHECK(conv(scratch("e7.pth")) == RWKVX_ERR_FORMAT);
    put_file(scratch("e8.pth"), {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc});
    CHECK(conv(scratch("e8.pth")) == RWKVX_ERR_UNSUPPORTED);
    CHECK(has(msg, "legacy"));
    put_file(scratch("e9.bin"), {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'});
    CHECK(conv(scratch("e9.bin")) == RWKVX_ERR_FORMAT);
    CHECK(conv("/nonexistent/model.pth") == RWKVX_ERR_IO);
  }
  {  // safetensors with a broken header
    std::vector<uint8_t> b = write_safetensors(to_fla(sd, kDims, false, false, false), "BF16");
    b[9] = '!';  // {!"model... is not JSON
    put_file(scratch("e10.safetensors"), b);
    CHECK(conv(scratch("e10.safetensors")) == RWKVX_ERR_FORMAT);
  }
  CHECK(!exists(scratch("err.gguf")) && !exists(scratch("err.gguf.tmp")));
  for (int i = 1; i <= 10; ++i) {
    std::remove(scratch("e" + std::to_string(i) + ".pth").c_str());
  }
  for (const char* f : {"e9.bin", "e10.safetensors", "big-vocab.txt", "convert-vocab.txt"}) std::remove(scratch(f).c_str());
}

TEST(corrupted_pth_never_crashes) {
  const StateDict sd = make_model(kDims, 9);
  const std::vector<uint8_t> good = write_pth(sd, PthOptions());
  // The interesting bytes: the pickle (at the first data offset) and the zip directory at the end.
  const std::vector<ZipEntry> ents = zip_list(good.data(), good.size(), "good");
  const size_t pkl_at = static_cast<size_t>(ents[0].data_offset), pkl_len = static_cast<size_t>(ents[0].size);
  const size_t cd_at = static_cast<size_t>(ents.back().data_offset + ents.back().size);
  std::mt19937 rng(21);
  const std::string p = scratch("corrupt.pth");
  int ok = 0, err = 0;
  for (int iter = 0; iter < 1500; ++iter) {
    std::vector<uint8_t> b = good;
    const int n = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < n; ++k) {
      size_t at;
      switch (rng() % 3) {
        case 0: at = pkl_at + rng() % pkl_len; break;
        case 1: at = cd_at + rng() % (b.size() - cd_at); break;
        default: at = rng() % b.size(); break;
      }
      b[at] = (rng() & 1) ? static_cast<uint8_t>(rng()) : static_cast<uint8_t>(b[at] ^ (1u << (rng() % 8)));
    }
    if (rng() % 8 == 0) b.resize(rng() % b.size());
    put_file(p, b);
    try {
      const Source s = read_torch_pth(p);
      for (const auto& kv : s.tensors) (void)kv.second.to_f32();
      ++ok;
    } catch (const Error&) {
      ++err;
    }
  }
  std::printf("  corrupted .pth: %d read, %d rejected\n", ok, err);
  CHECK(err > 0);
  std::remove(p.c_str());
}

TEST_MAIN
