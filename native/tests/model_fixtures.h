// Tiny fixture models (test/fixtures/models, made by tools/reference) converted
// to GGUF with the project's converter into a scratch folder, and helpers to
// run them through the internal session API.
#pragma once
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "convert.h"
#include "model.h"
#include "session.h"
#include "testing.h"

namespace fixtures {

// Per process: another test binary converting the same fixture must never
// rewrite a file this one has mapped.
inline std::string scratch_dir() {
  static const std::string d = testing::scratch("models-" + std::to_string(getpid()));
  mkdir(d.c_str(), 0755);
  return d;
}

// Converts test/fixtures/models/<src> to <scratch>/<out> (once per process).
inline std::string convert(const std::string& src, const std::string& out, rwkvx::DType type, int chunk = 0, int topk = 0) {
  const std::string path = scratch_dir() + "/" + out;
  rwkvx::ConvertOptions o;
  o.matrix_type = type;
  o.vocab_path = testing::fixture("models/tiny-vocab.txt");
  if (chunk) o.attn_chunk_size = chunk;
  if (topk) o.attn_top_k = topk;
  rwkvx::convert_model(testing::fixture("models/" + src), path, o);
  return path;
}

inline std::string rwkv7_f32() { static std::string p = convert("rwkv7-tiny-bf16.pth", "rwkv7-tiny-f32.gguf", rwkvx::DType::F32); return p; }
inline std::string rwkvx_f32() { static std::string p = convert("rwkvx-tiny-bf16.pth", "rwkvx-tiny-f32.gguf", rwkvx::DType::F32, 16, 3); return p; }

struct Loaded {
  std::unique_ptr<rwkvx::Model> model;
  std::unique_ptr<rwkvx::Runtime> rt;
  Loaded(const std::string& path, const rwkvx::KernelSet* k = &rwkvx::kernels(), int threads = 2)
      : model(rwkvx::load_model(path, true)), rt(std::make_unique<rwkvx::Runtime>(threads)) {
    rt->kernels = k;
  }
  std::unique_ptr<rwkvx::Session> session(int chunk = 0, rwkvx_kv_type kv = RWKVX_KV_F32) {
    rwkvx_session_params p = rwkvx_session_default_params();
    p.prefill_chunk = chunk;
    p.kv_type = kv;
    return std::make_unique<rwkvx::Session>(*model, *rt, p);
  }
  int vocab() const { return model->hp.n_vocab; }
};

inline std::vector<int32_t> fixture_tokens(const std::string& json) {
  // The sidecar's "tokens": [ ... ] list.
  std::ifstream f(testing::fixture("models/" + json));
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<int32_t> out;
  size_t at = s.find("\"tokens\"");
  if (at == std::string::npos) return out;
  at = s.find('[', at);
  const size_t end = s.find(']', at);
  std::string body = s.substr(at + 1, end - at - 1);
  for (size_t i = 0; i < body.size();) {
    while (i < body.size() && !(isdigit(static_cast<unsigned char>(body[i])) || body[i] == '-')) ++i;
    if (i >= body.size()) break;
    size_t j = i;
    while (j < body.size() && (isdigit(static_cast<unsigned char>(body[j])) || body[j] == '-')) ++j;
    out.push_back(static_cast<int32_t>(std::stol(body.substr(i, j - i))));
    i = j;
  }
  return out;
}

inline std::vector<float> all_logits(rwkvx::Session& s, const std::vector<int32_t>& toks, int V) {
  std::vector<float> out(toks.size() * static_cast<size_t>(V));
  s.feed(toks.data(), static_cast<int64_t>(toks.size()), out.data(), true, nullptr, nullptr);
  return out;
}

}  // namespace fixtures
