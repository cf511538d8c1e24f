// Whole models on the GPU against the CPU backend (and the numpy goldens):
// the tiny fixtures in every weight type, random models of the official
// shapes, chunked prefill == token by token, snapshot → restore → continue,
// save/load, fork, out-of-memory that leaves the session usable, device
// selection through the C ABI. Skips (exit 77) without a GPU.
#include <cstdlib>
#include <cstring>
#include <memory>

#include "error.h"
#include "model_fixtures.h"
#include "random_model.h"
#include "rwkvx.h"
#include "test_cuda_common.h"

#if RWKVX_CUDA
using namespace rwkvx;
using namespace cudatest;
using fixtures::Loaded;

namespace {

// A model loaded once, run on the CPU (rt) and on the GPU (gpu_rt).
struct Both {
  Loaded cpu;
  std::unique_ptr<Runtime> gpu_rt;
  explicit Both(const std::string& path) : cpu(path, &kernels(), 8) {
    gpu_rt = std::make_unique<Runtime>(1);
    gpu_rt->kernels = &kernels();
    std::string summary;
    gpu_rt->backend = cuda::make_backend(*cpu.model, 0, &summary);
    std::printf("  %s: %s\n", path.c_str(), summary.c_str());
  }
  std::unique_ptr<Session> gpu(int chunk = 0, rwkvx_kv_type kv = RWKVX_KV_F32) {
    rwkvx_session_params p = rwkvx_session_default_params();
    p.prefill_chunk = chunk;
    p.kv_type = kv;
    return std::make_unique<Session>(*cpu.model, *gpu_rt, p);
  }
  int vocab() const { return cpu.vocab(); }
};

double err(const std::vector<float>& got, const std::vector<float>& want) {
  if (got.size() != want.size()) return INFINITY;
  return testing::rel_err(got.data(), want.data(), got.size());
}

// Share of rows whose argmax agrees.
double argmax_agree(const std::vector<float>& a, const std::vector<float>& b, int V) {
  const size_t rows = a.size() / static_cast<size_t>(V);
  size_t same = 0;
  for (size_t r = 0; r < rows; ++r) {
    const float* x = a.data() + r * V;
    const float* y = b.data() + r * V;
    same += std::max_element(x, x + V) - x == std::max_element(y, y + V) - y;
  }
  return rows ? static_cast<double>(same) / rows : 1.0;
}

std::vector<int32_t> tokens_for(const Model& m) {
  return fixtures::fixture_tokens(m.hp.n_attn ? "rwkvx-tiny.json" : "rwkv7-tiny.json");
}

}  // namespace

TEST(tiny_models_match_cpu_every_type) {
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::Q8_0}) {
    for (const char* src : {"rwkv7-tiny-bf16.pth", "rwkvx-tiny-bf16.pth"}) {
      const bool x = std::strstr(src, "rwkvx") != nullptr;
      const std::string path = fixtures::convert(src, std::string("gpu-") + (x ? "x-" : "7-") + dtype_name(t) + ".gguf", t,
                                                 x ? 16 : 0, x ? 3 : 0);
      Both m(path);
      const auto toks = tokens_for(*m.cpu.model);
      for (rwkvx_kv_type kv : {RWKVX_KV_F32, RWKVX_KV_F16}) {
        if (!x && kv == RWKVX_KV_F16) continue;
        auto c = m.cpu.session(0, kv);
        const auto want = fixtures::all_logits(*c, toks, m.vocab());
        // whole prompt in one chunk: GEMM + chunked WKV
        auto g = m.gpu(0, kv);
        const auto got = fixtures::all_logits(*g, toks, m.vocab());
        const double e = err(got, want);
        std::printf("  %s %s kv %d prefill: error %.3g\n", src, dtype_name(t), kv, e);
        CHECK_MSG(e < (t == DType::BF16 ? 3e-2 : 1e-2), "%s %s prefill: error %g", src, dtype_name(t), e);
        // token by token: GEMV (fp32 math) + sequential WKV + decode graph
        auto d = m.gpu(1, kv);
        const auto got1 = fixtures::all_logits(*d, toks, m.vocab());
        const double e1 = err(got1, want);
        std::printf("  %s %s kv %d decode: error %.3g\n", src, dtype_name(t), kv, e1);
        CHECK_MSG(e1 < (kv == RWKVX_KV_F16 ? 5e-3 : 1e-4), "%s %s decode: error %g", src, dtype_name(t), e1);
        const std::vector<float> sg = d->state(), sc = c->state();
        CHECK_MSG(err(sg, sc) < 1e-3, "%s %s state", src, dtype_name(t));
      }
    }
  }
}

TEST(tiny_models_match_numpy_golden) {
  for (const std::string& path : {fixtures::rwkv7_f32(), fixtures::rwkvx_f32()}) {
    Both m(path);
    const bool x = m.cpu.model->hp.n_attn > 0;
    const auto ref = testing::read_npy(testing::fixture(x ? "models/rwkvx-tiny-logits.npy" : "models/rwkv7-tiny-logits.npy"));
    auto d = m.gpu(1);
    const auto got = fixtures::all_logits(*d, tokens_for(*m.cpu.model), m.vocab());
    const double e = testing::rel_err(got.data(), ref.data.data(), got.size());
    CHECK_MSG(e < 1e-4, "%s token by token vs numpy: %g", path.c_str(), e);
  }
}

TEST(chunked_prefill_equals_token_by_token_on_gpu) {
  for (const std::string& path : {fixtures::rwkv7_f32(), fixtures::rwkvx_f32()}) {
    Both m(path);
    const auto toks = tokens_for(*m.cpu.model);
    auto serial = m.gpu(1), chunked = m.gpu(64), mixed = m.gpu(7);
    const auto a = fixtures::all_logits(*serial, toks, m.vocab());
    const auto b = fixtures::all_logits(*chunked, toks, m.vocab());
    const auto c = fixtures::all_logits(*mixed, toks, m.vocab());
    CHECK_MSG(err(b, a) < 1e-2, "chunk 64: %g", err(b, a));
    CHECK_MSG(err(c, a) < 1e-4, "chunk 7 (GEMV): %g", err(c, a));
    CHECK(err(chunked->state(), serial->state()) < 1e-2);
    CHECK(err(mixed->state(), serial->state()) < 1e-4);
  }
}

TEST(snapshot_restore_save_load_fork_on_gpu) {
  for (const std::string& path : {fixtures::rwkv7_f32(), fixtures::rwkvx_f32()}) {
    for (rwkvx_kv_type kv : {RWKVX_KV_F32, RWKVX_KV_F16}) {
      Both m(path);
      const auto toks = tokens_for(*m.cpu.model);
      const int64_t V = m.vocab(), n = static_cast<int64_t>(toks.size()), cut = 37;
      auto straight = m.gpu(1, kv);
      const auto want = fixtures::all_logits(*straight, toks, static_cast<int>(V));

      auto s = m.gpu(1, kv);
      s->feed(toks.data(), cut, nullptr, false, nullptr, nullptr);
      const std::vector<float> snap = s->state();
      const uint64_t hash = s->prefix_hash(cut);
      std::vector<int32_t> other(toks.rbegin(), toks.rend());
      s->feed(other.data(), 20, nullptr, false, nullptr, nullptr);
      s->restore(snap, cut, hash);
      std::vector<float> rest(static_cast<size_t>((n - cut) * V));
      s->feed(toks.data() + cut, n - cut, rest.data(), true, nullptr, nullptr);
      CHECK(testing::rel_err(rest.data(), want.data() + cut * V, rest.size()) < 1e-5);

      auto t = m.gpu(1, kv);
      t->feed(toks.data(), cut, nullptr, false, nullptr, nullptr);
      const std::vector<uint8_t> blob = t->save();
      auto u = m.gpu(1, kv);
      u->load(blob.data(), blob.size());
      std::vector<float> rest2(rest.size());
      u->feed(toks.data() + cut, n - cut, rest2.data(), true, nullptr, nullptr);
      CHECK(testing::rel_err(rest2.data(), want.data() + cut * V, rest2.size()) < 1e-5);
      // the blob is the CPU's format: it loads into a CPU session too
      auto cpu_s = m.cpu.session(1, kv);
      cpu_s->load(blob.data(), blob.size());
      std::vector<float> rest_cpu(rest.size());
      cpu_s->feed(toks.data() + cut, n - cut, rest_cpu.data(), true, nullptr, nullptr);
      CHECK(testing::rel_err(rest_cpu.data(), want.data() + cut * V, rest_cpu.size()) < 1e-3);

      auto base = m.gpu(1, kv);
      base->feed(toks.data(), cut, nullptr, false, nullptr, nullptr);
      auto f = base->fork();
      f->feed(other.data(), 25, nullptr, false, nullptr, nullptr);  // writes into shared KV pages
      std::vector<float> rest3(rest.size());
      base->feed(toks.data() + cut, n - cut, rest3.data(), true, nullptr, nullptr);
      CHECK(testing::rel_err(rest3.data(), want.data() + cut * V, rest3.size()) < 1e-5);
    }
  }
}

namespace {

void random_shape_vs_cpu(const std::string& shape, DType type, int attn_chunk, int n_tokens) {
  RandomModelShape s;
  REQUIRE(random_model_shape(shape, s));
  s.matrix_type = type;
  if (attn_chunk) s.attn_chunk = attn_chunk;
  const std::string path = fixtures::scratch_dir() + "/random-" + shape + "-" + dtype_name(type) + ".gguf";
  if (!testing::file_exists(path)) write_random_model(path, s);
  Both m(path);
  std::vector<int32_t> toks(static_cast<size_t>(n_tokens));
  for (auto& t : toks) t = static_cast<int32_t>(1 + rng()() % 255);
  auto c = m.cpu.session(0, RWKVX_KV_F32);
  const auto want = fixtures::all_logits(*c, toks, m.vocab());
  auto g = m.gpu(0, RWKVX_KV_F32);
  const auto got = fixtures::all_logits(*g, toks, m.vocab());
  const double e = err(got, want), agree = argmax_agree(got, want, m.vocab());
  std::printf("  %s %s %d tokens: prefill error %.3g, argmax agreement %.3f\n", shape.c_str(), dtype_name(type),
              n_tokens, e, agree);
  CHECK_MSG(e < 5e-2 && agree > 0.9, "%s %s: error %g agreement %g", shape.c_str(), dtype_name(type), e, agree);
  // then a few decode steps on both
  std::vector<float> lc(static_cast<size_t>(m.vocab())), lg(lc.size());
  for (int i = 0; i < 4; ++i) {
    const int32_t tok = 1 + i;
    c->feed(&tok, 1, lc.data(), false, nullptr, nullptr);
    g->feed(&tok, 1, lg.data(), false, nullptr, nullptr);
  }
  CHECK_MSG(err(lg, lc) < 5e-2, "%s decode after prefill: %g", shape.c_str(), err(lg, lc));
}

}  // namespace

TEST(random_official_shapes_match_cpu) {
  random_shape_vs_cpu("0.1b", DType::F16, 0, 96);
  random_shape_vs_cpu("0.1b", DType::Q8_0, 0, 96);
  // attention chunks of 32 so 200 tokens exercise the sparse choice (top-k 3 of 6 chunks)
  random_shape_vs_cpu("x0.22b", DType::F16, 32, 200);
}

TEST(out_of_memory_fails_cleanly_and_session_stays_usable) {
  Both m(fixtures::rwkvx_f32());
  const auto toks = tokens_for(*m.cpu.model);
  auto ref = m.gpu(0);
  ref->feed(toks.data(), 10, nullptr, false, nullptr, nullptr);
  std::vector<int32_t> many(3000);
  for (size_t i = 0; i < many.size(); ++i) many[i] = toks[i % toks.size()];
  std::vector<float> want(static_cast<size_t>(m.vocab()));
  ref->feed(many.data(), static_cast<int64_t>(many.size()), want.data(), false, nullptr, nullptr);

  auto s = m.gpu(0);
  s->feed(toks.data(), 10, nullptr, false, nullptr, nullptr);
  // take (nearly) all free device memory
  std::vector<void*> hog;
  for (size_t step : {size_t(1) << 30, size_t(64) << 20, size_t(1) << 20}) {
    for (;;) {
      try {
        hog.push_back(cuda::dev_alloc(step, "test hog"));
      } catch (const Error&) {
        break;
      }
    }
  }
  bool oom = false;
  try {
    s->feed(many.data(), static_cast<int64_t>(many.size()), nullptr, false, nullptr, nullptr);
  } catch (const Error& e) {
    oom = e.code() == RWKVX_ERR_OUT_OF_MEMORY;
    std::printf("  expected error: %s\n", e.what());
  }
  for (void* p : hog) cuda::dev_free(p);
  CHECK(oom);
  CHECK(s->n_past() == 10);
  std::vector<float> got(want.size());
  s->feed(many.data(), static_cast<int64_t>(many.size()), got.data(), false, nullptr, nullptr);
  CHECK_MSG(err(got, want) < 1e-5, "after the failure: %g", err(got, want));
}

TEST(c_abi_picks_the_gpu_and_reports_it) {
  rwkvx_model* m = nullptr;
  rwkvx_model_params p = rwkvx_model_default_params();
  REQUIRE(rwkvx_model_load(fixtures::rwkvx_f32().c_str(), &p, &m) == RWKVX_OK);
  rwkvx_model_info info;
  REQUIRE(rwkvx_model_get_info(m, &info) == RWKVX_OK);
  std::printf("  device: %s\n  note: %s\n", info.device, info.device_note);
  CHECK(std::strstr(info.device, "(cuda:0)") != nullptr);
  CHECK(std::strstr(info.device_note, "weights") != nullptr);
  rwkvx_session* s = nullptr;
  REQUIRE(rwkvx_session_new(m, nullptr, &s) == RWKVX_OK);
  const auto toks = fixtures::fixture_tokens("rwkvx-tiny.json");
  std::vector<float> logits(static_cast<size_t>(info.n_vocab));
  CHECK(rwkvx_session_prefill(s, toks.data(), toks.size(), logits.data(), nullptr, nullptr) == RWKVX_OK);
  CHECK(std::isfinite(logits[0]));
  rwkvx_session_free(s);
  rwkvx_model_free(m);
  p.device = RWKVX_DEVICE_CUDA;
  p.device_index = 99;
  CHECK(rwkvx_model_load(fixtures::rwkvx_f32().c_str(), &p, &m) == RWKVX_ERR_DEVICE);
  std::printf("  cuda:99: %s\n", rwkvx_last_error());
}
#endif

CUDA_TEST_MAIN
