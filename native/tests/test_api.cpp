// The C ABI as a front end sees it: status codes and messages for bad input,
// decode == prefill, generation with stop strings, sampling, snapshots through
// bytes, abort from another thread, streaming detokenization.
#include <atomic>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "model_fixtures.h"
#include "rwkvx.h"

namespace {

rwkvx_model* load_ok(const std::string& path) {
  // The CPU path with its tight tolerances; the GPU's API use is test_cuda_model.
  rwkvx_model_params p = rwkvx_model_default_params();
  p.device = RWKVX_DEVICE_CPU;
  p.n_threads = 2;
  rwkvx_model* m = nullptr;
  if (rwkvx_model_load(path.c_str(), &p, &m) != RWKVX_OK) {
    std::fprintf(stderr, "load failed: %s\n", rwkvx_last_error());
    return nullptr;
  }
  return m;
}

std::vector<int32_t> tok(rwkvx_model* m, const std::string& s) {
  size_t n = 0;
  rwkvx_tokenize(m, s.data(), s.size(), nullptr, 0, &n);
  std::vector<int32_t> out(n);
  rwkvx_tokenize(m, s.data(), s.size(), out.data(), n, &n);
  return out;
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f << bytes;
}

}  // namespace

TEST(load_errors_name_the_problem) {
  rwkvx_model* m = nullptr;
  CHECK(rwkvx_model_load("/nonexistent/model.gguf", nullptr, &m) == RWKVX_ERR_IO);
  CHECK(m == nullptr);
  CHECK(std::strstr(rwkvx_last_error(), "/nonexistent/model.gguf") != nullptr);
  const std::string junk = fixtures::scratch_dir() + "/junk.gguf";
  write_bytes(junk, "this is not a model file at all, just text");
  CHECK(rwkvx_model_load(junk.c_str(), nullptr, &m) == RWKVX_ERR_FORMAT);
  CHECK(std::strlen(rwkvx_last_error()) > 0);
  // truncated real model
  std::ifstream f(fixtures::rwkv7_f32(), std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const std::string cut = fixtures::scratch_dir() + "/cut.gguf";
  write_bytes(cut, all.substr(0, all.size() * 2 / 3));
  CHECK(rwkvx_model_load(cut.c_str(), nullptr, &m) == RWKVX_ERR_FORMAT);
  CHECK(rwkvx_model_load(nullptr, nullptr, &m) == RWKVX_ERR_INVALID_ARGUMENT);
  rwkvx_model_params p = rwkvx_model_default_params();
  p.device = RWKVX_DEVICE_CUDA;
  const rwkvx_status st = rwkvx_model_load(fixtures::rwkv7_f32().c_str(), &p, &m);
  CHECK(st == RWKVX_ERR_UNSUPPORTED || st == RWKVX_ERR_DEVICE || st == RWKVX_OK);
  if (st == RWKVX_OK) rwkvx_model_free(m);
}

TEST(model_info_and_decode_equals_prefill) {
  rwkvx_model* m = load_ok(fixtures::rwkvx_f32());
  REQUIRE(m);
  rwkvx_model_info info;
  REQUIRE(rwkvx_model_get_info(m, &info) == RWKVX_OK);
  CHECK(std::string(info.architecture) == "rwkvx");
  CHECK(info.n_attn_layer == 2 && info.attn_chunk_size == 16 && info.n_embd == 128);
  CHECK(info.kv_bytes_per_token == 2u * 128 * 2 * 4);
  const auto toks = fixtures::fixture_tokens("rwkvx-tiny.json");
  // fp32 KV: with the default fp16 cache, 1e-7 differences between the two
  // paths can flip an fp16 rounding of a key and show up at 1e-5 in logits.
  rwkvx_session_params sp = rwkvx_session_default_params();
  sp.kv_type = RWKVX_KV_F32;
  rwkvx_session *a = nullptr, *b = nullptr;
  REQUIRE(rwkvx_session_new(m, &sp, &a) == RWKVX_OK);
  REQUIRE(rwkvx_session_new(m, &sp, &b) == RWKVX_OK);
  std::vector<float> la(static_cast<size_t>(info.n_vocab)), lb(la.size());
  CHECK(rwkvx_session_prefill(a, toks.data(), 40, la.data(), nullptr, nullptr) == RWKVX_OK);
  for (int i = 0; i < 40; ++i) CHECK(rwkvx_session_decode(b, toks[static_cast<size_t>(i)], lb.data()) == RWKVX_OK);
  CHECK_MSG(testing::rel_err(la.data(), lb.data(), la.size()) < 1e-5, "err %g", testing::rel_err(la.data(), lb.data(), la.size()));
  CHECK(rwkvx_session_n_past(a) == 40);
  int32_t badtok = info.n_vocab;
  CHECK(rwkvx_session_decode(a, badtok, la.data()) == RWKVX_ERR_INVALID_ARGUMENT);
  CHECK(rwkvx_session_n_past(a) == 40);
  rwkvx_session_free(a);
  rwkvx_session_free(b);
  rwkvx_model_free(m);
}

TEST(snapshot_bytes_round_trip_and_checks) {
  rwkvx_model* m = load_ok(fixtures::rwkvx_f32());
  REQUIRE(m);
  const auto toks = fixtures::fixture_tokens("rwkvx-tiny.json");
  rwkvx_session* s = nullptr;
  REQUIRE(rwkvx_session_new(m, nullptr, &s) == RWKVX_OK);
  rwkvx_session_prefill(s, toks.data(), 50, nullptr, nullptr, nullptr);
  rwkvx_snapshot* snap = nullptr;
  REQUIRE(rwkvx_snapshot_take(s, &snap) == RWKVX_OK);
  size_t size = 0;
  REQUIRE(rwkvx_snapshot_serialize(snap, nullptr, 0, &size) == RWKVX_OK);
  std::vector<uint8_t> bytes(size);
  REQUIRE(rwkvx_snapshot_serialize(snap, bytes.data(), bytes.size(), &size) == RWKVX_OK);
  std::vector<float> want(704), got(704);
  rwkvx_session_prefill(s, toks.data() + 50, 30, want.data(), nullptr, nullptr);
  rwkvx_snapshot* back = nullptr;
  REQUIRE(rwkvx_snapshot_deserialize(m, bytes.data(), bytes.size(), &back) == RWKVX_OK);
  CHECK(rwkvx_snapshot_n_past(back) == 50);
  REQUIRE(rwkvx_snapshot_restore(s, back) == RWKVX_OK);
  CHECK(rwkvx_session_n_past(s) == 50);
  rwkvx_session_prefill(s, toks.data() + 50, 30, got.data(), nullptr, nullptr);
  CHECK(testing::rel_err(got.data(), want.data(), got.size()) < 1e-6);
  bytes[bytes.size() / 2] ^= 1;
  rwkvx_snapshot* bad = nullptr;
  CHECK(rwkvx_snapshot_deserialize(m, bytes.data(), bytes.size(), &bad) == RWKVX_ERR_FORMAT);
  CHECK(bad == nullptr);
  rwkvx_model* other = load_ok(fixtures::rwkv7_f32());
  REQUIRE(other);
  bytes[bytes.size() / 2] ^= 1;
  CHECK(rwkvx_snapshot_deserialize(other, bytes.data(), bytes.size(), &bad) == RWKVX_ERR_STATE_MISMATCH);
  rwkvx_snapshot_free(snap);
  rwkvx_snapshot_free(back);
  rwkvx_session_free(s);
  rwkvx_model_free(other);
  rwkvx_model_free(m);
}

namespace {
struct Collected {
  std::string text;
  int calls = 0;
};
int collect(const char* t, size_t n, int32_t, void* u) {
  auto* c = static_cast<Collected*>(u);
  c->text.append(t, n);
  ++c->calls;
  return 0;
}
}  // namespace

TEST(generation_is_seeded_and_honours_stop_strings) {
  rwkvx_model* m = load_ok(fixtures::rwkv7_f32());
  REQUIRE(m);
  const auto prompt = tok(m, "def update(self, key, value):\n");
  auto run = [&](uint64_t seed, const char* stop, int max_tokens, rwkvx_stop_reason* why) {
    rwkvx_session* s = nullptr;
    rwkvx_session_new(m, nullptr, &s);
    rwkvx_session_prefill(s, prompt.data(), prompt.size(), nullptr, nullptr, nullptr);
    rwkvx_sampler_params sp = rwkvx_sampler_default_params();
    sp.seed = seed;
    rwkvx_sampler* smp = nullptr;
    rwkvx_sampler_new(m, &sp, &smp);
    rwkvx_generate_params gp = rwkvx_generate_default_params();
    gp.max_tokens = max_tokens;
    const char* stops[] = {stop};
    if (stop) { gp.stop_strings = stops; gp.n_stop_strings = 1; }
    Collected c;
    int n = 0;
    const rwkvx_status st = rwkvx_generate(s, smp, &gp, collect, &c, &n, why);
    CHECK(st == RWKVX_OK);
    rwkvx_sampler_free(smp);
    rwkvx_session_free(s);
    return c.text;
  };
  rwkvx_stop_reason why;
  const std::string a = run(7, nullptr, 40, &why), b = run(7, nullptr, 40, &why);
  CHECK(a == b);
  CHECK(!a.empty());
  CHECK(run(8, nullptr, 40, &why) != a || a.size() < 4);
  // Stop at a piece of the text we know comes: its first two characters.
  const std::string stop = a.substr(a.size() / 2, 2);
  const std::string c = run(7, stop.c_str(), 40, &why);
  CHECK(why == RWKVX_STOP_STRING);
  CHECK(c == a.substr(0, a.find(stop)));
  rwkvx_model_free(m);
}

TEST(sampler_greedy_top_k_and_penalties) {
  rwkvx_model* m = load_ok(fixtures::rwkv7_f32());
  REQUIRE(m);
  std::vector<float> logits(704, 0.f);
  logits[5] = 3.f;
  logits[9] = 2.9f;
  rwkvx_sampler_params p = rwkvx_sampler_default_params();
  p.temperature = 0.f;
  rwkvx_sampler* s = nullptr;
  REQUIRE(rwkvx_sampler_new(m, &p, &s) == RWKVX_OK);
  int32_t t = -1;
  rwkvx_sampler_sample(s, logits.data(), &t);
  CHECK(t == 5);
  rwkvx_sampler_accept(s, 5);  // penalized now
  p.repetition_penalty = 2.f;
  rwkvx_sampler_free(s);
  rwkvx_sampler_new(m, &p, &s);
  rwkvx_sampler_accept(s, 5);
  rwkvx_sampler_sample(s, logits.data(), &t);
  CHECK(t == 9);
  rwkvx_sampler_free(s);
  p = rwkvx_sampler_default_params();
  p.top_k = 1;
  p.temperature = 5.f;
  rwkvx_sampler_new(m, &p, &s);
  for (int i = 0; i < 20; ++i) {
    rwkvx_sampler_sample(s, logits.data(), &t);
    CHECK(t == 5);
  }
  rwkvx_sampler_free(s);
  p = rwkvx_sampler_default_params();
  p.top_p = 0.f;
  CHECK(rwkvx_sampler_new(m, &p, &s) == RWKVX_ERR_INVALID_ARGUMENT);
  rwkvx_model_free(m);
}

TEST(abort_from_another_thread_keeps_session_consistent) {
  rwkvx_model* m = load_ok(fixtures::rwkvx_f32());
  REQUIRE(m);
  rwkvx_session_params sp = rwkvx_session_default_params();
  sp.prefill_chunk = 4;
  rwkvx_session* s = nullptr;
  REQUIRE(rwkvx_session_new(m, &sp, &s) == RWKVX_OK);
  std::vector<int32_t> many(4000, 33);
  std::atomic<bool> started{false};
  auto progress = [](uint64_t, uint64_t, void* u) -> int {
    static_cast<std::atomic<bool>*>(u)->store(true);
    return 0;
  };
  std::thread killer([&] {
    while (!started.load()) std::this_thread::yield();
    rwkvx_session_abort(s);
  });
  const rwkvx_status st = rwkvx_session_prefill(s, many.data(), many.size(), nullptr, progress, &started);
  killer.join();
  CHECK(st == RWKVX_ERR_ABORTED);
  const int64_t n = rwkvx_session_n_past(s);
  CHECK(n > 0 && n < 4000 && n % 4 == 0);
  // still usable, and consistent with a session fed the same n tokens
  std::vector<float> a(704), b(704);
  CHECK(rwkvx_session_decode(s, 40, a.data()) == RWKVX_OK);
  rwkvx_session* t = nullptr;
  rwkvx_session_new(m, &sp, &t);
  rwkvx_session_prefill(t, many.data(), static_cast<size_t>(n), nullptr, nullptr, nullptr);
  rwkvx_session_decode(t, 40, b.data());
  CHECK(testing::rel_err(a.data(), b.data(), a.size()) < 1e-5);
  rwkvx_session_free(t);
  rwkvx_session_free(s);
  rwkvx_model_free(m);
}

TEST(detokenizer_never_splits_utf8) {
  rwkvx_model* m = load_ok(fixtures::rwkv7_f32());
  REQUIRE(m);
  const std::string text = "héllo 你好 😀 done";
  rwkvx_detok* d = nullptr;
  REQUIRE(rwkvx_detok_new(m, &d) == RWKVX_OK);
  std::string out;
  // Feed byte tokens one by one (id = byte + 1): every piece must be valid UTF-8.
  for (unsigned char c : text) {
    const char* p;
    size_t n;
    REQUIRE(rwkvx_detok_push(d, static_cast<int32_t>(c) + 1, &p, &n) == RWKVX_OK);
    std::string piece(p, n);
    for (size_t i = 0; i < piece.size();) {  // a whole sequence each time
      const unsigned char b = static_cast<unsigned char>(piece[i]);
      const size_t len = b < 0x80 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
      CHECK(i + len <= piece.size());
      i += len;
    }
    out += piece;
  }
  const char* p;
  size_t n;
  rwkvx_detok_flush(d, &p, &n);
  out.append(p, n);
  CHECK(out == text);
  // a dangling lead byte becomes U+FFFD at flush
  rwkvx_detok_push(d, 0xe4 + 1, &p, &n);
  CHECK(n == 0);
  rwkvx_detok_flush(d, &p, &n);
  CHECK(std::string(p, n) == "\xef\xbf\xbd");
  rwkvx_detok_free(d);
  rwkvx_model_free(m);
}

TEST_MAIN
